"""The MNIST IDX reader on the real files, on corrupt copies the tests make, and fetch_mnist with a fake
opener (nothing downloads)."""

from __future__ import annotations

import gzip
import shutil
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from hdr_expr.datasets import mnist
from hdr_expr.datasets.mnist import FILES, fetch_mnist, find_file, load_mnist, mnist_sources, search_dirs
from hdr_expr.errors import DataError

TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"


@pytest.fixture
def no_other_mnist(monkeypatch, tmp_path):
    """Only the folder a test passes is searched: no $HDR_EXPR_DATA, an empty cache."""
    monkeypatch.delenv("HDR_EXPR_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))


def _raw(mnist_dir: Path, name: str) -> bytes:
    return gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())


def _copy_test_split(mnist_dir: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in (TEST_IMAGES, TEST_LABELS):
        shutil.copy(mnist_dir / f"{name}.gz", dest / f"{name}.gz")
    return dest


# --- the real files ------------------------------------------------------------------------------------------


def test_real_files_load_with_checksums(mnist_dir):
    x, y = load_mnist("test", mnist_dir)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))
    assert y[:5].tolist() == [7, 2, 1, 0, 4]  # the published first test labels
    x_train, y_train = load_mnist("train", mnist_dir)
    assert x_train.shape == (60000, 28, 28) and len(y_train) == 60000
    assert 30 < x.mean() < 40  # ink on a black ground, about 33 on average


def test_reads_uncompressed_files_too(mnist_dir, tmp_path, no_other_mnist):
    for name in (TEST_IMAGES, TEST_LABELS):
        (tmp_path / name).write_bytes(_raw(mnist_dir, name))
    x, y = load_mnist("test", tmp_path)
    assert x.shape == (10000, 28, 28) and y[0] == 7


def test_search_order_data_dir_then_env_then_cache(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HDR_EXPR_DATA", str(mnist_dir.parent))  # files sit in its mnist/ folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    entry = FILES[("test", "labels")]
    assert find_file(entry) == mnist_dir / f"{TEST_LABELS}.gz"
    local = _copy_test_split(mnist_dir, tmp_path / "local")
    assert find_file(entry, local) == local / f"{TEST_LABELS}.gz"
    dirs = search_dirs(local)
    assert dirs[0] == local and dirs[2] == mnist_dir.parent and dirs[-1] == tmp_path / "cache" / "hdr-expr" / "mnist"
    sources = mnist_sources(local)
    assert [s["md5_uncompressed"] for s in sources] == [e.md5 for e in FILES.values()]


# --- broken files: each a DataError naming the file --------------------------------------------------------


def _break(mnist_dir: Path, folder: Path, how: str) -> Path:
    """Make the test split in ``folder`` broken in one way; returns the file to be named in the error."""
    folder = _copy_test_split(mnist_dir, folder)
    labels_gz = folder / f"{TEST_LABELS}.gz"
    images_gz = folder / f"{TEST_IMAGES}.gz"
    raw = _raw(mnist_dir, TEST_LABELS)
    if how == "missing":
        labels_gz.unlink()
        return Path(f"{TEST_LABELS}.gz")
    if how == "truncated-gz":
        blob = labels_gz.read_bytes()
        labels_gz.write_bytes(blob[: len(blob) // 2])
        return labels_gz
    if how == "corrupt-gz":  # a damaged deflate stream in the middle
        blob = bytearray(images_gz.read_bytes())
        for i in range(1000, 1100):
            blob[i] ^= 0xFF
        images_gz.write_bytes(bytes(blob))
        return images_gz
    if how == "truncated-raw":
        labels_gz.unlink()
        (folder / TEST_LABELS).write_bytes(raw[:-100])
        return folder / TEST_LABELS
    if how == "wrong-magic":
        labels_gz.unlink()
        (folder / TEST_LABELS).write_bytes(struct.pack(">I", 0x803) + raw[4:])
        return folder / TEST_LABELS
    if how == "count-mismatch":  # a valid IDX labels file one label short
        labels_gz.write_bytes(gzip.compress(struct.pack(">II", 0x801, 9999) + raw[8:-1]))
        return labels_gz
    if how == "checksum":  # a real file with one byte changed (still a valid label, 7 → 3)
        flipped = bytearray(raw)
        assert flipped[8] == 7
        flipped[8] = 3
        labels_gz.write_bytes(gzip.compress(bytes(flipped)))
        return labels_gz
    raise AssertionError(how)


BROKEN = {
    "missing": "not found",
    "truncated-gz": "corrupt or truncated",
    "corrupt-gz": "corrupt or truncated",
    "truncated-raw": "truncated",
    "wrong-magic": "wrong magic number",
    "count-mismatch": "10000 images but",
    "checksum": "checksum mismatch",
}


@pytest.mark.parametrize("how", list(BROKEN))
def test_broken_file_is_a_data_error_naming_it(how, mnist_dir, tmp_path, no_other_mnist):
    named = _break(mnist_dir, tmp_path / "mnist", how)
    with pytest.raises(DataError) as err:
        load_mnist("test", tmp_path / "mnist")
    message = str(err.value)
    assert str(named) in message
    assert BROKEN[how] in message
    assert "\n" not in message


@pytest.mark.parametrize("how", list(BROKEN))
def test_cli_on_broken_file_one_line_nonzero_no_traceback(how, mnist_dir, tmp_path, no_other_mnist, run_cli):
    named = _break(mnist_dir, tmp_path / "mnist", how)
    result = run_cli("evaluate", "--data-dir", tmp_path / "mnist", "--no-agreement")
    assert result.exit_code == DataError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hdr-expr: error: ")
    assert str(named) in lines[0] and BROKEN[how] in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    info = run_cli("data", "info", "--data-dir", tmp_path / "mnist")
    assert info.exit_code == DataError.exit_code and len(info.stderr.strip().splitlines()) == 1
    row = next(line for line in info.stdout.splitlines() if line.strip().startswith(named.name.split(".")[0]))
    assert ("MISSING" if how == "missing" else "CORRUPT") in row
    assert "Traceback" not in info.stderr


def test_data_info_on_good_files(mnist_dir, run_cli):
    result = run_cli("data", "info", "--data-dir", mnist_dir)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("checksum ok") == 4 and "60000 records" in result.stdout


# --- fetch_mnist -----------------------------------------------------------------------------------------------


class FakeMirrors:
    """Serves the ../shared files by URL; ``corrupt`` mirrors serve a damaged copy, ``dead`` ones fail."""

    def __init__(self, mnist_dir: Path, corrupt: tuple[str, ...] = (), dead: tuple[str, ...] = ()):
        self.mnist_dir, self.corrupt, self.dead = mnist_dir, corrupt, dead
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        mirror, name = url.rsplit("/", 1)
        if mirror + "/" in self.dead:
            raise urllib.error.URLError("Temporary failure in name resolution")
        blob = (self.mnist_dir / name).read_bytes()
        if mirror + "/" in self.corrupt:
            raw = bytearray(gzip.decompress(blob))
            raw[-1] ^= 0x01
            return gzip.compress(bytes(raw), compresslevel=1)
        return blob


def test_fetch_skips_a_corrupt_mirror_and_verifies(mnist_dir, tmp_path):
    opener = FakeMirrors(mnist_dir, corrupt=("https://bad.example/",))
    messages: list[str] = []
    dest = fetch_mnist(tmp_path / "dl", mirrors=("https://bad.example/", "https://good.example/"), opener=opener,
                       log=messages.append)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{e.name}.gz" for e in FILES.values())
    assert len(opener.calls) == 8  # each file: the bad mirror, then the good one
    assert any("checksum mismatch" in m for m in messages)
    x, y = load_mnist("test", dest)
    assert len(x) == len(y) == 10000
    # a second run keeps the verified files and downloads nothing
    again = FakeMirrors(mnist_dir)
    fetch_mnist(dest, mirrors=("https://good.example/",), opener=again)
    assert again.calls == []


def test_fetch_replaces_a_corrupt_local_file(mnist_dir, tmp_path):
    dest = _copy_test_split(mnist_dir, tmp_path / "dl")
    (dest / f"{TEST_LABELS}.gz").write_bytes(b"\x1f\x8b garbage")
    opener = FakeMirrors(mnist_dir)
    fetch_mnist(dest, mirrors=("https://good.example/",), opener=opener)
    assert sorted(u.rsplit("/", 1)[1] for u in opener.calls) == sorted(
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", f"{TEST_LABELS}.gz"])
    load_mnist("test", dest)


def test_fetch_offline_says_which_files_go_where(mnist_dir, tmp_path):
    opener = FakeMirrors(mnist_dir, dead=("https://a.example/", "https://b.example/"))
    with pytest.raises(DataError) as err:
        fetch_mnist(tmp_path / "dl", mirrors=("https://a.example/", "https://b.example/"), opener=opener)
    message = str(err.value)
    for entry in FILES.values():
        assert f"{entry.name}.gz" in message
    assert str(tmp_path / "dl") in message and "\n" not in message


def test_cli_fetch_offline_one_line(monkeypatch, tmp_path, run_cli):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", offline)
    result = run_cli("data", "fetch", "mnist", "--dest", tmp_path / "dl")
    assert result.exit_code == DataError.exit_code
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("hdr-expr: error: could not download") and "t10k-labels-idx1-ubyte.gz" in lines[-1]
    assert "Traceback" not in result.stderr


def test_cli_fetch_with_files_present(mnist_dir, tmp_path, monkeypatch, run_cli):
    def no_network(url, timeout=None):
        raise AssertionError("nothing may download when the files are present and intact")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", no_network)
    dest = tmp_path / "dl"
    dest.mkdir()
    for entry in FILES.values():
        shutil.copy(mnist_dir / f"{entry.name}.gz", dest)
    result = run_cli("data", "fetch", "mnist", "--dest", dest)
    assert result.exit_code == 0, result.stderr
    assert f"MNIST ready in {dest}" in result.stdout
