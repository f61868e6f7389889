"""HTTP/1.1 response bytes for the feature server: status line, headers, ``content-length``, body.

One place for the reason phrases and the JSON header, shared by the llhttp protocol (``http.py``) and the request
handlers (``server.py``).
"""

from __future__ import annotations

import orjson

REASONS = {100: b"Continue", 200: b"OK", 202: b"Accepted", 400: b"Bad Request", 401: b"Unauthorized",
            403: b"Forbidden", 404: b"Not Found", 405: b"Method Not Allowed", 408: b"Request Timeout",
            413: b"Content Too Large", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
            501: b"Not Implemented", 503: b"Service Unavailable"}  # fmt: skip
JSON_HEADERS = [(b"content-type", b"application/json")]


def encode(status: int, headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool, head: bool) -> bytes:
    """The whole response; ``head`` keeps the headers (and the body's length) but sends no body."""
    lines = [b"HTTP/1.1 %d %s" % (status, REASONS.get(status, b"Unknown"))]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"content-length: %d" % len(body))
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body)


def detail(message: str) -> bytes:
    """The JSON error body Feast's server sends: ``{"detail": message}``."""
    return orjson.dumps({"detail": message})


__all__ = ["JSON_HEADERS", "REASONS", "detail", "encode"]
