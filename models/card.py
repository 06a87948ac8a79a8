"""Self-describing model directories: ``model.keras``, ``model.tflite`` and ``card.json``.

The card holds the class list, the characters they print as, the input normalization, the training recipe,
every data source (with checksums), the measured metrics, and the SHA-256 of each file in the directory.
Loading checks the hashes. Nothing outside this module knows the file names inside a model directory.
This module imports neither TensorFlow nor Keras: the recognize path uses it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from hdr_expr.errors import ModelError

CARD_FILE = "card.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
CARD_SCHEMA = 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_model_path() -> Path:
    """The model directory that ships inside the package."""
    return Path(__file__).resolve().parent / "default"


@dataclass(frozen=True)
class ModelDir:
    """A verified model directory and its card."""

    path: Path
    card: dict[str, Any]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.card["classes"])

    @property
    def tflite_path(self) -> Path:
        return self.path / TFLITE_FILE

    @property
    def keras_path(self) -> Path:
        return self.path / KERAS_FILE

    @property
    def card_path(self) -> Path:
        return self.path / CARD_FILE


def load_model_dir(path: str | Path | None = None, *, verify: Iterable[str] | None = None) -> ModelDir:
    """Open a model directory (default: the shipped model) and check its files against the card.

    ``verify`` names the files whose SHA-256 to check (default: every file the card lists); the recognize path
    checks only the LiteRT file it loads.
    """
    root = Path(path) if path is not None else default_model_path()
    card_path = root / CARD_FILE
    if not root.is_dir():
        hint = " (train one with `hdr-expr train symbols`)" if path is None else ""
        raise ModelError(f"model directory not found: {root}{hint}")
    if not card_path.is_file():
        raise ModelError(f"{root} is not a model directory: {CARD_FILE} is missing")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read model card {card_path}: {exc}") from None
    if not isinstance(card, dict) or not isinstance(card.get("classes"), list) or not card["classes"]:
        raise ModelError(f"model card {card_path} has no class list")
    files: dict[str, str] = card.get("files") or {}
    if not files:
        raise ModelError(f"model card {card_path} lists no files")
    names = list(files) if verify is None else list(verify)
    for name in names:
        expected = files.get(name)
        file = root / name
        if expected is None:
            raise ModelError(f"model card {card_path} has no checksum for {name}")
        if not file.is_file():
            raise ModelError(f"model file missing: {file}")
        actual = sha256_file(file)
        if actual != expected:
            raise ModelError(
                f"model file {file} does not match its card (SHA-256 {actual[:12]}…, card says {expected[:12]}…)"
            )
    return ModelDir(root, card)


def write_model_card(path: str | Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``card.json`` into a model directory, adding the SHA-256 of each model file present."""
    root = Path(path)
    card = dict(card)
    card["schema"] = CARD_SCHEMA
    card["files"] = {
        name: sha256_file(root / name) for name in (KERAS_FILE, TFLITE_FILE) if (root / name).is_file()
    }
    (root / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card
