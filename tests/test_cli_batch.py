"""``hdr-expr batch``: the command end to end in subprocesses, including the kill -9 + --resume test."""

from __future__ import annotations

import csv
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_fixtures import draw_worksheet, save_pdf, save_png, save_tiff, small_page, worksheet_lines
from hdr_expr.pipeline.batch import iter_records
from hdr_expr.pipeline.report import verdict
from test_report import COLOURS, open_report

CLI = [sys.executable, "-c", "from hdr_expr.cli.app import main; main()"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def hdr(*args: str, cwd: Path, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    d = tmp_path / "scans"
    (d / "more").mkdir(parents=True)
    pages = [small_page(i) for i in range(4)]
    save_png(pages[0], d / "a.png")
    save_tiff(pages[1:4], d / "more" / "b.tiff")
    save_pdf(pages[:2], d / "c.pdf")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    return d


def by_key(path: Path) -> dict[tuple[str, int], dict]:
    recs = list(iter_records(path))
    keys = [(r["file"], r["page"]) for r in recs]
    assert len(keys) == len(set(keys)), "a page recorded twice"
    return dict(zip(keys, recs))


def test_batch_writes_jsonl_csv_and_report(scans: Path) -> None:
    root = scans.parent
    r = hdr("batch", "scans", "--out", "out.jsonl", "--workers", "2", "--csv", "out.csv", "--report", "out.html",
            cwd=root)
    assert r.returncode == 1, r.stderr  # one unreadable file → exit code 1, the rest still read
    assert "Traceback" not in r.stderr
    recs = by_key(root / "out.jsonl")
    assert sorted(recs) == [("scans/a.png", 1), ("scans/broken.png", 1), ("scans/c.pdf", 1), ("scans/c.pdf", 2),
                            ("scans/more/b.tiff", 1), ("scans/more/b.tiff", 2), ("scans/more/b.tiff", 3)]
    assert recs[("scans/broken.png", 1)]["error"]
    for key, rec in recs.items():
        assert set(rec) == {"file", "page", "error", "size", "turned", "crossed_out", "lines"}
        if key[0] != "scans/broken.png":
            assert rec["error"] is None and rec["size"] == [600, 400]
    # the summary on stderr (not a terminal: no progress bar)
    assert "pages: 7" in r.stderr and "unreadable: 1 file(s), 1 page(s)" in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("hdr-expr: error:")]
    assert errors == [f"hdr-expr: error: {recs[('scans/broken.png', 1)]['error']}"]
    assert "\r" not in r.stderr and "ETA" not in r.stderr
    # CSV: a row per line of every record, in the inputs' order
    with (root / "out.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    n_lines = sum(len(rec["lines"]) for rec in recs.values())
    assert len(rows) == n_lines + 1  # + the broken file's row
    assert rows[0]["file"] == "scans/a.png"
    texts = [line["text"] for key in sorted(recs) for line in recs[key]["lines"]]
    assert sorted(row["text"] for row in rows if row["line"]) == sorted(texts)
    html = (root / "out.html").read_text(encoding="utf-8")
    assert html.count('<section class="page"') == 7 and html.count("data:image/jpeg;base64,") == 6


@pytest.mark.browser
def test_batch_report_in_a_real_browser(scans: Path, browser) -> None:
    root = scans.parent
    r = hdr("batch", "scans", "--out", "out.jsonl", "--report", "out.html", "--quiet", cwd=root)
    assert r.returncode == 1, r.stderr
    recs = by_key(root / "out.jsonl")
    page, outside = open_report(browser, root / "out.html")
    try:
        assert outside == []
        sections = page.locator("section.page")
        assert sections.count() == len(recs)
        for i in range(sections.count()):
            sec = sections.nth(i)
            rec = recs[(sec.get_attribute("data-file"), int(sec.get_attribute("data-page")))]
            kinds = [verdict(line) for line in rec["lines"]]
            boxes = sec.locator(".box")
            assert boxes.count() == len(kinds)
            for j, kind in enumerate(kinds):
                assert boxes.nth(j).evaluate("b => getComputedStyle(b).borderTopColor") == COLOURS[kind]
            if not rec["error"]:
                assert sec.locator(".scan img").evaluate("i => i.complete && i.naturalWidth") == 600
        lines = sum(len(rec["lines"]) for rec in recs.values())
        assert page.locator('#totals td[data-total="lines"]').inner_text() == str(lines)
        assert page.locator('#totals td[data-total="unreadable-files"]').inner_text() == "1"
    finally:
        page.close()


def test_quiet_and_usage_errors(scans: Path) -> None:
    root = scans.parent
    r = hdr("batch", "scans/a.png", "--out", "q.jsonl", "--quiet", "--workers", "1", cwd=root)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
    assert list(by_key(root / "q.jsonl")) == [("scans/a.png", 1)]
    (root / "empty").mkdir()
    for args, message in (
        (["scans", "--out", "x.jsonl", "--engine", "spark"], "--engine must be pool or ray"),
        (["scans", "--out", "x.jsonl", "--ray-address", "auto"], "--ray-address needs --engine ray"),
        (["scans", "--out", "x.jsonl", "--csv", "x.jsonl"], "would overwrite"),
        (["empty", "--out", "x.jsonl"], "no images, TIFFs or PDFs found"),
        (["scans", "--out", "x.jsonl", "--model", "empty"], "not a model directory"),
    ):
        r = hdr("batch", *args, cwd=root)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_progress_bar_on_a_terminal(scans: Path) -> None:
    root = scans.parent
    main, child = pty.openpty()
    proc = subprocess.Popen([*CLI, "batch", "scans", "--out", "t.jsonl", "--workers", "2"], cwd=root, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=child, stdin=subprocess.DEVNULL)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=240)
    os.close(main)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "7/7" in text and "pages/s" in text and "ETA" in text
    assert "pages: 7" in text


# --------------------------------------------------------------------------------------------- kill -9


def _worksheets(d: Path, n_png: int = 6, n_tiff: int = 5, n_pdf: int = 5) -> int:
    """Pages of 100-dpi letter size with 6 lines each: quick to read, enough to kill a run midway."""
    d.mkdir()
    size = (850, 1100)
    pages = [draw_worksheet(worksheet_lines(s, 6), size=size, seed=s, glyph=40) for s in range(n_png + n_tiff + n_pdf)]
    for i in range(n_png):
        save_png(pages[i], d / f"sheet{i:02d}.png")
    save_tiff(pages[n_png : n_png + n_tiff], d / "stack.tif")
    save_pdf(pages[n_png + n_tiff :], d / "stack.pdf", dpi=100)
    return len(pages)


def _group_gone(pgid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_kill_9_then_resume_equals_one_uninterrupted_run(tmp_path: Path) -> None:
    total = _worksheets(tmp_path / "sheets")
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([*CLI, "batch", "sheets", "--out", str(out), "--workers", "2", "--quiet"],
                            cwd=tmp_path, env=ENV, start_new_session=True)
    try:
        end = time.monotonic() + 180
        while time.monotonic() < end and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must not outlive it
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert _group_gone(proc.pid), "worker processes outlived the killed batch"
    data = out.read_bytes()
    written = data.count(b"\n")
    assert 3 <= written < total, f"killed after {written} of {total} pages"
    assert data.endswith(b"\n")  # no torn line
    for line in data.splitlines():
        json.loads(line)

    r = hdr("batch", "sheets", "--out", str(out), "--workers", "2", "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"{written} already done" in r.stderr

    r = hdr("batch", "sheets", "--out", "whole.jsonl", "--workers", "2", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    resumed, whole = by_key(out), by_key(tmp_path / "whole.jsonl")
    assert len(whole) == total
    assert resumed.keys() == whole.keys()
    assert resumed == whole  # the records carry no timing fields: equal as they are
