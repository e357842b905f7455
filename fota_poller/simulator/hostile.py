"""Answers a hostile or misconfigured server gives: a redirect to another host, a gzip bomb.

Both are faults of `simulate --faults` (`redirect`, `gzipbomb`); fault_injector.py draws them.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

from aiohttp import web

# A gzip header with no name and no time (RFC 1952 2.3): magic, deflate, no flags, OS unknown.
_GZIP_HEADER: Final = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
_BLOCK: Final = 1 << 20


def redirect_response(request: web.Request, target: str) -> web.Response:
    """307 to the same path and query on `target` (an origin such as `http://127.0.0.1:9`).

    307 keeps the method and body, so a client that follows it re-sends a login's password.
    """
    location = target.rstrip("/") + request.path_qs
    return web.Response(status=307, headers={"Location": location}, text="redirected")


class GzipBomb:
    """A 200 whose gzip body inflates to `inflated_mb` MiB of zeros; built once, on first use.

    Built without holding the inflated bytes: a 1 MiB block of zeros compressed with a full
    flush gives a segment that inflates to the same block whatever came before, so the body
    is that segment repeated (1 GiB: about 1 MB, built in well under a second).
    """

    def __init__(self, inflated_mb: int) -> None:
        self.inflated_mb = inflated_mb
        self._body: bytes | None = None

    def response(self) -> web.Response:
        """The bomb, declared as gzip JSON, with its true (compressed) Content-Length."""
        response = web.Response(body=self.body(), content_type="application/json")
        response.headers["Content-Encoding"] = "gzip"
        return response

    def body(self) -> bytes:
        """The gzip body (cached after the first call)."""
        if self._body is None:
            self._body = _build(self.inflated_mb)
        return self._body


def _build(blocks: int) -> bytes:
    zeros = bytes(_BLOCK)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    size = (blocks * _BLOCK) & 0xFFFFFFFF  # ISIZE is the length modulo 2**32
    trailer = struct.pack("<II", crc, size)
    return b"".join((_GZIP_HEADER, segment * blocks, deflate.flush(), trailer))
