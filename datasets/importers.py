"""Real handwritten-symbol data sets, read in their native layouts and normalized as the pipeline does.

Two layouts:

* **A folder per class** (:func:`load_folder_set`): ``ROOT/<class folder>/<image>``. Folder names are read
  through :data:`FOLDER_CLASS_MAP`, which covers the Kaggle "handwritten math symbols" set as rendered from
  CROHME (``0``–``9 + - times = ( ) forward_slash``), the Kaggle "handwritten-math-symbols" set of sagyamthapa
  (``0``–``9 add sub mul div eq dec``) and the other common spellings (``plus``, ``minus``, ``divide``,
  ``equals``, ``lpar``, ``rpar``, ``dot``, ``decimal``, ``slash``, ``x``, ``*`` …). Folders that name no class
  of ours are skipped and listed in the result (:attr:`SymbolSet.skipped_folders`).
* **HASYv2** (:func:`load_hasy`): ``hasy-data-labels.csv`` (``path,symbol_id,latex,user_id``) next to the
  32×32 PNGs it names; :data:`HASY_LATEX_MAP` maps ``0``–``9 + - \\times \\div = ( ) . /`` (and ``*``,
  ``\\ast`` → ×); other symbols are skipped and counted.

Every image is decoded (cv2; an alpha channel is laid on white), its polarity detected
(:func:`~hdr_expr.pipeline.normalize.ink_from_gray`: white on black is common), border artefacts removed,
and passed through :func:`~hdr_expr.pipeline.normalize.normalize_symbol`, the very function the recognition
pipeline applies to a segmented symbol. Results are ``uint8`` 0–255, ink bright, N×28×28, as MNIST.

Decisions
---------
* **The CROHME-rendered set** (``crohme-kaggle``). Measured on its 25k images: every image is 45×45 with
  1-px strokes and the symbol's *longer* side fills the frame (median ink box: ``-`` 5×45, ``=`` 23×45,
  ``(`` 45×12, ``/`` 45×18, ``+`` 45×42), so what is lost is the symbol's **size** (a ``-`` is as wide as a
  digit is tall) and its stroke width, while its aspect ratio is by and large kept. Normalization fits the
  longer side into 20 px and brings strokes into MNIST's width band anyway, so the importer crops the ink
  and normalizes it like any segmented symbol, which restores what can be restored: no size or position is
  learnt from this set (a 28×28 input carries none), and its 1-px traces get MNIST-like strokes. Its few
  ``=`` whose bars sit at the top and bottom edges (gap ≈ width) are kept as they are: people do write them.
* **A dot's meaning** (decimal point vs. a raised multiplication dot ``·``) lies in its height on the line,
  which a 28×28 crop does not keep: a normalized ``·`` *is* a normalized ``.``. HASYv2's ``\\cdot`` is
  therefore imported as the ``.`` shape (see :data:`HASY_LATEX_MAP`); reading a dot between two operands as
  × is the assembler's job.
* **Border artefacts.** Some canvas drawings (sagyamthapa: 332 of 8,573) carry a thin line along an edge of
  the frame, and a few a speck on the edge. In images larger than :data:`TIGHT_RENDER_MAX` px, ink components
  lying within the outer 5 % of an edge (at least 3 px) and running along at least 40 % of it are removed,
  and so are specks touching the edge (:func:`remove_border_artefacts`). Smaller images (CROHME's 45×45,
  HASYv2's 32×32) are renderings of pen traces fitted to the frame, whose edges are the symbol's own.
* **Undecodable or blank images are skipped and counted** (:attr:`SymbolSet.undecodable`,
  :attr:`SymbolSet.blank`): one truncated file in a download of 30,000 should not stop a training run. A
  missing folder, a folder with no recognizable class folders, or a set where no image can be read raises
  :class:`~hdr_expr.errors.DataError` naming the path.
* **Held-out split by file hash**: an image is held out when the first 4 bytes of the SHA-256 of its file,
  read as a big-endian integer, mod 100 is below :data:`HELD_OUT_PERCENT` (10). It depends on the file's
  bytes alone (not its name, folder or listing order), so it is fixed across machines, copies and class
  renames. (There are no writer IDs in the folder sets, so a writer can be on both sides.)
* **Cache**: normalized arrays are stored as ``.npz`` under :func:`cache_dir`, keyed by the SHA-256 of the
  listing (relative paths, sizes, the class each maps to), :data:`IMPORTER_VERSION` and
  :data:`~hdr_expr.pipeline.normalize.NORMALIZATION_VERSION`. Editing a file without changing its size is not
  noticed: pass ``cache=False`` (or delete the cache) after such edits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from hdr_expr.errors import DataError
from hdr_expr.pipeline.normalize import NORMALIZATION_VERSION, ink_from_gray, ink_mask, normalize_symbol
from hdr_expr.symbols import SYMBOL_CLASSES

#: Bump when the importers' output changes (it keys the cache and is recorded in model cards).
IMPORTER_VERSION = "importers-v1"
#: Percent of each real set held out for evaluation (by file hash, see :func:`is_held_out`).
HELD_OUT_PERCENT = 10
#: Images no larger than this (both sides, px) are taken to be traces rendered to fill their frame.
TIGHT_RENDER_MAX = 64
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".pbm", ".ppm"})

_INDEX = {c: i for i, c in enumerate(SYMBOL_CLASSES)}
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: Folder name (case-folded; spaces and hyphens inside words read as ``_``) → symbol class.
FOLDER_CLASS_MAP: dict[str, str] = {
    **{d: d for d in "0123456789"},
    **{w: str(i) for i, w in enumerate(_DIGIT_WORDS)},
    **{f"digit_{i}": str(i) for i in range(10)},
    **dict.fromkeys(["+", "plus", "add", "addition", "sum"], "+"),
    **dict.fromkeys(["-", "minus", "sub", "subtract", "subtraction", "hyphen", "dash", "neg"], "-"),
    **dict.fromkeys(
        ["×", "x", "times", "mul", "mult", "multiply", "multiplication", "product", "*", "ast", "asterisk",
         "star"], "×"),
    **dict.fromkeys(["÷", "div", "divide", "division", "divided", "obelus"], "÷"),
    **dict.fromkeys(["=", "eq", "equal", "equals", "equal_sign"], "="),
    **dict.fromkeys(
        ["(", "lpar", "lparen", "left_paren", "left_parenthesis", "open_paren", "open_parenthesis",
         "paren_left", "bracket_open"], "("),
    **dict.fromkeys(
        [")", "rpar", "rparen", "right_paren", "right_parenthesis", "close_paren", "close_parenthesis",
         "paren_right", "bracket_close"], ")"),
    **dict.fromkeys([".", "dot", "decimal", "dec", "point", "period", "decimal_point", "full_stop"], "."),
    **dict.fromkeys(["/", "slash", "forward_slash", "fslash", "solidus", "fraction_slash"], "/"),
}

#: HASYv2 ``latex`` column → symbol class. ``\cdot`` is a dot's shape (see the module notes).
HASY_LATEX_MAP: dict[str, str] = {
    **{d: d for d in "0123456789"},
    "+": "+", "-": "-", "=": "=", "(": "(", ")": ")", ".": ".", "/": "/",
    "\\times": "×", "*": "×", "\\ast": "×", "\\div": "÷", "\\cdot": ".", "\\slash": "/",
}


def folder_class(name: str) -> str | None:
    """The symbol class a folder name stands for, or None."""
    key = name.strip().casefold()
    if len(key) > 1:
        key = key.replace(" ", "_").replace("-", "_")
    return FOLDER_CLASS_MAP.get(key)


@dataclass(frozen=True)
class SymbolSet:
    """A real data set, normalized: ``x`` uint8 N×28×28 (ink bright), ``y`` indices into SYMBOL_CLASSES."""

    name: str
    root: Path
    x: np.ndarray
    y: np.ndarray
    sha256: tuple[str, ...]
    paths: tuple[str, ...]  # relative to root
    listing_checksum: str
    skipped_folders: tuple[str, ...] = ()
    skipped_labels: dict[str, int] = field(default_factory=dict)  # HASYv2 symbols we do not read
    undecodable: tuple[str, ...] = ()
    blank: tuple[str, ...] = ()
    split: str = "all"  # "all", "train" or "held-out"
    files: int = 0  # image files listed in the whole set (read or not)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def counts(self) -> dict[str, int]:
        """Images per class (every class of SYMBOL_CLASSES, zeros included)."""
        n = np.bincount(self.y.astype(np.int64), minlength=len(SYMBOL_CLASSES))
        return {c: int(n[i]) for i, c in enumerate(SYMBOL_CLASSES)}

    @property
    def held_out_mask(self) -> np.ndarray:
        return np.array([is_held_out(h) for h in self.sha256], bool)

    def subset(self, keep: np.ndarray, split: str) -> SymbolSet:
        idx = np.flatnonzero(keep)
        return SymbolSet(
            name=self.name, root=self.root, x=self.x[idx], y=self.y[idx],
            sha256=tuple(self.sha256[i] for i in idx), paths=tuple(self.paths[i] for i in idx),
            listing_checksum=self.listing_checksum, skipped_folders=self.skipped_folders,
            skipped_labels=self.skipped_labels, undecodable=self.undecodable, blank=self.blank, split=split,
            files=self.files,
        )

    def train_split(self) -> SymbolSet:
        """The images not held out."""
        return self.subset(~self.held_out_mask, "train")

    def held_out_split(self) -> SymbolSet:
        """The fixed held-out images (file hash, :func:`is_held_out`)."""
        return self.subset(self.held_out_mask, "held-out")

    def record(self) -> dict:
        """What a model card says about this set."""
        return {
            "name": self.name, "kind": "real", "path": str(self.root), "split": self.split,
            "files": self.files, "images": len(self),
            "counts": {c: n for c, n in self.counts.items() if n}, "listing_sha256": self.listing_checksum,
            "skipped_folders": list(self.skipped_folders), "undecodable": len(self.undecodable),
            "blank": len(self.blank), "held_out_rule": f"sha256[:4] as int mod 100 < {HELD_OUT_PERCENT}",
            "importer": IMPORTER_VERSION, "normalization": NORMALIZATION_VERSION,
        }


def is_held_out(sha256_hex: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """The fixed held-out rule: first 4 bytes of the file's SHA-256 (big-endian) mod 100 < percent."""
    return int(sha256_hex[:8], 16) % 100 < percent


def cache_dir() -> Path:
    """Where normalized sets are cached: ``symbols/`` in the project's data cache (``$XDG_CACHE_HOME/hdr-expr``
    or ``~/.cache/hdr-expr``, as for MNIST)."""
    from hdr_expr.datasets.mnist import cache_dir as data_cache_dir

    return data_cache_dir() / "symbols"


# --- one image --------------------------------------------------------------------------------------------


def decode_image(data: bytes) -> np.ndarray | None:
    """Image bytes → grey, RGB or RGBA array (None where the bytes are not an image cv2 can read)."""
    buf = np.frombuffer(data, np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None or img.size == 0:
        return None
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[..., 0]
        elif img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return img


def remove_border_artefacts(
    ink: np.ndarray, band: float = 0.05, min_run: float = 0.4, speck: float = 0.005
) -> np.ndarray:
    """Zero the ink that belongs to the frame, not the symbol: components lying within ``band`` of an edge
    (at least 3 px) and running along at least ``min_run`` of it (the lines some canvas drawings and scans
    carry), and specks touching the edge (area below ``speck`` of the frame and a quarter of all ink).
    Images no larger than :data:`TIGHT_RENDER_MAX` are left alone (their frame is the symbol's box).
    Returns ``ink`` itself when nothing is removed."""
    h, w = ink.shape[:2]
    if h <= TIGHT_RENDER_MAX and w <= TIGHT_RENDER_MAX:
        return ink
    mask = ink_mask(ink).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return ink
    by, bx = max(3, int(round(band * h))), max(3, int(round(band * w)))
    total = stats[1:, 4].sum()
    drop = []
    for i in range(1, n):
        x0, y0, cw, ch, area = (int(v) for v in stats[i])
        x1, y1 = x0 + cw, y0 + ch
        horizontal = cw >= min_run * w and ch <= by and (y1 <= by or y0 >= h - by)
        vertical = ch >= min_run * h and cw <= bx and (x1 <= bx or x0 >= w - bx)
        touches = x0 == 0 or y0 == 0 or x1 == w or y1 == h
        tiny = area < speck * h * w and area < 0.25 * total
        if horizontal or vertical or (touches and tiny):
            drop.append(i)
    if not drop or len(drop) == n - 1:
        return ink
    out = np.array(ink, np.float32, copy=True)
    out[np.isin(labels, drop)] = 0.0
    return out


def normalize_image(img: np.ndarray) -> np.ndarray | None:
    """A decoded image of one symbol → uint8 28×28 as the pipeline sees it (None if it holds no ink)."""
    ink = remove_border_artefacts(ink_from_gray(img))
    if not ink_mask(ink).any():
        return None
    x = normalize_symbol(ink)
    if x.max() <= 0:
        return None
    return np.round(x * 255.0).astype(np.uint8)


def _process_files(paths: Sequence[str]) -> tuple[np.ndarray, list[str], list[int]]:
    """Worker: read, hash and normalize files. Status per file: 0 ok, 1 undecodable, 2 blank."""
    cv2.setNumThreads(1)
    out = np.zeros((len(paths), 28, 28), np.uint8)
    hashes, status = [], []
    for i, p in enumerate(paths):
        try:
            data = Path(p).read_bytes()
        except OSError:
            hashes.append("")
            status.append(1)
            continue
        hashes.append(hashlib.sha256(data).hexdigest())
        img = decode_image(data)
        if img is None:
            status.append(1)
            continue
        x = normalize_image(img)
        if x is None:
            status.append(2)
            continue
        out[i] = x
        status.append(0)
    return out, hashes, status


_CHUNK = 512  # files per worker task


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _run(files: Sequence[Path], workers: int | None, progress: Callable[[int, int], None] | None):
    names = [str(f) for f in files]
    workers = _default_workers() if workers is None else max(1, workers)
    parts = [names[i : i + _CHUNK] for i in range(0, len(names), _CHUNK)]
    results = []
    done = 0
    if workers == 1 or len(parts) <= 1:
        iterator = map(_process_files, parts)
        for r in iterator:
            results.append(r)
            done += len(r[1])
            if progress:
                progress(done, len(names))
    else:
        import multiprocessing as mp

        # fork: no re-import of the caller's __main__ (spawn needs an `if __name__ == "__main__"` guard); the
        # workers use only numpy and cv2.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method)) as pool:
            for r in pool.map(_process_files, parts):
                results.append(r)
                done += len(r[1])
                if progress:
                    progress(done, len(names))
    if not results:
        return np.zeros((0, 28, 28), np.uint8), [], []
    x = np.concatenate([r[0] for r in results])
    hashes = [h for r in results for h in r[1]]
    status = [s for r in results for s in r[2]]
    return x, hashes, status


# --- listing, cache, assembly -----------------------------------------------------------------------------


def _listing_checksum(kind: str, entries: Iterable[tuple[str, int, str]]) -> str:
    h = hashlib.sha256(f"{kind}\n{IMPORTER_VERSION}\n{NORMALIZATION_VERSION}\n".encode())
    for rel, size, cls in entries:
        h.update(f"{rel}\t{size}\t{cls}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _build(
    name: str,
    root: Path,
    kind: str,
    items: list[tuple[Path, str]],  # (file, class)
    *,
    skipped_folders: tuple[str, ...] = (),
    skipped_labels: dict[str, int] | None = None,
    cache: bool,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> SymbolSet:
    entries = []
    for f, cls in items:
        try:
            size = f.stat().st_size
        except OSError:
            size = -1
        entries.append((f.relative_to(root).as_posix(), size, cls))
    checksum = _listing_checksum(kind, entries)
    cache_file = cache_dir() / f"{kind}-{_safe(name)}-{checksum[:20]}.npz"
    if cache and cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as z:
                return SymbolSet(
                    name=name, root=root, x=z["x"], y=z["y"], sha256=tuple(z["sha256"].tolist()),
                    paths=tuple(z["paths"].tolist()), listing_checksum=checksum, skipped_folders=skipped_folders,
                    skipped_labels=dict(skipped_labels or {}), undecodable=tuple(z["undecodable"].tolist()),
                    blank=tuple(z["blank"].tolist()), files=len(items),
                )
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache file is rebuilt below
    x, hashes, status = _run([f for f, _ in items], workers, progress)
    st = np.array(status, np.int8)
    ok = np.flatnonzero(st == 0)
    rels = [e[0] for e in entries]
    undecodable = tuple(rels[i] for i in np.flatnonzero(st == 1))
    blank = tuple(rels[i] for i in np.flatnonzero(st == 2))
    if len(ok) == 0:
        raise DataError(f"no readable symbol image in {root} ({len(undecodable)} undecodable, {len(blank)} blank)")
    y = np.array([_INDEX[items[i][1]] for i in ok], np.uint8)
    result = SymbolSet(
        name=name, root=root, x=x[ok], y=y, sha256=tuple(hashes[i] for i in ok), paths=tuple(rels[i] for i in ok),
        listing_checksum=checksum, skipped_folders=skipped_folders, skipped_labels=dict(skipped_labels or {}),
        undecodable=undecodable, blank=blank, files=len(items),
    )
    if cache:
        _save_cache(cache_file, result)
    return result


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:60] or "set"


def _save_cache(path: Path, s: SymbolSet) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(
                f, x=s.x, y=s.y, sha256=np.array(s.sha256, dtype="U64"), paths=np.array(s.paths, dtype=str),
                undecodable=np.array(s.undecodable, dtype=str), blank=np.array(s.blank, dtype=str),
            )
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time


# --- the two layouts --------------------------------------------------------------------------------------


def load_folder_set(
    root: str | Path,
    name: str | None = None,
    *,
    class_map: Callable[[str], str | None] = folder_class,
    cache: bool = True,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SymbolSet:
    """Read a folder-per-class set (``root/<class folder>/<images>``) → normalized :class:`SymbolSet`.

    ``name`` defaults to the folder's name. Folders whose name ``class_map`` does not know are skipped and
    listed in ``skipped_folders``; files that are not images (by suffix) are ignored. ``workers`` processes
    decode and normalize (default: up to 4; 1 runs in this process). ``progress(done, total)`` is called as
    files are processed (not when the cache answers).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"data set folder not found: {root}")
    items: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        cls = class_map(sub.name)
        if cls is None or cls not in _INDEX:
            skipped.append(sub.name)
            continue
        files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        items.extend((f, cls) for f in files)
    if not items:
        found = ", ".join(skipped[:8]) + (" …" if len(skipped) > 8 else "") if skipped else "none"
        raise DataError(
            f"no class folders with images in {root} (expected folders such as 0-9, plus, minus, times, "
            f"eq, div, dot, slash; found: {found})"
        )
    return _build(name or root.name, root, "folder", items, skipped_folders=tuple(skipped), cache=cache,
                  workers=workers, progress=progress)


HASY_CSV = "hasy-data-labels.csv"


def load_hasy(
    root: str | Path,
    name: str = "hasyv2",
    *,
    cache: bool = True,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SymbolSet:
    """Read HASYv2: ``root`` is the folder holding ``hasy-data-labels.csv`` (or the csv itself). Rows whose
    ``latex`` is not in :data:`HASY_LATEX_MAP` are skipped and counted in ``skipped_labels``; the image paths
    in the csv are relative to the csv's folder."""
    root = Path(root).expanduser()
    csv_path = root if root.is_file() else root / HASY_CSV
    base = csv_path.parent
    if not csv_path.is_file():
        raise DataError(f"HASYv2 labels not found: {csv_path}")
    try:
        text = csv_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {csv_path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"path", "latex"} <= set(reader.fieldnames):
        raise DataError(f"{csv_path} is not a HASYv2 label file (columns path,symbol_id,latex,user_id expected, "
                        f"found {reader.fieldnames})")
    items: list[tuple[Path, str]] = []
    skipped: dict[str, int] = {}
    for row in reader:
        latex = (row.get("latex") or "").strip()
        cls = HASY_LATEX_MAP.get(latex)
        if cls is None:
            skipped[latex] = skipped.get(latex, 0) + 1
            continue
        rel = (row.get("path") or "").strip()
        f = (base / rel).resolve() if rel else None
        if f is None or base.resolve() not in f.parents:
            raise DataError(f"{csv_path}: image path {rel!r} is outside the data set folder")
        items.append((base / rel, cls))
    if not items:
        raise DataError(f"{csv_path} lists no symbol of ours (0-9 + - \\times \\div = ( ) . /)")
    return _build(name, base, "hasy", items, skipped_labels=skipped, cache=cache, workers=workers,
                  progress=progress)


def load_real_set(
    path: str | Path, name: str | None = None, **kwargs
) -> SymbolSet:
    """Either layout: HASYv2 where ``path`` holds ``hasy-data-labels.csv`` (or is it), else folder per class."""
    p = Path(path).expanduser()
    if p.is_file() and p.name.endswith(".csv") or (p / HASY_CSV).is_file():
        return load_hasy(p, name or "hasyv2", **kwargs)
    return load_folder_set(p, name, **kwargs)
