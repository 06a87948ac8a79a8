"""Where the misread lines of saved benchmark sets go wrong: each misread line's edits against its truth.

A line that differs from its truth by one edit is counted under that edit (``/→1``: a ``/`` read as ``1``;
``.→``: a point lost; ``→1``: a ``1`` that is not there); a line with several edits is counted as such. The
commonest edits, with a few lines each, say what the next change should look at; ``--by`` splits the counts by a
truth field of the images (``style``, ``touching``, ``condition`` ...). Reads the records saved with the sets
(``hdr-expr bench ... --save DIR``, or ``bench/reread.py --rebase``): nothing is read again.

    .venv/bin/python bench/errors.py /tmp/head/ex19 /tmp/head/ws19 --top 20
    .venv/bin/python bench/errors.py /tmp/head/ex19 --by touching --json errors.json
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from reread import line_scores, not_a_set, saved_set


def edits(truth: str, read: str) -> list[tuple[str, str]]:
    """The edits that turn ``truth`` into ``read``: (what the truth has, what was read instead) per change."""
    sm = difflib.SequenceMatcher(None, truth, read, autojunk=False)
    return [(truth[i1:i2], read[j1:j2]) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]


def classify(sets: list[Path], by: str | None = None) -> dict:
    """Counts of misread lines per edit (and per value of the truth field ``by``) over saved sets, with the
    lines behind each: {"lines", "misread", "edits": {edit: n}, "by": {value: {edit: n}}, "examples": ...}."""
    counts: Counter[str] = Counter()
    split: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, list[dict]] = defaultdict(list)
    lines = misread = 0
    for folder in sets:
        truths, records = saved_set(folder)
        for t in truths:
            for text, read, exact in line_scores(t, records.get(t["file"], {"lines": []})):
                lines += 1
                if exact:
                    continue
                misread += 1
                found = edits(text, read or "")
                key = f"{found[0][0]}→{found[0][1]}" if len(found) == 1 else "several edits"
                counts[key] += 1
                if by is not None:
                    split[str(t.get(by))][key] += 1
                if len(examples[key]) < 5:
                    examples[key].append({"set": folder.name, "file": t["file"], "truth": text, "read": read})
    return {"lines": lines, "misread": misread, "edits": dict(counts.most_common()),
            "by": {k: dict(v.most_common()) for k, v in sorted(split.items())}, "examples": dict(examples)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path, help="folders saved by hdr-expr bench ... --save")
    ap.add_argument("--top", type=int, default=15, help="how many edits to list (default 15)")
    ap.add_argument("--by", metavar="FIELD", help="also count per value of this truth field (style, touching ...)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write the counts and examples as JSON")
    args = ap.parse_args(argv)
    bad = not_a_set(args.sets)
    if bad is not None:
        print(f"errors: {bad} is no saved benchmark set (truth.jsonl and records.jsonl)", file=sys.stderr)
        return 2
    res = classify(args.sets, args.by)
    print(f"{res['misread']} of {res['lines']} lines misread")
    for key, n in list(res["edits"].items())[: args.top]:
        shown = "; ".join(f"{e['truth']} → {e['read']}" for e in res["examples"][key][:2])
        print(f"{n:5d}  {key:<14} {shown}")
    for value, counts in res["by"].items():
        top = ", ".join(f"{k} {n}" for k, n in list(counts.items())[:5])
        print(f"{args.by}={value}: {sum(counts.values())} misread ({top})")
    if args.json:
        args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
