"""samples/: every sample is read by the shipped model as samples/expected.json says.

The single-expression samples must be read exactly: a shipped model that misreads the README's own samples
is a failure. The worksheet page (10 lines) must come out as 10 lines in reading order, and at least 8 of them
read exactly: the shipped recognizer reads 8 of its 10 lines (two digits misread, see issue 8's notes), and this
floor holds that level against regressions; raise it as the recognizer improves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hdr_expr.pipeline.assemble import assemble

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
MAGIC = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff", ".pdf": b"%PDF"}


def test_sample_files_and_truths():
    assert 4 <= len(EXPECTED) <= 8
    assert any(name.endswith(".jpg") for name in EXPECTED) and any(name.endswith(".pdf") for name in EXPECTED)
    for name, entry in EXPECTED.items():
        path = SAMPLES / name
        data = path.read_bytes()
        assert data.startswith(MAGIC[path.suffix]), name
        assert len(data) <= 300_000, name
        assert entry["lines"], name
        for line in entry["lines"]:
            a = assemble(list(line["text"]))
            assert a.error is None and (a.value, a.answer, a.correct) == (line["value"], line["answer"],
                                                                          line["correct"]), (name, line)
    worksheet = [e for e in EXPECTED.values() if len(e["lines"]) > 1]
    assert len(worksheet) == 1 and len(worksheet[0]["lines"]) >= 8


#: What the reader gets right on the worksheet sample today (9 of 10: one line has a 6 read as 5); raise it as it improves.
WORKSHEET_MIN_EXACT = 9


def _read(name: str) -> tuple[list, list]:
    from hdr_expr.pipeline import recognize

    pages = recognize(SAMPLES / name)
    assert len(pages) == 1 and pages[0].error is None
    got = [(ln.text, ln.value, ln.answer, ln.correct) for ln in pages[0].lines]
    want = [(ln["text"], ln["value"], ln["answer"], ln["correct"]) for ln in EXPECTED[name]["lines"]]
    return got, want


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if len(e["lines"]) == 1))
def test_sample_is_read_as_expected(name):
    got, want = _read(name)
    assert got == want


def test_worksheet_lines_in_order_and_mostly_exact():
    (name,) = [n for n, e in EXPECTED.items() if len(e["lines"]) > 1]
    from hdr_expr.pipeline import recognize

    (page,) = recognize(SAMPLES / name)
    tops = [ln.box[1] for ln in page.lines]
    assert tops == sorted(tops)
    got, want = _read(name)
    assert len(got) == len(want)
    exact = sum(g == w for g, w in zip(got, want))
    assert exact >= WORKSHEET_MIN_EXACT, list(zip(got, want))
