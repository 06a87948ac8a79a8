"""MNIST from the original IDX files (gzipped or not), checked against the canonical checksums.

Where the files are looked for, in order: the ``data_dir`` argument (``--data-dir``), ``$HDR_EXPR_DATA``, then the
user's cache directory (``$XDG_CACHE_HOME/hdr-expr`` or ``~/.cache/hdr-expr``). In each, the files may sit in the
directory itself or in a ``mnist/`` folder inside it. :func:`fetch_mnist` downloads them from the canonical
mirrors into the cache, verifying each file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from hdr_expr.errors import DataError

Split = Literal["train", "test"]


@dataclass(frozen=True)
class IdxFile:
    name: str  # canonical file name without .gz
    md5: str  # MD5 of the uncompressed bytes (the published checksums)
    count: int
    kind: Literal["images", "labels"]


FILES: dict[tuple[str, str], IdxFile] = {
    ("train", "images"): IdxFile("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb", 60000, "images"),
    ("train", "labels"): IdxFile("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624", 60000, "labels"),
    ("test", "images"): IdxFile("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea", 10000, "images"),
    ("test", "labels"): IdxFile("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637", 10000, "labels"),
}

#: Canonical mirrors, tried in order (Yann LeCun's original site often refuses scripted downloads).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def cache_dir() -> Path:
    """The user's cache directory for hdr-expr data."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hdr-expr"


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Directories searched for the MNIST files, in order."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    env = os.environ.get("HDR_EXPR_DATA")
    if env:
        roots.append(Path(env))
    roots.append(cache_dir())
    dirs: list[Path] = []
    for root in roots:
        dirs += [root, root / "mnist"]
    return dirs


def find_file(entry: IdxFile, data_dir: str | Path | None = None) -> Path:
    """The first ``<name>.gz`` or ``<name>`` found in the search directories."""
    for d in search_dirs(data_dir):
        for candidate in (d / f"{entry.name}.gz", d / entry.name):
            if candidate.is_file():
                return candidate
    where = ", ".join(str(d) for d in search_dirs(data_dir)[::2])
    raise DataError(
        f"MNIST file {entry.name}.gz not found (looked in {where}); "
        f"run `hdr-expr data fetch mnist` or pass --data-dir"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"cannot read {path}: corrupt or truncated ({exc})") from None


def parse_idx(data: bytes, entry: IdxFile, path: Path | str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes (already decompressed) into a uint8 array, checking magic number, shape and length."""
    want_magic = _IMAGES_MAGIC if entry.kind == "images" else _LABELS_MAGIC
    ndim = 3 if entry.kind == "images" else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: too short to be an IDX {entry.kind} file ({len(data)} bytes)")
    magic = struct.unpack(">I", data[:4])[0]
    if magic != want_magic:
        raise DataError(f"{path}: wrong magic number 0x{magic:08x} (expected 0x{want_magic:08x} for {entry.kind})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DataError(
            f"{path}: truncated or padded: header says {'×'.join(map(str, dims))} = {expected} bytes of data, "
            f"file has {len(data) - header}"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def verify_checksum(data: bytes, entry: IdxFile, path: Path | str = "<bytes>") -> None:
    """Raise DataError unless the uncompressed bytes have the canonical MD5."""
    md5 = hashlib.md5(data).hexdigest()
    if md5 != entry.md5:
        raise DataError(f"{path}: checksum mismatch (MD5 {md5}, expected {entry.md5}): corrupt file")


def read_idx(path: Path, entry: IdxFile, *, verify: bool = True) -> np.ndarray:
    data = _read_bytes(path)
    arr = parse_idx(data, entry, path)
    if verify:
        verify_checksum(data, entry, path)
    return arr


def load_mnist(
    split: Split, data_dir: str | Path | None = None, *, verify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` as (images uint8 N×28×28, labels uint8 N), checksums verified."""
    if split not in ("train", "test"):
        raise DataError(f"unknown MNIST split {split!r} (train or test)")
    img_entry, lab_entry = FILES[(split, "images")], FILES[(split, "labels")]
    img_path, lab_path = find_file(img_entry, data_dir), find_file(lab_entry, data_dir)
    img_data, lab_data = _read_bytes(img_path), _read_bytes(lab_path)
    images = parse_idx(img_data, img_entry, img_path)
    labels = parse_idx(lab_data, lab_entry, lab_path)
    # the specific problems first: a count mismatch would also fail the checksum, less helpfully
    if len(images) != len(labels):
        raise DataError(f"{img_path} holds {len(images)} images but {lab_path} holds {len(labels)} labels")
    if images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: images are {images.shape[1]}×{images.shape[2]}, expected 28×28")
    if verify:
        verify_checksum(img_data, img_entry, img_path)
        verify_checksum(lab_data, lab_entry, lab_path)
    if labels.max(initial=0) > 9:
        raise DataError(f"{lab_path}: label {int(labels.max())} outside 0–9")
    return images, labels


def mnist_sources(data_dir: str | Path | None = None) -> list[dict[str, str]]:
    """The four files as the model card names them: file name, path found, MD5 of the uncompressed bytes."""
    return [
        {"name": e.name, "path": str(find_file(e, data_dir)), "md5_uncompressed": e.md5}
        for e in FILES.values()
    ]


def fetch_mnist(
    dest: str | Path | None = None,
    *,
    mirrors: tuple[str, ...] = MIRRORS,
    opener: Callable[[str], bytes] | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> Path:
    """Download the four files (gzipped) into ``dest`` (default: the cache), verifying each; return ``dest``.

    Files already present and valid are kept. Without the internet this raises a DataError that says which
    four files to put where.
    """
    target = Path(dest) if dest is not None else cache_dir() / "mnist"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {target}: {exc.strerror or exc}") from None
    fetch = opener or (lambda url: urllib.request.urlopen(url, timeout=30).read())  # noqa: S310
    for entry in FILES.values():
        path = target / f"{entry.name}.gz"
        if path.is_file():
            try:
                read_idx(path, entry)
                log(f"{path}: present, checksum ok")
                continue
            except DataError:
                log(f"{path}: present but corrupt, downloading again")
        errors = []
        for mirror in mirrors:
            url = f"{mirror}{entry.name}.gz"
            try:
                blob = fetch(url)
                data = gzip.decompress(blob)
                parse_idx(data, entry, url)
                verify_checksum(data, entry, url)
            except (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException, DataError) as exc:
                errors.append(str(exc) if isinstance(exc, DataError) else f"{url}: {exc}")
                log(f"{errors[-1]}")
                continue
            tmp = path.with_suffix(".part")
            try:
                tmp.write_bytes(blob)
                tmp.replace(path)
            except OSError as exc:
                raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None
            log(f"{path}: downloaded from {mirror}, checksum ok")
            break
        else:
            names = ", ".join(f"{e.name}.gz" for e in FILES.values())
            raise DataError(
                f"could not download {entry.name}.gz from any mirror (last: {errors[-1] if errors else 'none'}); "
                f"offline, put the four MNIST files {names} into {target} "
                f"(or into a folder given as --data-dir or $HDR_EXPR_DATA)"
            )
    return target
