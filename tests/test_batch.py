"""pipeline.batch: inputs → page tasks, the worker pool, the resumable JSONL writer, the summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from batch_fixtures import save_jpeg, save_pdf, save_png, save_tiff, small_page
from hdr_expr.errors import InputError
from hdr_expr.pipeline import batch
from hdr_expr.pipeline.io import read_page
from hdr_expr.pipeline.batch import (
    BatchSummary,
    JsonlWriter,
    PageTask,
    error_record,
    find_inputs,
    iter_records,
    list_tasks,
    plan_batch,
    pool_records,
    read_done,
    read_task,
    repair_tail,
    run_batch,
    summarize,
)
from hdr_expr.pipeline.io import iter_pages


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder of every kind of input: PNG, JPEG in a subfolder, 3-page TIFF, 2-page PDF, an image without a
    file ending, a text file named .png, a hidden image, notes."""
    d = tmp_path / "scans"
    (d / "sub").mkdir(parents=True)
    (d / ".hidden").mkdir()
    pages = [small_page(i) for i in range(3)]
    save_png(pages[0], d / "a.png")
    save_jpeg(pages[1], d / "sub" / "b.jpg")
    save_tiff(pages, d / "c.tif")
    save_pdf(pages[:2], d / "sub" / "d.pdf")
    save_png(pages[2], d / "scan0001")  # a scanner's file without an ending: found by its bytes
    (d / "bad.png").write_text("this is not a picture")
    (d / "notes.txt").write_text("ignore me")
    save_png(pages[0], d / ".hidden" / "x.png")
    return d


@pytest.fixture
def here(inputs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from the folder that holds scans/, so records name files as scans/..."""
    monkeypatch.chdir(inputs.parent)
    return inputs.parent


# ------------------------------------------------------------------------------------------- listing


def test_find_inputs_walks_folders_sniffs_and_dedupes(here: Path) -> None:
    found = find_inputs(["scans", "scans/a.png", "missing.png"])
    assert [name for name, _ in found] == [
        "scans/a.png", "scans/bad.png", "scans/c.tif", "scans/scan0001", "scans/sub/b.jpg", "scans/sub/d.pdf",
        "missing.png",
    ]  # sorted walk; a.png named again is listed once; .hidden/ and notes.txt skipped; named files always kept
    assert all(isinstance(path, Path) for _, path in found)


def test_find_inputs_refuses_stdin() -> None:
    with pytest.raises(InputError, match="standard input"):
        find_inputs(["-"])


def test_list_tasks_counts_pages_and_records_unopenable_files(here: Path) -> None:
    tasks = list(list_tasks(find_inputs(["scans", "missing.png"])))
    keys = [t.key for t in tasks]
    assert keys == [
        ("scans/a.png", 1), ("scans/bad.png", 1), ("scans/c.tif", 1), ("scans/c.tif", 2), ("scans/c.tif", 3),
        ("scans/scan0001", 1), ("scans/sub/b.jpg", 1), ("scans/sub/d.pdf", 1), ("scans/sub/d.pdf", 2),
        ("missing.png", 1),
    ]
    errors = {t.file: t.error for t in tasks if t.error}
    assert set(errors) == {"scans/bad.png", "missing.png"}
    assert "not an image" in errors["scans/bad.png"] and "no such file" in errors["missing.png"]
    assert all(os.path.isabs(t.path) for t in tasks)
    # "./scans" and "scans/" name the same pages, so a resumed run matches however the folder was typed
    assert [t.key for t in list_tasks(find_inputs(["./scans/"]))] == keys[:-1]


def test_read_page_decodes_one_page_like_iter_pages(inputs: Path) -> None:
    for name, n in (("c.tif", 3), ("sub/d.pdf", 2), ("a.png", 1)):
        path = inputs / name
        every = list(iter_pages(path))
        assert len(every) == n
        for number in range(1, n + 1):
            page = read_page(path, number, name="x")
            assert page.page == number and page.file == "x"
            assert np.array_equal(page.image, every[number - 1].image)
        with pytest.raises(InputError, match=f"no page {n + 1}"):
            read_page(path, n + 1)


# ------------------------------------------------------------------------------------------- reading one task


class _Exploding:
    def read_image(self, image, *, file, page):
        raise RuntimeError("segmenter fell over")


def test_read_task_records_errors_instead_of_raising(inputs: Path) -> None:
    known = PageTask("bad.png", str(inputs / "bad.png"), 1, "bad.png: a text file, not an image")
    assert read_task(None, known) == error_record("bad.png", 1, "bad.png: a text file, not an image")
    gone = read_task(None, PageTask("gone.png", str(inputs / "gone.png"), 1))
    assert gone["error"] == "gone.png: no such file" and gone["lines"] == [] and gone["page"] == 1
    bug = read_task(_Exploding(), PageTask("a.png", str(inputs / "a.png"), 1))
    assert bug["error"] == "a.png (page 1): cannot be read (RuntimeError: segmenter fell over)"
    assert set(bug) == {"file", "page", "error", "size", "turned", "crossed_out", "lines"}


# ------------------------------------------------------------------------------------------- the writer


def _records(n: int, prefix: str = "f") -> list[dict]:
    return [error_record(f"{prefix}{i}.png", 1 + i % 2, f"error × {i} ÷ ✓") for i in range(n)]


def test_writer_writes_each_record_as_one_whole_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o.jsonl"
    writes: list[bytes] = []
    real_write = os.write

    def spy(fd: int, data) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(batch.os, "write", spy)
    recs = _records(5)
    with JsonlWriter(out, fsync_interval=0) as w:
        for r in recs:
            w.write(r)
    assert len(writes) == 5 and all(b.endswith(b"\n") and b.count(b"\n") == 1 for b in writes)
    assert [json.loads(b) for b in writes] == recs
    assert list(iter_records(out)) == recs
    # append keeps what is there; without append the file starts afresh
    with JsonlWriter(out, append=True) as w:
        w.write(recs[0])
    assert len(list(iter_records(out))) == 6
    with JsonlWriter(out) as w:
        w.write(recs[1])
    assert list(iter_records(out)) == [recs[1]]


def test_writer_survives_a_short_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o.jsonl"
    real_write = os.write
    monkeypatch.setattr(batch.os, "write", lambda fd, data: real_write(fd, bytes(data)[:7]))
    with JsonlWriter(out) as w:
        for r in _records(3):
            w.write(r)
    assert list(iter_records(out)) == _records(3)


def test_repair_tail_cuts_only_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    whole = b"".join(batch._line_bytes(r) for r in _records(3))
    out.write_bytes(whole)
    assert repair_tail(out) == 0 and out.read_bytes() == whole
    out.write_bytes(whole + b'{"file": "torn.png", "pa')
    assert repair_tail(out) == len(b'{"file": "torn.png", "pa')
    assert out.read_bytes() == whole
    out.write_bytes(b'{"file": "only half')
    repair_tail(out)
    assert out.read_bytes() == b""


def test_read_done_repairs_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    recs = _records(4)
    out.write_bytes(b"".join(batch._line_bytes(r) for r in recs) + b'{"file": "f9.png", "page": 1, "err')
    done, summary = read_done(out)
    assert done == {(r["file"], r["page"]) for r in recs}
    assert summary.pages == 4 and summary.resumed == 4 and summary.page_errors == 4
    assert out.read_bytes().endswith(b"\n")
    assert read_done(tmp_path / "none.jsonl")[0] == set()


def test_iter_records_rejects_files_that_are_not_batch_output(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text('{"file": "a.png", "page": 1}\nnot json\n')
    with pytest.raises(InputError, match="line 2 is not JSON"):
        list(iter_records(out))
    out.write_text('{"name": "a.png"}\n')
    with pytest.raises(InputError, match="line 1 is not a page record"):
        list(iter_records(out))


def test_summary_counts_lines_by_verdict() -> None:
    def line(correct, error=None):
        return {"text": "1+1=2", "correct": correct, "error": error, "confidence": 0.9, "box": [0, 0, 1, 1]}

    recs = [
        {"file": "a", "page": 1, "error": None, "lines": [line(True), line(False), line(None), line(None, "bad")]},
        {"file": "a", "page": 2, "error": None, "lines": [line(True)]},
        error_record("b", 1, "broken"),
        error_record("b", 2, "broken"),
    ]
    s = summarize(recs)
    assert (s.pages, s.lines, s.right, s.wrong, s.no_answer, s.unreadable_lines) == (4, 5, 2, 1, 1, 1)
    assert s.page_errors == 2 and s.error_files == {"b"}
    assert "unreadable: 1 file(s), 2 page(s)" in s.format()
    assert BatchSummary().as_dict()["pages_per_second"] == 0.0


# ------------------------------------------------------------------------------------------- runs (real model)


def _by_key(path: Path) -> dict[tuple[str, int], dict]:
    recs = list(iter_records(path))
    keys = [(r["file"], r["page"]) for r in recs]
    assert len(keys) == len(set(keys)), "a page recorded twice"
    return dict(zip(keys, recs))


def test_pool_and_serial_write_the_same_records(here: Path) -> None:
    serial = run_batch(["scans"], here / "serial.jsonl", engine="serial")
    pooled = run_batch(["scans"], here / "pool.jsonl", workers=2)
    a, b = _by_key(here / "serial.jsonl"), _by_key(here / "pool.jsonl")
    assert a == b and len(a) == 9
    assert serial.pages == pooled.pages == 9 and pooled.written == 9
    assert pooled.page_errors == 1 and pooled.error_files == {"scans/bad.png"}
    for (file, page), rec in a.items():
        assert rec["file"] == file and rec["page"] == page
        if not rec["error"]:
            assert rec["size"] == [600, 400]
            assert isinstance(rec["lines"], list)


def test_resume_after_partial_output_equals_one_run(here: Path) -> None:
    full = here / "full.jsonl"
    run_batch(["scans"], full, workers=2)
    lines = full.read_bytes().splitlines(keepends=True)
    part = here / "part.jsonl"
    part.write_bytes(b"".join(lines[:4]) + lines[4][:25])  # 4 whole records, then a torn one
    calls: list[tuple[int, int]] = []
    summary = run_batch(["scans"], part, workers=2, resume=True, progress=lambda d, t: calls.append((d, t)))
    assert _by_key(part) == _by_key(full)
    assert summary.resumed == 4 and summary.written == 5 and summary.pages == 9
    assert calls[0] == (4, 9) and calls[-1] == (9, 9)
    # resuming a finished run reads nothing and changes nothing
    before = part.read_bytes()
    assert run_batch(["scans"], part, resume=True).written == 0
    assert part.read_bytes() == before


def test_plan_counts_records_of_other_inputs(here: Path) -> None:
    out = here / "o.jsonl"
    out.write_bytes(batch._line_bytes(error_record("elsewhere.png", 1, "x")))
    plan = plan_batch(["scans"], out, resume=True)
    assert plan.unmatched == 1 and len(plan.todo) == len(plan.tasks) == 9


_REAL_WORK = batch._work


def _crash_on_c_tif_page_2(task: PageTask) -> dict:
    if task.key == ("scans/c.tif", 2):
        os._exit(3)  # as if the OOM killer took the worker
    return _REAL_WORK(task)


def test_pool_survives_a_worker_that_dies(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The task function travels by reference: the workers import this module and run the crashing one.
    monkeypatch.setattr(batch, "_work", _crash_on_c_tif_page_2)
    tasks = list(list_tasks(find_inputs(["scans"])))
    recs = list(pool_records(tasks, workers=2))
    keys = sorted((r["file"], r["page"]) for r in recs)
    assert keys == sorted(t.key for t in tasks)  # every page once, none lost
    crashed = [r for r in recs if r["error"] and "worker" in r["error"]]
    assert [(r["file"], r["page"]) for r in crashed] == [("scans/c.tif", 2)]
    assert "died" in crashed[0]["error"]
    assert sum(1 for r in recs if not r["error"]) == 7
