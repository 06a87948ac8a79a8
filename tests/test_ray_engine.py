"""pipeline.ray_engine: the batch on Ray Data, against a real local Ray cluster (2 CPUs) that the tests start."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from batch_fixtures import save_pdf, save_png, save_tiff, small_page
from hdr_expr.pipeline.batch import find_inputs, iter_records, list_tasks, run_batch, serial_records

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'hdr-expr[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'hdr-expr[ray]')")

from hdr_expr.pipeline.ray_engine import RecognizePages, ray_records  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A real local Ray cluster, small: 2 CPUs, no dashboard; shut down after the module."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "scans"
    d.mkdir()
    pages = [small_page(i) for i in range(3)]
    save_png(pages[0], d / "a.png")
    save_tiff(pages, d / "b.tif")
    save_pdf(pages[1:], d / "c.pdf")
    (d / "junk.png").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    return d


def _by_key(recs) -> dict:
    recs = list(recs)
    keys = [(r["file"], r["page"]) for r in recs]
    assert len(keys) == len(set(keys)), "a page recorded twice"
    return dict(zip(keys, recs))


def test_callable_class_maps_a_batch_of_page_rows(scans: Path) -> None:
    fn = RecognizePages(None)  # what each actor builds once
    batch = {"file": np.array(["scans/b.tif", "scans/b.tif", "scans/gone.png"], dtype=object),
             "path": np.array([str(scans / "b.tif")] * 2 + [str(scans / "gone.png")], dtype=object),
             "page": np.array([1, 3, 1])}
    out = fn(batch)
    recs = [json.loads(x) for x in out["record"]]
    assert [(r["file"], r["page"]) for r in recs] == [("scans/b.tif", 1), ("scans/b.tif", 3), ("scans/gone.png", 1)]
    assert recs[0]["error"] is None and recs[0]["size"] == [600, 400]
    assert recs[2]["error"] == "scans/gone.png: no such file"


def test_ray_records_equal_the_pool_records(cluster, scans: Path) -> None:
    tasks = list(list_tasks(find_inputs(["scans"])))
    assert len(tasks) == 7
    got = _by_key(ray_records(tasks, workers=2))
    want = _by_key(serial_records(tasks))
    assert got == want
    assert got[("scans/junk.png", 1)]["error"]
    assert cluster.is_initialized()  # a cluster it did not start is left running


def test_ray_run_resumes_like_the_pool(cluster, scans: Path, tmp_path: Path) -> None:
    full = tmp_path / "full.jsonl"
    s = run_batch(["scans"], full, engine="ray", workers=2)
    assert s.pages == 7 and s.page_errors == 1
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(full.read_bytes().splitlines(keepends=True)[:3]))
    s = run_batch(["scans"], part, engine="ray", workers=2, resume=True)
    assert s.resumed == 3 and s.written == 4
    assert _by_key(iter_records(part)) == _by_key(iter_records(full))


@pytest.mark.slow
def test_cli_engine_ray_starts_its_own_local_cluster(scans: Path, tmp_path: Path) -> None:
    cli = [sys.executable, "-c", "from hdr_expr.cli.app import main; main()"]
    r = subprocess.run([*cli, "batch", "scans/b.tif", "--out", "r.jsonl", "--engine", "ray", "--workers", "2"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "pages: 3" in r.stderr
    assert sorted(_by_key(iter_records(tmp_path / "r.jsonl"))) == [("scans/b.tif", p) for p in (1, 2, 3)]
