"""Helpers for the web tests: handwriting-like pen strokes, and a real ``hdr-expr serve`` on a free port.

Strokes: each symbol is a few polylines in a unit box, laid out in a row. The browser test moves the mouse along
them on the page's canvas (pointer events, as a person's pen would); the API tests draw the same strokes into
images with OpenCV. Coordinates: x right, y down; a digit's box is ``DIGIT_WIDTH`` × 1 (height 1), operators
sit at mid-height and are a little smaller.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np

Stroke = list[tuple[float, float]]

DIGIT_WIDTH = 0.6


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 14) -> Stroke:
    """Points on an ellipse from angle a0 to a1 (degrees; 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


# Slightly irregular on purpose: a person's digits are not a font's.
GLYPHS: dict[str, list[Stroke]] = {
    "0": [_arc(0.3, 0.5, 0.27, 0.48, -90, 275, 24)],
    "1": [[(0.12, 0.2), (0.33, 0.02), (0.31, 0.5), (0.3, 1.0)]],
    "2": [_arc(0.3, 0.28, 0.26, 0.25, 200, 370, 12) + [(0.45, 0.62), (0.22, 0.85), (0.03, 1.0), (0.3, 0.99), (0.6, 0.98)]],
    "3": [_arc(0.28, 0.25, 0.24, 0.23, 200, 440, 14) + _arc(0.28, 0.73, 0.28, 0.26, -90, 150, 14)],
    "4": [[(0.42, 0.0), (0.02, 0.66), (0.58, 0.64)], [(0.44, 0.3), (0.42, 1.0)]],
    "5": [[(0.55, 0.02), (0.1, 0.02), (0.06, 0.43)] + _arc(0.28, 0.68, 0.28, 0.3, -120, 150, 14)],
    "6": [[(0.5, 0.02), (0.28, 0.2), (0.1, 0.45)] + _arc(0.3, 0.72, 0.26, 0.27, 180, 540, 22)],
    "7": [[(0.02, 0.05), (0.58, 0.03), (0.35, 0.5), (0.2, 1.0)]],
    "8": [_arc(0.3, 0.25, 0.22, 0.23, 90, 450, 18) + _arc(0.3, 0.74, 0.27, 0.26, -90, 270, 20)],
    "9": [_arc(0.3, 0.27, 0.25, 0.25, 0, 365, 20) + [(0.55, 0.3), (0.5, 0.65), (0.45, 1.0)]],
    "+": [[(0.3, 0.28), (0.31, 0.74)], [(0.06, 0.5), (0.55, 0.51)]],
    "-": [[(0.06, 0.52), (0.55, 0.5)]],
    "=": [[(0.05, 0.38), (0.56, 0.37)], [(0.05, 0.62), (0.56, 0.63)]],
    "×": [[(0.1, 0.3), (0.5, 0.72)], [(0.5, 0.3), (0.1, 0.72)]],
}


def layout(text: str, *, x0: float, y0: float, height: float, gap: float = 0.3) -> list[Stroke]:
    """The strokes of ``text`` written left to right from (x0, y0), digits ``height`` tall, in page units."""
    strokes: list[Stroke] = []
    x = x0
    for ch in text:
        if ch == " ":
            x += height * 0.4
            continue
        for stroke in GLYPHS[ch]:
            strokes.append([(x + px * height, y0 + py * height) for px, py in stroke])
        x += (DIGIT_WIDTH + gap) * height
    return strokes


def text_width(text: str, height: float, gap: float = 0.3) -> float:
    return sum(0.4 * height if ch == " " else (DIGIT_WIDTH + gap) * height for ch in text)


def draw_image(text: str, *, height: int = 80, thickness: int | None = None, margin: int = 40) -> np.ndarray:
    """An RGB image (white ground, black ink) of ``text`` written with these strokes."""
    import cv2

    w = int(text_width(text, height) + 2 * margin)
    h = int(height + 2 * margin)
    img = np.full((h, w, 3), 255, np.uint8)
    t = thickness or max(2, height // 12)
    for stroke in layout(text, x0=margin, y0=margin, height=height):
        pts = np.array([[round(x), round(y)] for x, y in stroke], np.int32)
        cv2.polylines(img, [pts], False, (0, 0, 0), t, cv2.LINE_AA)
    return img


def png_bytes(image: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", image[:, :, ::-1] if image.ndim == 3 else image)
    assert ok
    return buf.tobytes()


# --------------------------------------------------------------------------------------------- a real server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


@contextlib.contextmanager
def serving(*args: str, startup_s: float = 60.0) -> Iterator[str]:
    """``hdr-expr serve --port <free> *args`` in a child process; yields its base URL; stops it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-c", "from hdr_expr.cli.app import main; main()", "serve", "--port", str(port),
           "--log-level", "warning", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hdr-expr serve exited with {proc.returncode}: {proc.stdout.read()}")
            try:
                get_json(base + "/api/health", timeout=1.0)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"hdr-expr serve did not answer on {base} within {startup_s:.0f} s") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
