"""Worksheets at scale: inputs → page tasks → a pool of recognizers → one resumable JSONL file.

The shape of a run (:func:`run_batch`):

1. :func:`find_inputs` expands the inputs (directories recursively; image/PDF/TIFF files by name or by their
   first bytes) and :func:`list_tasks` turns each file into one :class:`PageTask` per page, counting pages from
   the headers only. A file that cannot even be opened becomes one task that already carries its error.
2. With ``resume``, :func:`read_done` reads the existing output (cutting away a torn last line, should one ever
   exist) and the pages already recorded are skipped.
3. An engine turns tasks into records: :func:`pool_records` (the default: worker processes that each load the
   model once and decode their own pages, so only ``(path, page)`` travels between processes and at most
   ``2 × workers`` pages are in flight) or :func:`hdr_expr.pipeline.ray_engine.ray_records` (Ray Data).
4. :class:`JsonlWriter` appends each record as it completes, as ONE ``write()`` of one whole line, so a run
   killed at any moment (even ``kill -9``) leaves only whole lines behind.

A record is exactly ``PageResult.to_dict()`` (the ``recognize --json`` schema). Records are written in the order
pages complete, which differs from run to run; ``(file, page)`` identifies each one. A killed run plus a
resumed one holds the same records as one uninterrupted run, each page once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdr_expr.errors import HdrExprError, InputError

#: File name endings that are read as pages when found in a directory (other files there are sniffed).
PAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".dib", ".webp", ".gif", ".pdf"}
)
#: Endings never sniffed in a directory walk (common non-image companions of scans: notes, our own outputs).
_NEVER_PAGES = frozenset({".jsonl", ".json", ".csv", ".html", ".htm", ".txt", ".md", ".py", ".log", ".xml"})

Record = dict[str, Any]
Key = tuple[str, int]
ProgressFn = Callable[[int, int], None]


# ------------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class PageTask:
    """One page to read: ``file`` as written in the record, ``path`` as the worker opens it."""

    file: str
    path: str
    page: int  # 1-based
    error: str | None = None  # set when the file could not be opened while listing: no worker needed

    @property
    def key(self) -> Key:
        return (self.file, self.page)


def _display(path: str) -> str:
    return os.path.normpath(path)


def _looks_like_page(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in PAGE_SUFFIXES:
        return True
    if suffix in _NEVER_PAGES:
        return False
    from hdr_expr.pipeline.io import sniff_format

    try:
        with path.open("rb") as fh:
            return sniff_format(fh.read(1024)) is not None
    except OSError:
        return False


def find_inputs(inputs: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """Expand inputs into ``(display name, path)`` pairs, in a stable order, each file once.

    A directory is walked recursively (sorted names; hidden files and folders skipped; symlinked folders not
    followed, so a loop cannot hang the walk) and keeps files with an image/PDF/TIFF ending or whose first
    bytes say they are one. A file named explicitly is always kept, so that one that is not an image, or is
    missing, is reported in the output rather than silently dropped.
    """
    found: list[tuple[str, Path]] = []
    seen: set[str] = set()

    def add(display: str, path: Path) -> None:
        try:
            ident = str(path.resolve())
        except OSError:
            ident = os.path.abspath(path)
        if ident not in seen:
            seen.add(ident)
            found.append((display, path))

    for item in inputs:
        text = str(item)
        if text == "-":
            raise InputError("batch cannot read standard input ('-'): name files or folders (or use recognize)")
        path = Path(text)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    child = Path(root) / name
                    if child.is_file() and _looks_like_page(child):
                        add(_display(str(child)), child)
        else:
            add(_display(text), path)
    return found


def _error_text(exc: BaseException, where: str) -> str:
    """The message of a project error (it names the file already); for anything else, where it happened and
    the exception's type and first line (recorded, not raised: it is probably a bug worth reporting)."""
    if isinstance(exc, HdrExprError):
        return str(exc)
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{where}: cannot be read ({type(exc).__name__}{': ' + detail if detail else ''})"


def list_tasks(files: Iterable[tuple[str, Path]]) -> Iterator[PageTask]:
    """One task per page of each file (pages counted from headers, nothing decoded)."""
    from hdr_expr.pipeline.io import count_pages

    for display, path in files:
        absolute = os.path.abspath(path)
        try:
            n = count_pages(path, name=display)
        except Exception as exc:  # noqa: BLE001 - any failure to open a file is recorded for that file
            yield PageTask(display, absolute, 1, _error_text(exc, display))
            continue
        for page in range(1, n + 1):
            yield PageTask(display, absolute, page)


# ------------------------------------------------------------------------------------------------- one page


def error_record(file: str, page: int, error: str) -> Record:
    """The record of a page that could not be read (same schema as any other)."""
    from hdr_expr.pipeline.results import PageResult

    return PageResult(file=file, page=page, error=error).to_dict()


def read_task(recognizer: Any, task: PageTask) -> Record:
    """Decode and read one page task into its record; any failure becomes the record's ``error``.

    Failures are recorded rather than raised so that one bad page never stops a batch: an unreadable file, and
    also an unexpected exception inside recognition (recorded with its type, so it can be reported as a bug).
    """
    from hdr_expr.pipeline.io import read_page

    if task.error is not None:
        return error_record(task.file, task.page, task.error)
    try:
        page = read_page(task.path, task.page, name=task.file)
        result = recognizer.read_image(page.image, file=task.file, page=task.page)
    except MemoryError:
        return error_record(task.file, task.page, f"{task.file} (page {task.page}): not enough memory to read it")
    except Exception as exc:  # noqa: BLE001 - recorded in the output, counted in the summary
        return error_record(task.file, task.page, _error_text(exc, f"{task.file} (page {task.page})"))
    record = result.to_dict()
    record["file"], record["page"] = task.file, task.page
    return record


# ------------------------------------------------------------------------------------------------- the pool

_WORKER: dict[str, Any] = {}


def _init_worker(model: str | None, threads: int) -> None:
    """Pool initializer: load the model once for this process; watch the parent so no worker outlives it."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    single_threaded()
    parent = _parent_sentinel()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    try:
        from hdr_expr.pipeline.recognize import Recognizer

        _WORKER["recognizer"] = Recognizer(model, threads=threads)
    except HdrExprError as exc:  # reported by the first task, so the parent raises it once
        _WORKER["error"] = exc


def single_threaded() -> None:
    """One thread per worker: the workers are the parallelism, and OpenCV's own thread pool in each of them
    would only make N workers fight over the same N cores."""
    import cv2

    cv2.setNumThreads(1)


def _parent_sentinel() -> int | None:
    import multiprocessing

    parent = multiprocessing.parent_process()
    return getattr(parent, "sentinel", None) if parent is not None else None


def _exit_with_parent(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])  # ready once the parent process has exited, however it died
    os._exit(1)


def _work(task: PageTask) -> Record:
    if "error" in _WORKER:
        raise _WORKER["error"]
    return read_task(_WORKER["recognizer"], task)


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _mp_context():
    import multiprocessing

    # forkserver: workers fork from a clean server that has already imported the pipeline (fast and
    # thread-safe, unlike fork from a parent running a progress thread); spawn where it does not exist.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["hdr_expr.pipeline.batch", "hdr_expr.pipeline.recognize"])
        return ctx
    return multiprocessing.get_context("spawn")


CRASH_ERROR = "the worker reading this page died (out of memory, or a crash in a decoder)"


def pool_records(
    tasks: Iterable[PageTask], *, workers: int, model: str | Path | None = None, window: int | None = None
) -> Iterator[Record]:
    """Records for tasks, read by ``workers`` processes, yielded as they complete (any order).

    Each worker loads the model once (pool initializer) and decodes its own pages; at most ``window`` pages
    (default ``2 × workers``) are in flight, so memory stays flat however many tasks come. A worker that dies
    (killed by the OOM killer, a segfault in a decoder) does not end the batch: the pages it may have been
    reading are retried one at a time in a fresh pool, and the one that kills a worker again is recorded with
    :data:`CRASH_ERROR`. A model that fails to load raises its :class:`~hdr_expr.errors.ModelError`.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    workers = max(1, int(workers))
    window = window or 2 * workers
    model_arg = str(model) if model is not None else None
    ctx = _mp_context()

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(model_arg, 1))

    it = iter(tasks)
    pool: ProcessPoolExecutor | None = None
    pending: dict[Any, PageTask] = {}
    try:
        while True:
            while len(pending) < window:
                task = next(it, None)
                if task is None:
                    break
                if task.error is not None:  # known unreadable: no worker needed
                    yield error_record(task.file, task.page, task.error)
                    continue
                if pool is None:
                    pool = new_pool()
                pending[pool.submit(_work, task)] = task
            if not pending:
                return
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            suspects: list[PageTask] = []
            for fut in done:
                task = pending.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    suspects.append(task)
            if suspects:
                # The pool is gone: every page still in flight may be the culprit. Retry each alone.
                suspects.extend(pending.values())
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
                for task in sorted(suspects, key=lambda t: t.key):
                    pool = pool or new_pool()
                    try:
                        yield pool.submit(_work, task).result()
                    except BrokenProcessPool:
                        yield error_record(task.file, task.page, f"{task.file} (page {task.page}): {CRASH_ERROR}")
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def serial_records(tasks: Iterable[PageTask], *, model: str | Path | None = None) -> Iterator[Record]:
    """Records read in this process, one page after another (no pool; for library use and debugging)."""
    recognizer = None
    for task in tasks:
        if task.error is None and recognizer is None:
            from hdr_expr.pipeline.recognize import Recognizer

            recognizer = Recognizer(model, threads=1)
        yield read_task(recognizer, task)


# ------------------------------------------------------------------------------------------------- output


def _line_bytes(record: Record) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class JsonlWriter:
    """Appends records to a JSONL file, one ``os.write`` of one whole line each.

    A process killed between two writes leaves whole lines; the kernel keeps what was written even when the
    process dies (``kill -9``), so flushing is the write itself. ``fsync_interval`` bounds what a power cut or
    an OS crash can take: the file is fsync'ed when that many seconds have passed since the last fsync (0: after
    every record; None: only at close).
    """

    def __init__(self, path: str | Path, *, append: bool = False, fsync_interval: float | None = 1.0):
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        try:
            self._fd: int | None = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise InputError(f"{path}: cannot write the output ({exc.strerror or exc})") from None
        self.fsync_interval = fsync_interval
        self._last_sync = time.monotonic()
        self.records = 0

    def write(self, record: Record) -> None:
        data = _line_bytes(record)
        view = memoryview(data)
        while view:  # a regular file takes the whole line in one write; loop only for a short write
            try:
                n = os.write(self._fd, view)
            except OSError as exc:
                raise InputError(f"{self.path}: cannot write the output ({exc.strerror or exc})") from None
            view = view[n:]
        self.records += 1
        if self.fsync_interval is not None and time.monotonic() - self._last_sync >= self.fsync_interval:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_tail(path: str | Path) -> int:
    """Cut a torn last line (no final newline) off a JSONL file; returns the bytes removed.

    With one ``write()`` per line a torn line should never exist; a short write on a full disk, or another
    program's output, could still leave one, and a resumed run must not append after half a record.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("r+b") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        # Find the last newline, reading backwards in blocks.
        pos, block = size, 1 << 16
        keep = 0
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return size - keep


def iter_records(path: str | Path) -> Iterator[Record]:
    """The records of a batch output, in file order. A line that is not a record raises InputError."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            if not raw.endswith(b"\n"):
                raise InputError(f"{path}: line {number} is cut short (a torn record); resume the batch to repair it")
            try:
                record = json.loads(raw)
            except ValueError:
                raise InputError(f"{path}: line {number} is not JSON; is this a batch output?") from None
            if not isinstance(record, dict) or not isinstance(record.get("file"), str) or not isinstance(
                record.get("page"), int
            ):
                raise InputError(f"{path}: line {number} is not a page record (no file and page)")
            yield record


# ------------------------------------------------------------------------------------------------- summary


@dataclass
class BatchSummary:
    """Counts over the records of an output file (those found on resume and those written now)."""

    pages: int = 0
    lines: int = 0
    right: int = 0
    wrong: int = 0
    no_answer: int = 0  # lines with a value but no written answer
    unreadable_lines: int = 0  # lines whose text does not parse (or divide by zero ...)
    page_errors: int = 0
    error_files: set[str] = field(default_factory=set)
    resumed: int = 0  # pages found already recorded
    written: int = 0  # pages written by this run
    seconds: float = 0.0  # this run's time reading pages

    def add(self, record: Record) -> None:
        self.pages += 1
        if record.get("error"):
            self.page_errors += 1
            self.error_files.add(record["file"])
        for line in record.get("lines") or ():
            self.lines += 1
            if line.get("correct") is True:
                self.right += 1
            elif line.get("correct") is False:
                self.wrong += 1
            elif line.get("error"):
                self.unreadable_lines += 1
            else:
                self.no_answer += 1

    @property
    def pages_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "lines": self.lines,
            "right": self.right,
            "wrong": self.wrong,
            "no_answer": self.no_answer,
            "unreadable_lines": self.unreadable_lines,
            "page_errors": self.page_errors,
            "unreadable_files": len(self.error_files),
            "resumed": self.resumed,
            "written": self.written,
            "seconds": round(self.seconds, 3),
            "pages_per_second": round(self.pages_per_second, 3),
        }

    def format(self) -> str:
        """The summary as people read it, a few lines."""
        out = [
            f"pages: {self.pages} ({self.written} read now in {self.seconds:.1f} s, {self.pages_per_second:.2f} pages/s"
            + (f"; {self.resumed} already done)" if self.resumed else ")"),
            f"lines: {self.lines} — answers right: {self.right}, wrong: {self.wrong}, "
            f"no answer written: {self.no_answer}, not readable as arithmetic: {self.unreadable_lines}",
            f"unreadable: {len(self.error_files)} file(s), {self.page_errors} page(s)",
        ]
        return "\n".join(out)


def summarize(records: Iterable[Record]) -> BatchSummary:
    summary = BatchSummary()
    for record in records:
        summary.add(record)
    return summary


# ------------------------------------------------------------------------------------------------- a run


def read_done(path: str | Path) -> tuple[set[Key], BatchSummary]:
    """The ``(file, page)`` keys already in an output (after cutting a torn tail) and their summary."""
    path = Path(path)
    done: set[Key] = set()
    summary = BatchSummary()
    if not path.exists():
        return done, summary
    repair_tail(path)
    for record in iter_records(path):
        key = (record["file"], record["page"])
        if key in done:
            continue  # a page twice (should not happen): counted once
        done.add(key)
        summary.add(record)
    summary.resumed = summary.pages
    return done, summary


ENGINES = ("pool", "ray", "serial")


@dataclass
class BatchPlan:
    """What a run will do: every task of the inputs, those still to read, what the output holds already."""

    tasks: list[PageTask]
    todo: list[PageTask]
    summary: BatchSummary
    unmatched: int  # records in the output that belong to none of these inputs


def plan_batch(inputs: Iterable[str | Path], out: str | Path, *, resume: bool = False) -> BatchPlan:
    tasks = list(list_tasks(find_inputs(inputs)))
    if resume:
        done, summary = read_done(out)
    else:
        done, summary = set(), BatchSummary()
    keys = {t.key for t in tasks}
    todo = [t for t in tasks if t.key not in done]
    return BatchPlan(tasks, todo, summary, len(done - keys))


def run_batch(
    inputs: Iterable[str | Path],
    out: str | Path,
    *,
    workers: int | None = None,
    resume: bool = False,
    engine: str = "pool",
    ray_address: str | None = None,
    model: str | Path | None = None,
    progress: ProgressFn | None = None,
    on_record: Callable[[Record], None] | None = None,
    fsync_interval: float | None = 1.0,
    plan: BatchPlan | None = None,
) -> BatchSummary:
    """Read every page of the inputs into ``out`` (JSONL, one record per page) and return the summary.

    ``progress(done, total)`` is called once before the first page and after each record, ``on_record(record)``
    after each record is written. Without ``resume`` the output is started afresh; with it, pages already
    recorded are skipped and the rest appended. ``plan`` (from :func:`plan_batch`) saves listing twice.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if model is not None:
        from hdr_expr.models.card import load_model_dir

        load_model_dir(model)  # a bad model directory fails here, once, before any worker starts
    plan = plan or plan_batch(inputs, out, resume=resume)
    summary = plan.summary
    total = len(plan.tasks)
    done = total - len(plan.todo)
    workers = max(1, min(workers or default_workers(), max(1, len(plan.todo))))
    if progress:
        progress(done, total)
    if engine == "pool":
        records = pool_records(plan.todo, workers=workers, model=model)
    elif engine == "ray":
        from hdr_expr.pipeline.ray_engine import ray_records

        records = ray_records(plan.todo, workers=workers, address=ray_address, model=model)
    else:
        records = serial_records(plan.todo, model=model)
    t0 = time.perf_counter()
    with JsonlWriter(out, append=resume, fsync_interval=fsync_interval) as writer:
        try:
            for record in records:
                writer.write(record)
                summary.add(record)
                summary.written += 1
                done += 1
                if on_record:
                    on_record(record)
                if progress:
                    progress(done, total)
        finally:
            summary.seconds = time.perf_counter() - t0
            close = getattr(records, "close", None)
            if close:
                close()
    return summary
