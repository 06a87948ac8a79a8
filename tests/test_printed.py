"""The printed-worksheet generator (datasets/printed.py): seeded, truthful about what it draws."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_expr.datasets.printed import LAYOUTS, printed_sheet


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """Ten fake 28×28 'digits': a bright square per class, enough to draw with."""
    images = np.zeros((10, 28, 28), np.uint8)
    images[:, 6:22, 6:22] = 255
    return images, np.arange(10)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_sheet_is_seeded_and_its_truth_adds_up(layout: str) -> None:
    a = printed_sheet(np.random.default_rng(3), _digits(), layout=layout, lines=5)
    b = printed_sheet(np.random.default_rng(3), _digits(), layout=layout, lines=5)
    assert np.array_equal(a.image, b.image) and a.lines == b.lines
    assert a.image.shape == (160 + 125 * 5, 1100, 3)
    for number, line in enumerate(a.lines, 1):
        assert line.label == f"{number})"
        left, answer = line.text.split("=")
        x, op, y = (left.partition("+") if "+" in left else left.partition("×") if "×" in left
                    else left.partition("-"))
        value = {"+": int(x) + int(y), "-": int(x) - int(y), "×": int(x) * int(y)}[op]
        assert line.correct is (int(answer) == value)


def test_unnumbered_sheets_and_a_bad_layout() -> None:
    sheet = printed_sheet(np.random.default_rng(0), _digits(), numbered=False, lines=3)
    assert [line.label for line in sheet.lines] == [None, None, None]
    with pytest.raises(ValueError):
        printed_sheet(np.random.default_rng(0), _digits(), layout="table")
