"""Read printed worksheets filled in by hand (``hdr_expr.datasets.printed``): numbered sums, the answers
written just after the ``=``, on a ruled blank or in a box. Counts the lines read exactly (number, sum and
answer) and the verdicts given right; the sheet's printed title is no line of the truth.

    .venv/bin/python bench/printed_sheets.py                      # seeds 0-3, the three layouts, numbered
    .venv/bin/python bench/printed_sheets.py --seeds 4 --no-numbers --json out.json

MNIST *test* digits write the answers (``--data-dir``, default ``../shared/datasets/mnist``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hdr_expr.datasets.expressions import default_shared_dir
from hdr_expr.datasets.mnist import load_mnist
from hdr_expr.datasets.printed import LAYOUTS, printed_sheet
from hdr_expr.pipeline.recognize import Recognizer


def _key(line) -> tuple[str | None, str]:
    """(exercise number, text) of a line read (a reader from before numbers were read has no ``label``)."""
    return getattr(line, "label", None), line.text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4, help="sheets per layout (seeds 0..N-1)")
    ap.add_argument("--lines", type=int, default=10, help="sums per sheet")
    ap.add_argument("--no-numbers", action="store_true", help="sums without exercise numbers")
    ap.add_argument("--data-dir", type=Path, default=default_shared_dir() / "datasets" / "mnist")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    digits = load_mnist("test", args.data_dir)
    reader = Recognizer(threads=1, latex=False)
    figures: dict[str, dict] = {}
    for layout in LAYOUTS:
        exact = verdicts = total = extra = 0
        misread: list[str] = []
        for seed in range(args.seeds):
            sheet = printed_sheet(np.random.default_rng(seed), digits, layout=layout,
                                  numbered=not args.no_numbers, lines=args.lines)
            read = reader.read_image(sheet.image).lines
            got = [_key(line) for line in read]
            for want in sheet.lines:
                total += 1
                match = [line for line in read if _key(line) == (want.label, want.text)]
                exact += bool(match)
                verdicts += bool(match) and match[0].correct is want.correct
                if not match:
                    misread.append(f"seed {seed}: {want.label or ''} {want.text}")
            extra += max(0, len(got) - len(sheet.lines))  # the title, and anything else read as a line
        figures[layout] = {"lines": total, "exact": exact, "verdicts_right": verdicts, "extra_lines": extra,
                           "misread": misread}
        print(f"{layout:6s} {exact}/{total} lines read exactly, {verdicts}/{total} verdicts right, "
              f"{extra} extra lines (the printed titles among them)")
        for m in misread:
            print(f"         not read: {m}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
