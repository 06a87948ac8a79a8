"""Headless Chromium for the tests that look at a page (the batch HTML report, the web page): Debian's chromium
driven by Playwright's Python package (never `playwright install`: the browser comes from the system)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """``$HDR_EXPR_CHROMIUM``, Debian's /usr/bin/chromium, or a chromium on PATH."""
    for candidate in (os.environ.get("HDR_EXPR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where a test saves a screenshot for a person to look at: ``$HDR_EXPR_SCREENSHOTS`` if set, else tmp."""
    keep = os.environ.get("HDR_EXPR_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep) / name
    return tmp_path / name
