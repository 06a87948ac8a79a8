"""The API's OpenAPI 3 description (served at ``/openapi.json``, shown by ``/docs``).

Written out by hand rather than generated from docstrings: the result objects are described once here, with
the fields :meth:`hdr_expr.pipeline.results.PageResult.to_dict` writes (a test checks the two agree).
"""

from __future__ import annotations

from typing import Any

_BOX = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 4,
    "maxItems": 4,
    "description": "x, y, width, height in page pixels",
}

_SYMBOL = {
    "type": "object",
    "required": ["label", "confidence", "box", "alternatives"],
    "properties": {
        "label": {"type": "string", "description": "the symbol read: 0-9 + - × ÷ = ( ) . /"},
        "confidence": {"type": "number"},
        "box": _BOX,
        "alternatives": {
            "type": "array",
            "description": "the classifier's runners-up: [label, probability] pairs",
            "items": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
        },
    },
}

_LINE = {
    "type": "object",
    "required": ["text", "expression", "latex", "value", "answer", "correct", "error", "label", "confidence",
                 "box", "symbols"],
    "properties": {
        "text": {"type": "string", "description": "the line as read, e.g. 12+7×3="},
        "expression": {"type": "string", "nullable": True, "description": "ASCII form, e.g. 12+7*3"},
        "latex": {"type": "string", "nullable": True},
        "value": {"type": "string", "nullable": True, "description": "exact value of the left side: 33, -7/3, 2.5"},
        "answer": {"type": "string", "nullable": True, "description": "what is written after ="},
        "correct": {"type": "boolean", "nullable": True, "description": "verdict on the written answer"},
        "error": {"type": "string", "nullable": True, "description": "why the line has no value"},
        "label": {"type": "string", "nullable": True,
                  "description": "an exercise number written before the expression (3), 12.), not in text"},
        "confidence": {"type": "number"},
        "box": _BOX,
        "symbols": {"type": "array", "items": {"$ref": "#/components/schemas/Symbol"}},
    },
}

_PAGE = {
    "type": "object",
    "description": "One page: the same object `hdr-expr recognize --json` prints for it.",
    "required": ["file", "page", "error", "size", "turned", "crossed_out", "lines"],
    "properties": {
        "file": {"type": "string", "description": "the upload's file name (or ?name=, or 'upload')"},
        "page": {"type": "integer"},
        "error": {"type": "string", "nullable": True},
        "size": {"type": "array", "items": {"type": "integer"}, "nullable": True, "description": "width, height"},
        "turned": {"type": "integer", "enum": [0, 90, 180, 270],
                   "description": "degrees (counter-clockwise) the page was turned to be read: it came on its side or "
                                  "upside down; boxes are in the page's pixels as given"},
        "crossed_out": {"type": "array", "items": _BOX,
                        "description": "boxes of writing taken for crossed out (a scribble, a strike-through with "
                                       "the number under it) and not read"},
        "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
    },
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "one line a person can act on"}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_schema(version: str, max_upload_bytes: int, max_pixels: int) -> dict[str, Any]:
    """The OpenAPI document for a server with these limits."""
    mb = max_upload_bytes / (1024 * 1024)
    image_body = {"type": "string", "format": "binary"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "hdr-expr",
            "version": version,
            "description": "Read handwritten arithmetic from an image: what is written, what it equals, and "
                           "whether the written answer is right.",
        },
        "paths": {
            "/api/recognize": {
                "post": {
                    "summary": "Read an image",
                    "description": (
                        "Send one image (PNG, JPEG, TIFF, BMP, WebP, GIF or PDF) as the multipart field `file`, "
                        "or as the raw request body (any content type but multipart; the format is told by the "
                        f"bytes). Uploads are capped at {mb:.3g} MB and pages at {max_pixels / 1e6:.0f} Mpx. "
                        "The answer is the page's result object, exactly as `hdr-expr recognize --json` prints "
                        "it; for a PDF or multi-page TIFF, `?page=N` picks the page (default 1) and "
                        "`?page=all` answers `{\"pages\": [...]}`."
                    ),
                    "parameters": [
                        {"name": "page", "in": "query", "required": False,
                         "schema": {"type": "string", "default": "1"},
                         "description": "page number (1-based) or 'all'"},
                        {"name": "name", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "the file name to report for a raw-body upload"},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": image_body}},
                            },
                            "image/*": {"schema": image_body},
                            "application/pdf": {"schema": image_body},
                            "application/octet-stream": {"schema": image_body},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "the page read (with ?page=all: {\"pages\": [page, ...]})",
                            "content": {"application/json": {"schema": {"oneOf": [
                                {"$ref": "#/components/schemas/Page"},
                                {"type": "object", "required": ["pages"], "properties": {
                                    "pages": {"type": "array", "items": {"$ref": "#/components/schemas/Page"}}}},
                            ]}}},
                        },
                        "400": _error("no image: an empty body, no `file` field, a broken multipart body, a bad "
                                      "?page"),
                        "413": _error("the upload is over the size cap, the image over the pixel cap, or a "
                                      "document has too many pages"),
                        "422": _error("not a readable image: a text file, a truncated or corrupt image, an "
                                      "unsupported format, a page that does not exist"),
                    },
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Liveness, the loaded model and the server's limits",
                    "responses": {"200": {"description": "the server is up", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {
                            "status": {"type": "string", "enum": ["ok"]},
                            "version": {"type": "string"},
                            "model": {"type": "object"},
                            "max_upload_bytes": {"type": "integer"},
                            "max_pixels": {"type": "integer"},
                            "workers": {"type": "integer"},
                        }}}}}},
                }
            },
        },
        "components": {"schemas": {"Page": _PAGE, "Line": _LINE, "Symbol": _SYMBOL, "Error": _ERROR}},
    }
