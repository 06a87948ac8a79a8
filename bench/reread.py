"""Read a saved benchmark set again with the code as it is now, and say which lines it reads differently.

A set saved by ``hdr-expr bench expressions --save DIR`` or ``hdr-expr bench worksheets --save DIR`` holds its
images, their truth and the records read when it was made. This reads every image again (a process pool, the
model loaded once per worker), scores both readings the way the benchmark does, and prints, per set, the lines
read exactly then and now and every line gained or lost: the measure of a change before it is committed.
``--set module.NAME=VALUE`` first sets a constant of ``hdr_expr.pipeline.<module>`` (a literal), to try a
value without editing the code. ``--rebase DIR`` writes each set again under DIR (its images and truth linked,
the records as read now): the baseline that later changes are compared with. ``--model DIR`` reads with
another symbol model (one ``hdr-expr train symbols`` wrote).

    .venv/bin/python bench/reread.py /tmp/ex13 /tmp/ws13 --workers 2
    .venv/bin/python bench/reread.py /tmp/ex13 --set recognize.SCRAP_HEIGHT=0.6 --json out.json
    .venv/bin/python bench/reread.py /tmp/ex13 --rebase /tmp/head   # then compare with /tmp/head/ex13
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import multiprocessing
import sys
from pathlib import Path
from types import SimpleNamespace

from hdr_expr.cli.commands_bench import _init_worker, _read_file
from hdr_expr.datasets.expressions import Truth, match_worksheet_lines, score_line


def apply_setting(text: str) -> None:
    """``module.NAME=VALUE``: set NAME in ``hdr_expr.pipeline.<module>`` to the literal VALUE (it must exist)."""
    key, _, value = text.partition("=")
    module, _, name = key.rpartition(".")
    if not module or not name or not value:
        raise ValueError(f"--set wants module.NAME=VALUE, got {text!r}")
    target = importlib.import_module(f"hdr_expr.pipeline.{module}")
    if not hasattr(target, name):
        raise ValueError(f"hdr_expr.pipeline.{module} has no {name}")
    setattr(target, name, ast.literal_eval(value))


def _init(settings: list[str], model: str | None = None) -> None:
    """A worker of the benchmark's own (one recognizer, one thread), with the settings applied again: a
    spawned process starts from the code as written."""
    for s in settings:
        apply_setting(s)
    _init_worker(model)


def _truth(d: dict) -> Truth:
    return Truth(d["text"], d["value"], d.get("answer"), d.get("correct"))


def line_scores(truth: dict, record: dict) -> list[tuple[str, str, bool]]:
    """(truth, read, exact) per truth line of one saved image: one line for an expression image, each of a
    worksheet's (``lines`` in its truth) matched as the benchmark matches them."""
    if isinstance(truth.get("lines"), list):
        lines = [SimpleNamespace(truth=_truth(t), box=t["box"],
                                 centre_y=t.get("centre_y", t["box"][1] + t["box"][3] / 2.0)) for t in truth["lines"]]
        scores = match_worksheet_lines(SimpleNamespace(lines=lines, tags={"layout": truth.get("layout")}), record)
    else:
        scores = [score_line(_truth(truth), record.get("lines") or [])]
    return [(s.truth, s.read, s.exact) for s in scores]


def saved_set(folder: Path) -> tuple[list[dict], dict[str, dict]]:
    """A saved set's truths (one per image) and its saved records by image file name."""
    truths = [json.loads(x) for x in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    saved = [json.loads(x) for x in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    return truths, {Path(r.get("file", "")).name: r for r in saved}


def not_a_set(folders: list[Path]) -> Path | None:
    """The first of ``folders`` that is no saved benchmark set (no truth.jsonl and records.jsonl), or None."""
    return next((f for f in folders if not (f / "truth.jsonl").is_file() or not (f / "records.jsonl").is_file()),
                None)


def compare(folder: Path, now: dict[str, dict]) -> dict:
    """The set's lines scored on its saved records and on ``now`` (file name → record)."""
    truths, by_name = saved_set(folder)
    then_ok = now_ok = total = 0
    changed = []
    for t in truths:
        before = line_scores(t, by_name.get(t["file"], {"lines": []}))
        after = line_scores(t, now[t["file"]])
        for i, ((text, read0, ok0), (_, read1, ok1)) in enumerate(zip(before, after)):
            total += 1
            then_ok += ok0
            now_ok += ok1
            if ok0 != ok1:
                changed.append({"file": t["file"], "line": i, "truth": text, "then": read0, "now": read1,
                                "gained": ok1})
    return {"set": str(folder), "lines": total, "exact_then": then_ok, "exact_now": now_ok, "changed": changed}


def rebase(folder: Path, out: Path, records: list[dict]) -> None:
    """``out`` as a saved set: ``folder``'s images and truth linked, ``records`` as its readings."""
    out.mkdir(parents=True, exist_ok=True)
    for item in folder.iterdir():
        if item.name != "records.jsonl" and not (out / item.name).exists():
            (out / item.name).symlink_to(item.resolve())
    lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (out / "records.jsonl").write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path, help="folders saved by hdr-expr bench ... --save")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", dest="settings", action="append", default=[], metavar="module.NAME=VALUE")
    ap.add_argument("--json", type=Path, help="also write the comparison here")
    ap.add_argument("--model", help="the symbol model directory to read with (default: the shipped one)")
    ap.add_argument("--rebase", type=Path, metavar="DIR", help="write each set again under DIR, read as now")
    args = ap.parse_args(argv)
    try:
        for s in args.settings:
            apply_setting(s)
    except (ValueError, SyntaxError) as exc:
        print(f"reread: {exc}", file=sys.stderr)
        return 2
    bad = not_a_set(args.sets)
    if bad is not None:
        print(f"reread: {bad} is no saved benchmark set (truth.jsonl and records.jsonl)", file=sys.stderr)
        return 2
    results = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, args.workers), initializer=_init, initargs=(args.settings, args.model)) as pool:
        for folder in args.sets:
            names = [json.loads(x)["file"] for x in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
            records = pool.map(_read_file, [str(folder / n) for n in names], chunksize=4)
            res = compare(folder, dict(zip(names, records)))
            if args.rebase:
                rebase(folder, args.rebase / folder.name, records)
            results.append(res)
            print(f"{folder}: {res['exact_then']} -> {res['exact_now']} of {res['lines']} lines "
                  f"({res['exact_now'] - res['exact_then']:+d})")
            for c in res["changed"]:
                print(f"  {'+' if c['gained'] else '-'} {c['file']} line {c['line']}: {c['truth']}  "
                      f"read {c['then']!r} -> {c['now']!r}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
