"""The web API against the real app and the shipped model: good, bad and oversized inputs; limits; concurrency.

In-process through Starlette's TestClient, plus a real ``hdr-expr serve`` (uvicorn, loopback, free port) for
what only a real server shows: the CLI, chunked uploads cut off at the cap, concurrent clients.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import struct
import urllib.parse
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install 'hdr-expr[web]')")
pytest.importorskip("httpx", reason="httpx (the test extra) is needed by Starlette's TestClient")

with warnings.catch_warnings():  # newer Starlette prefers httpx2 for its TestClient; httpx still works
    warnings.filterwarnings("ignore", message=".*httpx.*", category=UserWarning)
    from starlette.testclient import TestClient  # noqa: E402
from web_helpers import draw_image, png_bytes, serving  # noqa: E402

from hdr_expr.pipeline.recognize import Recognizer  # noqa: E402
from hdr_expr.web.app import STATIC_DIR, create_app  # noqa: E402

def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height pixels, with (almost) no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="module")
def client(recognizer) -> TestClient:
    return TestClient(create_app(recognizer=recognizer), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def digits_png() -> bytes:
    return png_bytes(draw_image("4725"))


@pytest.fixture(scope="module")
def other_png() -> bytes:
    return png_bytes(draw_image("3908"))


def _expected(recognizer: Recognizer, data: bytes, name: str) -> dict:
    """What ``hdr-expr recognize --json`` prints for the first page of these bytes."""
    return next(iter(recognizer.read(data, name=name))).to_dict()


# --------------------------------------------------------------------------------------------- good input


def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["model"]["classes"][:10] == list("0123456789")
    assert body["max_upload_bytes"] == 20 * 1024 * 1024


def test_recognize_multipart_is_the_cli_json(client, recognizer, digits_png):
    r = client.post("/api/recognize", files={"file": ("sum.png", digits_png, "image/png")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body == _expected(recognizer, digits_png, "sum.png")
    assert body["file"] == "sum.png" and body["page"] == 1 and body["error"] is None
    assert body["size"] == list(draw_image("4725").shape[1::-1])
    assert len(body["lines"]) == 1
    line = body["lines"][0]
    assert line["text"] == "4725"
    assert line["value"] == "4725"
    sym = line["symbols"][0]
    assert set(sym) == {"label", "confidence", "box", "alternatives"} and len(sym["box"]) == 4


def test_recognize_raw_body(client, recognizer, other_png):
    r = client.post("/api/recognize?name=raw.png", content=other_png, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.json() == _expected(recognizer, other_png, "raw.png")
    assert r.json()["lines"][0]["text"] == "3908"
    # No content type at all, or curl --data-binary's default: still the image (told by its bytes).
    for headers in ({"content-type": "application/octet-stream"}, {"content-type": "application/x-www-form-urlencoded"}):
        r2 = client.post("/api/recognize", content=other_png, headers=headers)
        assert r2.status_code == 200 and r2.json()["lines"] == r.json()["lines"] and r2.json()["file"] == "upload"


def test_jpeg_and_blank_page(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(draw_image("61")).save(buf, format="JPEG", quality=85)
    r = client.post("/api/recognize", files={"file": ("photo.jpg", buf.getvalue(), "image/jpeg")})
    assert r.status_code == 200 and r.json()["lines"][0]["text"] == "61"
    blank = png_bytes(np.full((300, 400, 3), 255, np.uint8))
    r = client.post("/api/recognize", files={"file": ("blank.png", blank, "image/png")})
    assert r.status_code == 200 and r.json()["lines"] == [] and r.json()["error"] is None


def test_multipage_tiff_pages(client):
    from PIL import Image

    frames = [Image.fromarray(draw_image(t)).convert("L") for t in ("12", "345")]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    data = buf.getvalue()
    files = {"file": ("two.tiff", data, "image/tiff")}
    first = client.post("/api/recognize", files=files)
    assert first.status_code == 200 and first.json()["page"] == 1 and first.json()["lines"][0]["text"] == "12"
    second = client.post("/api/recognize?page=2", files=files)
    assert second.status_code == 200 and second.json()["page"] == 2 and second.json()["lines"][0]["text"] == "345"
    both = client.post("/api/recognize?page=all", files=files)
    assert both.status_code == 200
    assert [p["page"] for p in both.json()["pages"]] == [1, 2]
    assert both.json()["pages"][1] == second.json()
    missing = client.post("/api/recognize?page=3", files=files)
    assert missing.status_code == 422 and "no page 3" in missing.json()["error"]
    bad = client.post("/api/recognize?page=zero", files=files)
    assert bad.status_code == 400 and "bad page" in bad.json()["error"]


# --------------------------------------------------------------------------------------------- bad input


def _truncated_png() -> bytes:
    data = png_bytes(draw_image("58"))
    return data[: len(data) // 2]


BAD_INPUTS = [
    # (id, how it is sent, payload, status, words the message must hold)
    ("empty-raw", "raw", b"", 400, "empty upload"),
    ("empty-file", "multipart", b"", 400, "empty upload"),
    ("text-file", "multipart", b"12+7=19\nnot an image at all\n", 422, "text file"),
    ("text-raw", "raw", "just some words, ünïcode too".encode(), 422, "text file"),
    ("truncated-png", "multipart", "truncated", 422, "truncated"),
    ("huge-header", "multipart", "huge", 413, "too large"),
    ("one-pixel", "multipart", "tiny", 422, "too small"),
    ("zip", "multipart", b"PK\x03\x04" + b"\x00" * 100, 422, "archive"),
    ("jpeg-garbage", "raw", b"\xff\xd8\xff\xe0" + b"\x13" * 300, 422, "JPEG"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_4xx_and_the_server_goes_on(client, digits_png, case):
    _, how, payload, status, words = case
    if payload == "truncated":
        payload = _truncated_png()
    elif payload == "huge":
        payload = _png_claiming(50_000, 50_000)
    elif payload == "tiny":
        payload = png_bytes(np.zeros((1, 1, 3), np.uint8))
    if how == "raw":
        r = client.post("/api/recognize", content=payload, headers={"content-type": "image/png"})
    else:
        r = client.post("/api/recognize", files={"file": ("bad.png", payload, "image/png")})
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert words in body["error"] and "Traceback" not in body["error"] and "\n" not in body["error"]
    ok = client.post("/api/recognize", files={"file": ("good.png", digits_png, "image/png")})
    assert ok.status_code == 200 and ok.json()["lines"][0]["text"] == "4725"


def test_request_mistakes(client):
    r = client.post("/api/recognize", files={"picture": ("x.png", b"abc", "image/png")})
    assert r.status_code == 400 and "multipart field 'file'" in r.json()["error"]
    r = client.post("/api/recognize", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]
    r = client.get("/api/recognize")
    assert r.status_code == 405 and "POST" in r.json()["error"]
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "not found"}


def test_pixel_cap(recognizer):
    small_cap = TestClient(create_app(recognizer=recognizer, max_pixels=200_000), raise_server_exceptions=False)
    big = png_bytes(np.full((600, 600, 3), 255, np.uint8))  # 360,000 px
    r = small_cap.post("/api/recognize", files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert "too large" in r.json()["error"] and "limit" in r.json()["error"]


def test_upload_cap(recognizer, digits_png):
    capped = TestClient(create_app(recognizer=recognizer, max_upload_mb=0.01), raise_server_exceptions=False)
    big = digits_png + b"\x00" * (20 * 1024)
    for r in (
        capped.post("/api/recognize", content=big, headers={"content-type": "image/png"}),
        capped.post("/api/recognize", files={"file": ("big.png", big, "image/png")}),
    ):
        assert r.status_code == 413
        assert "upload too large" in r.json()["error"] and "--max-upload-mb" in r.json()["error"]
    ok = capped.post("/api/recognize", files={"file": ("ok.png", digits_png, "image/png")})
    assert len(digits_png) < 10 * 1024 and ok.status_code == 200


def test_upload_cap_stops_reading_the_body(recognizer):
    """A body with no announced length is refused once the cap is passed: the rest is never read."""
    app = create_app(recognizer=recognizer, max_upload_mb=1)
    chunk = b"\x89PNG\r\n\x1a\n" + b"\x00" * (64 * 1024 - 8)
    total_chunks = 200  # 12.5 MB offered
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < total_chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/recognize", "raw_path": b"/api/recognize", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"image/png"), (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and b"upload too large" in body
    assert pulled <= 17  # 1 MB = 16 chunks (+1 that passes the cap), not 200


# --------------------------------------------------------------------------------------------- the page and docs


def test_page_is_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for needle in ('id="pad"', 'capture="environment"', 'accept="image/*"', 'id="file-input"', 'id="undo"',
                   'id="clear"', 'id="read"', "/static/app.js", "/static/app.css"):
        assert needle in html
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    for name in ("index.html", "app.js", "app.css", "docs.html", "docs.js", "docs.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        # No CDN, no fonts or scripts from elsewhere: the page works offline.
        assert "https://" not in text and "http://" not in text.replace("http://www.w3.org/", ""), name
        assert client.get(f"/static/{name}").status_code == 200


def test_openapi_describes_the_api(client, recognizer, digits_png):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/api/recognize"]["post"]
    assert {"200", "400", "413", "422"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "/api/health" in spec["paths"]
    # The documented fields are the ones the API returns.
    page = _expected(recognizer, digits_png, "x.png")
    schemas = spec["components"]["schemas"]
    assert set(schemas["Page"]["properties"]) == set(page)
    assert set(schemas["Line"]["properties"]) == set(page["lines"][0])
    assert set(schemas["Symbol"]["properties"]) == set(page["lines"][0]["symbols"][0])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text


# --------------------------------------------------------------------------------------------- a real server


def _post(base: str, data: bytes, name: str) -> tuple[int, dict]:
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", f"/api/recognize?name={urllib.parse.quote(name)}", body=data,
                     headers={"Content-Type": "image/png"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server() -> str:
    with serving("--max-upload-mb", "1", "--workers", "2") as base:
        yield base


def test_server_concurrent_requests_get_their_own_results(server, recognizer):
    texts = ["4725", "3908", "61", "12", "345", "7", "980", "56"]
    images = {t: png_bytes(draw_image(t)) for t in texts}
    expected = {t: _expected(recognizer, images[t], "x")["lines"] for t in texts}
    jobs = [(texts[i % len(texts)], f"req-{i}") for i in range(32)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: (job, _post(server, images[job[0]], job[1])), jobs))
    for (text, name), (status, body) in answers:
        assert status == 200, body
        assert body["file"] == name  # matched to its own request
        assert body["lines"] == expected[text]


def test_server_refuses_a_chunked_upload_over_the_cap(server):
    url = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunk = b"\x89PNG\r\n\x1a\n" + b"\x00" * (256 * 1024 - 8)
    try:
        conn.putrequest("POST", "/api/recognize")
        conn.putheader("Content-Type", "image/png")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for _ in range(40):  # 10 MB offered; the server stops reading after 1 MB
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all
        resp = conn.getresponse()
        assert resp.status == 413 and "upload too large" in json.loads(resp.read())["error"]
    finally:
        conn.close()
    status, body = _post(server, png_bytes(draw_image("61")), "after.png")
    assert status == 200 and body["lines"][0]["text"] == "61"


def test_server_refuses_an_announced_oversized_upload(server):
    status, body = _post(server, b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), "big.png")
    assert status == 413 and "the limit is 1 MB" in body["error"]


def test_serve_with_a_bad_model_dir_says_so(tmp_path: Path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "from hdr_expr.cli.app import main; main()", "serve", "--model", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith("hdr-expr: error:") and "card.json" in proc.stderr
    assert "Traceback" not in proc.stderr
