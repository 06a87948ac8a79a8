"""pipeline.report: the CSV and the self-contained HTML report, written from records (PageResult.to_dict()).

The HTML report is opened in a real headless browser (Debian's Chromium through Playwright): boxes, colours,
positions and totals are read back from the DOM, and a screenshot is saved (``$HDR_EXPR_SCREENSHOTS`` keeps it).
"""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from browser_helpers import screenshot_path

from hdr_expr.pipeline.report import (
    csv_rows,
    line_summary,
    order_records,
    verdict,
    without_symbols,
    write_csv,
    write_html,
)
from hdr_expr.pipeline.results import LineResult, PageResult, SymbolResult

W, H = 900, 600
BOXES = {"right": (60, 60, 420, 90), "wrong": (60, 220, 380, 90), "none": (60, 380, 300, 90)}


def _line(text: str, box, *, value=None, answer=None, correct=None, error=None, conf=0.9, label=None) -> LineResult:
    syms = tuple(SymbolResult(ch, conf, (box[0] + 30 * i, box[1], 25, box[3])) for i, ch in enumerate(text))
    return LineResult(text=text, box=box, symbols=syms, confidence=conf, expression=text.replace("×", "*"),
                      value=value, answer=answer, correct=correct, error=error, label=label)


def _scan() -> np.ndarray:
    img = np.full((H, W, 3), 250, np.uint8)
    for x, y, w, h in BOXES.values():
        cv2.putText(img, "12+7=19", (x + 10, y + h - 20), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 4)
    return img


def _records() -> list[dict]:
    sheet = PageResult(
        file="class 4b/sheet.png", page=1, size=(W, H),
        lines=(
            _line("12+7=19", BOXES["right"], value="19", answer="19", correct=True),
            _line("8×3=25", BOXES["wrong"], value="24", answer="25", correct=False, conf=0.5, label="2)"),
            _line("6÷4=", BOXES["none"], value="3/2"),
        ),
    )
    odd = PageResult(file="odd.png", page=1, size=(W, H),
                     lines=(_line("3+×4", (10, 10, 100, 40), error="cannot read: × after +"),))
    blank = PageResult(file="blank.png", page=1, size=(W, H))
    broken = PageResult(file="broken.pdf", page=2, error="broken.pdf (page 2): cannot render PDF page (data error)")
    return [r.to_dict() for r in (broken, sheet, odd, blank)]


def _loader(file: str, page: int):
    return _scan() if file != "broken.pdf" else None


# ------------------------------------------------------------------------------------------- CSV


def test_csv_has_a_row_per_expression_and_one_per_unreadable_page(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    n = write_csv(_records(), path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) == 5
    assert list(rows[0]) == ["file", "page", "line", "label", "text", "value", "answer", "correct", "confidence", "error"]
    broken, right, wrong, none, odd = rows
    assert broken["file"] == "broken.pdf" and broken["page"] == "2" and broken["line"] == "" and "render" in broken["error"]
    assert (right["file"], right["line"], right["text"], right["value"], right["answer"], right["correct"]) == (
        "class 4b/sheet.png", "1", "12+7=19", "19", "19", "true")
    assert (wrong["line"], wrong["label"], wrong["text"], wrong["answer"], wrong["correct"], wrong["confidence"]) == (
        "2", "2)", "8×3=25", "25", "false", "0.5000")
    assert right["label"] == "" and line_summary(_records()[1]["lines"][1]) == "2) 8×3=25 ✗ (= 24)"
    assert (none["value"], none["answer"], none["correct"]) == ("3/2", "", "")
    assert odd["error"] == "cannot read: × after +" and odd["value"] == ""
    assert not any(r["file"] == "blank.png" for r in rows)  # a blank page has no expression, so no row
    assert len(list(csv_rows(_records()))) == 5  # csv_rows is what write_csv writes
    light = list(without_symbols(_records()))
    assert list(csv_rows(light)) == list(csv_rows(_records()))
    assert all("symbols" not in line for r in light for line in r["lines"])
    assert all("symbols" in line for r in _records() for line in r["lines"])  # the input is left as it was


def test_verdicts_and_summaries_come_from_the_records() -> None:
    recs = {r["file"]: r for r in _records()}
    lines = recs["class 4b/sheet.png"]["lines"]
    assert [verdict(x) for x in lines] == ["right", "wrong", "none"]
    assert [line_summary(x) for x in lines] == ["12+7=19 ✓", "2) 8×3=25 ✗ (= 24)", "6÷4 = 3/2"]
    assert order_records(_records(), [("odd.png", 1), ("class 4b/sheet.png", 1)])[0]["file"] == "odd.png"


# ------------------------------------------------------------------------------------------- HTML (static)


def test_html_is_self_contained(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    assert write_html(_records(), path, load_image=_loader) == 4
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?:src|href)=\"(?!data:|#)", text), "a reference to something outside the file"
    assert "http://" not in text and "https://" not in text and "<script" not in text and "<link" not in text
    assert "Content-Security-Policy" in text
    uris = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', text)
    assert len(uris) == 3  # broken.pdf has no scan
    im = Image.open(io.BytesIO(base64.b64decode(uris[0])))
    assert im.format == "JPEG" and im.size == (W, H)
    # HTML-special characters in a file name or error do not break out of the markup
    recs = [PageResult(file='<b>"x"&.png', page=1, error="<script>alert(1)</script>").to_dict()]
    write_html(recs, path, load_image=None)
    assert "<script>alert" not in path.read_text(encoding="utf-8")


def test_big_scans_are_shrunk_and_boxes_stay_in_percent(tmp_path: Path) -> None:
    big = np.full((3000, 2000, 3), 255, np.uint8)
    rec = PageResult(file="big.png", page=1, size=(2000, 3000),
                     lines=(_line("1+1=2", (200, 300, 1000, 150), value="2", answer="2", correct=True),)).to_dict()
    path = tmp_path / "r.html"
    write_html([rec], path, load_image=lambda f, p: big)
    text = path.read_text(encoding="utf-8")
    data = re.search(r'src="data:image/jpeg;base64,([^"]+)"', text).group(1)
    assert max(Image.open(io.BytesIO(base64.b64decode(data))).size) == 1400
    assert "left:10.000%;top:10.000%;width:50.000%;height:5.000%" in text


# ------------------------------------------------------------------------------------------- HTML (browser)

def open_report(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(("file:", "data:")) else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, outside


COLOURS = {"right": "rgb(26, 127, 55)", "wrong": "rgb(207, 34, 46)", "none": "rgb(140, 149, 159)"}


@pytest.mark.browser
def test_report_in_a_real_browser(browser, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(_records(), path, load_image=_loader, order=[("class 4b/sheet.png", 1)])
    page, outside = open_report(browser, path)
    try:
        assert outside == []
        sections = page.locator("section.page")
        assert sections.count() == 4
        first = sections.nth(0)
        assert first.get_attribute("data-file") == "class 4b/sheet.png"
        img = first.locator(".scan img")
        assert img.evaluate("i => i.complete && i.naturalWidth") == W
        shown = img.bounding_box()
        scale = shown["width"] / W
        boxes = first.locator(".box")
        assert boxes.count() == 3
        for i, kind in enumerate(["right", "wrong", "none"]):
            box = boxes.nth(i)
            assert kind in box.get_attribute("class").split()
            assert box.evaluate("b => getComputedStyle(b).borderTopColor") == COLOURS[kind]
            got = box.bounding_box()  # border box: the line's box plus 5 px of padding and border all round
            x, y, w, h = BOXES[kind]
            assert abs(got["x"] + 5 - (shown["x"] + x * scale)) < 2 and abs(got["y"] + 5 - (shown["y"] + y * scale)) < 2
            assert abs(got["width"] - 10 - w * scale) < 2 and abs(got["height"] - 10 - h * scale) < 2
            assert box.locator(".label").is_visible()
        assert first.locator(".box.right .label").inner_text() == "1: 12+7=19 ✓"
        assert first.locator("ol.lines li.wrong").inner_text().startswith("2) 8×3=25 ✗ (= 24)")
        totals = {k: page.locator(f'#totals td[data-total="{k}"]').inner_text()
                  for k in ("pages", "lines", "right", "wrong", "no-answer", "unreadable-lines", "page-errors")}
        assert totals == {"pages": "4", "lines": "4", "right": "1", "wrong": "1", "no-answer": "1",
                          "unreadable-lines": "1", "page-errors": "1"}
        broken = page.locator('section.page[data-file="broken.pdf"]')
        assert broken.locator(".error").inner_text().startswith("broken.pdf (page 2)")
        assert broken.locator("img").count() == 0
        shot = screenshot_path(tmp_path, "report.png")
        first.screenshot(path=str(shot))
        assert Image.open(shot).size[0] > 500
        page.screenshot(path=str(screenshot_path(tmp_path, "report-full.png")), full_page=True)
    finally:
        page.close()
