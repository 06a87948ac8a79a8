"""Printed worksheets with handwritten answers: the sheet a teacher hands out, filled in.

Each line is a numbered sum printed in a plain font with spaces around its operator (``3)  34 - 17 =``); the
answer is written after it with MNIST digits, just after the ``=``, on a ruled blank or in a printed box; about
a third of the answers are wrong. A printed title heads the sheet (no truth line: it is no arithmetic). The
expression benchmark draws none of this; ``bench/printed_sheets.py`` reads such sheets.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Where the answer is written: just after the sum, on a blank ruled under it, or in a box.
LAYOUTS = ("plain", "blank", "box")
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class SheetLine:
    label: str | None  # the exercise number, as the reader should give it ("3)"), None if not numbered
    text: str  # the line as the reader should give it: the sum and the written answer ("34-17=17")
    correct: bool  # whether the written answer is right


@dataclass(frozen=True)
class PrintedSheet:
    image: np.ndarray  # RGB uint8
    lines: tuple[SheetLine, ...]


def _sum(rng: np.random.Generator) -> tuple[str, str, int]:
    a, b = int(rng.integers(2, 60)), int(rng.integers(2, 40))
    op = str(rng.choice(["+", "-", "x"]))
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return f"{a} {op} {b} =", f"{a}{'×' if op == 'x' else op}{b}=", value


def _write_answer(img: np.ndarray, answer: str, x: int, base: int, digits: tuple[np.ndarray, np.ndarray],
                  rng: np.random.Generator, size: int = 56, step: int = 40) -> None:
    images, labels = digits
    for ch in answer:
        if ch == "-":
            cv2.line(img, (x + 10, base - size // 2), (x + 35, base - size // 2), 0, 4)
        else:
            tile = cv2.resize(images[rng.choice(np.flatnonzero(labels == int(ch)))], (size, size))
            img[base - size : base, x : x + size] = np.minimum(img[base - size : base, x : x + size], 255 - tile)
        x += step


def printed_sheet(rng: np.random.Generator, digits: tuple[np.ndarray, np.ndarray], *, layout: str = "plain",
                  numbered: bool = True, lines: int = 10) -> PrintedSheet:
    """A filled-in printed sheet of ``lines`` sums; ``digits`` is MNIST (images N×28×28, labels N)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    img = np.full((160 + 125 * lines, 1100), 255, np.uint8)
    cv2.putText(img, "Worksheet: sums", (60, 70), FONT, 1.2, 0, 2, cv2.LINE_AA)
    truth = []
    for k in range(lines):
        printed, written, value = _sum(rng)
        answer = value if rng.random() < 0.7 else value + int(rng.choice([-2, -1, 1, 10]))
        label = f"{k + 1})" if numbered else None
        shown = f"{label}  {printed}" if label else printed
        base = 160 + 125 * k
        cv2.putText(img, shown, (60, base), FONT, 1.3, 0, 3, cv2.LINE_AA)
        x = 60 + cv2.getTextSize(shown, FONT, 1.3, 3)[0][0] + 20
        if layout == "blank":
            cv2.line(img, (x, base + 8), (x + 200, base + 8), 0, 2)
        elif layout == "box":
            cv2.rectangle(img, (x, base - 75), (x + 200, base + 20), 0, 2)
        _write_answer(img, str(answer), x + 10, base, digits, rng)
        truth.append(SheetLine(label, written + str(answer), answer == value))
    return PrintedSheet(cv2.cvtColor(img, cv2.COLOR_GRAY2RGB), tuple(truth))
