"""The ASGI app behind ``hdr-expr serve``: one page, a JSON API, and the API's OpenAPI description.

Routes::

    GET  /                 the page (static/index.html; its script and style beside it; no external assets)
    POST /api/recognize    an image → the object ``hdr-expr recognize --json`` prints for that page
    GET  /api/health       liveness, the loaded model and the server's limits
    GET  /openapi.json     the API's OpenAPI 3 description;   GET /docs   a page that shows it

The model is loaded once, when the app is created. Recognition is CPU work and runs on a small thread pool
off the event loop; the LiteRT interpreter behind it is shared and serialized by the classifier's lock. The
request body is read through a counter that stops at the upload cap, so an oversized upload is refused
after at most the cap is read (at once, when it announces its length); bad input of any kind is answered with
a 4xx and ``{"error": "<one line a person can act on>"}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hdr_expr import __version__
from hdr_expr.errors import HdrExprError, InputError
from hdr_expr.pipeline.io import MAX_PIXELS, iter_pages

log = logging.getLogger("hdr_expr.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_UPLOAD_MB = 20.0
#: Pages read from one upload with ``?page=all`` (a PDF or TIFF); more is refused with 413.
MAX_PAGES = 20
#: The multipart field that carries the image.
UPLOAD_FIELD = "file"

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    ),
]


class ApiError(Exception):
    """A request the API refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------------------------- reading the body


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / (1024 * 1024):.3g} MB"


def _too_large(cap: int, size: int | None = None) -> ApiError:
    got = f" ({_mb(size)})" if size is not None else ""
    return ApiError(
        413,
        f"upload too large{got}: the limit is {_mb(cap)} (start the server with a larger --max-upload-mb, "
        "or send a smaller image)",
    )


async def _capped(request: Request, cap: int) -> AsyncIterator[bytes]:
    """The request body, chunk by chunk, refused with 413 as soon as it passes ``cap`` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            announced = int(length)
        except ValueError:
            raise ApiError(400, "bad Content-Length header") from None
        if announced > cap:
            raise _too_large(cap, announced)
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise _too_large(cap)
        if chunk:
            yield chunk


async def read_upload(request: Request, cap: int) -> tuple[str, bytes]:
    """(display name, bytes) of the uploaded image: a multipart field ``file``, or else the raw body.

    Any content type other than ``multipart/form-data`` is taken as the image's bytes (the format is told by
    the bytes themselves); ``?name=`` names a raw upload in the answer and in error messages.
    """
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.lower().startswith("multipart/form-data"):
            parser = MultiPartParser(request.headers, _capped(request, cap), max_files=4, max_fields=16)
            try:
                form = await parser.parse()
            except MultiPartException as exc:
                raise ApiError(400, f"bad multipart upload: {exc}") from None
            try:
                item = form.get(UPLOAD_FIELD)
                if item is None or isinstance(item, str):
                    raise ApiError(
                        400, f"no file in the upload: send the image in the multipart field '{UPLOAD_FIELD}'"
                    )
                data = await item.read()
                name = Path(item.filename or "").name or "upload"
            finally:
                await form.close()
        else:
            body = bytearray()
            async for chunk in _capped(request, cap):
                body.extend(chunk)
            data = bytes(body)
            name = Path(request.query_params.get("name", "") or "").name or "upload"
    except ClientDisconnect:
        raise ApiError(400, "the client closed the connection before the upload was complete") from None
    if not data:
        raise ApiError(400, "empty upload (0 bytes): send an image file (PNG, JPEG, TIFF, BMP, WebP, GIF or PDF)")
    return name[:200], data


def _page_param(request: Request) -> int | None:
    """``?page=N`` (1-based; default 1) or ``?page=all`` (None)."""
    raw = request.query_params.get("page", "1").strip().lower()
    if raw == "all":
        return None
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    raise ApiError(400, f"bad page {raw!r}: give a page number (1, 2, ...) or 'all'")


# --------------------------------------------------------------------------------------------- recognition


@dataclass
class Reader:
    """Bytes → result dicts, on a worker thread. Raises :class:`ApiError` for input it cannot read."""

    recognizer: Any  # hdr_expr.pipeline.recognize.Recognizer (anything with read_image(image, file=, page=))
    max_pixels: int = MAX_PIXELS
    max_pages: int = MAX_PAGES

    def __call__(self, data: bytes, name: str, page: int | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        try:
            for pg in iter_pages(data, name=name, max_pixels=self.max_pixels):
                if page is not None and pg.page != page:
                    continue
                if len(out) >= self.max_pages:
                    raise ApiError(413, f"{name}: more than {self.max_pages} pages; send them one by one "
                                        "(?page=N reads one page)")
                result = self.recognizer.read_image(pg.image, file=name, page=pg.page)
                out.append(result.to_dict())
                if page is not None:
                    break
        except InputError as exc:
            message = str(exc)
            raise ApiError(413 if "too large" in message else 422, message) from None
        if not out:
            raise ApiError(422, f"{name}: has no page {page}")
        return out


def _load_recognizer(model: str | Path | None) -> Any:
    from hdr_expr.pipeline.recognize import Recognizer

    return Recognizer(model)


def warm_up(recognizer: Any) -> None:
    """Read one small drawing now, so the first person's request does not pay for the lazy imports
    (preprocessing, segmentation, sympy) and the interpreter's first allocation."""
    import numpy as np

    img = np.full((64, 160, 3), 255, np.uint8)
    img[16:48, 30:34] = 0  # a "1"
    img[30:34, 60:90] = 0  # a "-"
    img[16:48, 120:124] = 0  # a "1"
    recognizer.read_image(img, file="warm-up")


def _model_info(recognizer: Any) -> dict[str, Any]:
    """What /api/health says about the model (best effort: the recognizer's classifier and card)."""
    info: dict[str, Any] = {}
    for path in ("classifier.model_dir", "model_dir", "classifier._model_dir"):
        obj: Any = recognizer
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None and hasattr(obj, "card"):
            card = obj.card
            info = {"name": card.get("name"), "task": card.get("task"), "classes": list(card.get("classes", []))}
            break
    if not info.get("classes"):
        classes = getattr(getattr(recognizer, "classifier", None), "classes", None)
        if classes:
            info["classes"] = list(classes)
    return info


# --------------------------------------------------------------------------------------------- the app


class _SecurityHeaders:
    """Adds the security headers (a strict same-origin CSP: the page loads nothing from elsewhere)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k, v) for k, v in _SECURITY_HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    model: str | Path | None = None,
    *,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    max_pixels: int = MAX_PIXELS,
    workers: int | None = None,
    recognizer: Any = None,
    warm: bool = True,
) -> Starlette:
    """The web app. Loads the model now (a bad model directory raises :class:`~hdr_expr.errors.ModelError`).

    ``max_upload_mb`` caps one request's body; ``max_pixels`` caps width × height per page (checked on the
    image header before decoding); ``workers`` threads run recognitions (default: the CPU cores, at most 4).
    ``recognizer`` replaces the model with any object that has ``read_image(image, file=, page=)``; ``warm``
    reads one small drawing before the app is returned (see :func:`warm_up`).
    """
    if max_upload_mb <= 0:
        raise ValueError("max_upload_mb must be positive")
    if recognizer is None:
        recognizer = _load_recognizer(model)
    if warm:
        warm_up(recognizer)
    if workers is None:
        from hdr_expr.pipeline.classify import default_threads

        workers = min(4, default_threads())
    cap = int(max_upload_mb * 1024 * 1024)
    reader = Reader(recognizer, max_pixels=max_pixels)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hdr-expr-recognize")
    # Bounds the uploads held in memory at once; more requests wait (and their clients with them). One
    # semaphore per event loop: asyncio primitives belong to the loop that first waits on them.
    slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()

    def loop_slots() -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in slots:
            slots[loop] = asyncio.Semaphore(workers * 4)
        return slots[loop]
    model_info = _model_info(recognizer)

    async def recognize(request: Request) -> Response:
        page = _page_param(request)
        async with loop_slots():
            name, data = await read_upload(request, cap)
            t0 = time.perf_counter()
            loop = asyncio.get_running_loop()
            pages = await loop.run_in_executor(pool, partial(reader, data, name, page))
        seconds = time.perf_counter() - t0
        log.info("read %s (%d bytes, %d page(s)) in %.3f s", name, len(data), len(pages), seconds)
        headers = {"x-recognize-seconds": f"{seconds:.4f}"}
        if page is None:
            return JSONResponse({"pages": pages}, headers=headers)
        body = pages[0]
        # A page the recognizer could not read keeps its result object, with its "error", as a 422.
        return JSONResponse(body, status_code=422 if body.get("error") else 200, headers=headers)

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "model": model_info,
                "max_upload_bytes": cap,
                "max_pixels": max_pixels,
                "workers": workers,
            }
        )

    async def openapi(request: Request) -> Response:
        from hdr_expr.web.openapi import openapi_schema

        return JSONResponse(openapi_schema(__version__, cap, max_pixels))

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    async def docs(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "docs.html", headers={"cache-control": "no-cache"})

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        if exc.status_code == 405 and request.url.path == "/api/recognize":
            message = "method not allowed: POST an image to /api/recognize"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    async def library_error(request: Request, exc: Exception) -> Response:
        # A library error that is not about the input (a model that fails): the server's fault, said plainly.
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": f"server error: {exc}"}, status_code=500)

    async def internal_error(request: Request, exc: Exception) -> Response:
        # Logged with its traceback by Starlette's ServerErrorMiddleware; the client gets one line, no traceback.
        return JSONResponse({"error": f"internal server error ({type(exc).__name__}); see the server log"},
                            status_code=500)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/recognize", recognize, methods=["POST"]),
        Route("/api/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    handlers: dict[Any, Callable[..., Any]] = {
        ApiError: api_error,
        HTTPException: http_error,
        HdrExprError: library_error,
        Exception: internal_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.add_middleware(_SecurityHeaders)
    app.state.recognizer = recognizer
    app.state.max_upload_bytes = cap
    return app
