"""The batch on Ray Data: the same page tasks and records as the process pool, on a Ray cluster.

Ray Data is made for offline batch inference: the page tasks become a dataset of ``(file, path, page)`` rows,
and :class:`RecognizePages`, a callable class, is mapped over it with ``map_batches`` on a pool of N actors
(``compute=ActorPoolStrategy(size=N)``: what ``concurrency=N`` said before Ray 2.51 deprecated it), each
loading the model once in its constructor and decoding its own pages. The driver iterates over the mapped
dataset as batches finish (streaming execution) and the caller writes each record, so output, resume and
summary are exactly those of :mod:`hdr_expr.pipeline.batch`.

Paths travel, not images: on a multi-node cluster (``address=``) every node must see the input files at the
same absolute path (a shared file system). Without an address a local cluster is started with ``workers``
CPUs and stopped at the end. Install with ``pip install 'hdr-expr[ray]'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hdr_expr.errors import HdrExprError
from hdr_expr.pipeline.batch import PageTask, Record, error_record, read_task, single_threaded

#: Pages per call of an actor: small, so records stream out as they are read.
BATCH_SIZE = 2


class RecognizePages:
    """Ray Data callable class: loads the model once per actor; maps a batch of page rows to JSON records."""

    def __init__(self, model: str | None = None):
        from hdr_expr.pipeline.recognize import Recognizer

        single_threaded()
        self.recognizer = Recognizer(model, threads=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = []
        for file, path, page in zip(batch["file"], batch["path"], batch["page"]):
            task = PageTask(str(file), str(path), int(page))
            records.append(json.dumps(read_task(self.recognizer, task), ensure_ascii=False))
        return {"record": np.array(records, dtype=object)}


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise HdrExprError(
            "--engine ray needs Ray Data: pip install 'hdr-expr[ray]' (or use the default --engine pool)"
        ) from None
    return ray


def ray_records(
    tasks: Iterable[PageTask],
    *,
    workers: int,
    address: str | None = None,
    model: str | Path | None = None,
    batch_size: int = BATCH_SIZE,
    progress_bars: bool = False,
) -> Iterator[Record]:
    """Records for tasks, read by ``workers`` Ray actors, yielded as their batches finish (any order).

    Uses the Ray cluster already initialized in this process if there is one; else connects to ``address``,
    or starts a local cluster with ``workers`` CPUs (no dashboard) and shuts it down when done.
    """
    ray = _require_ray()
    todo: list[dict[str, Any]] = []
    for task in tasks:
        if task.error is not None:
            yield error_record(task.file, task.page, task.error)
        else:
            todo.append({"file": task.file, "path": task.path, "page": task.page})
    if not todo:
        return
    workers = max(1, min(int(workers), len(todo)))
    started = False
    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray's INFO/WARNING chatter is not the user's business
    if not ray.is_initialized():
        common = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if address:
                ray.init(address=address, **common)
            else:
                ray.init(address="local", num_cpus=workers, **common)  # a new cluster, never a stray one
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            raise HdrExprError(f"cannot start or reach {where} ({exc})") from None
        started = True
    try:
        from ray.data import ActorPoolStrategy, DataContext
        from ray.exceptions import RayError

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = progress_bars
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        blocks = min(len(todo), max(workers * 4, 1))
        ds = ray.data.from_items(todo, override_num_blocks=blocks)
        mapped = ds.map_batches(
            RecognizePages,
            fn_constructor_kwargs={"model": str(model) if model is not None else None},
            compute=ActorPoolStrategy(size=workers),
            batch_size=batch_size,
            batch_format="numpy",
            num_cpus=1,
        )
        try:
            for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
                for line in batch["record"]:
                    yield json.loads(line)
        except RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise HdrExprError(f"the Ray run failed: {first[:300]}") from None
    finally:
        if started:
            ray.shutdown()
