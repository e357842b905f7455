"""How a response body is read: whole, within `poll.max_response_mb`, decompressed here.

aiohttp's own decompression is off (`open_session`): it let the cap see only the compressed
bytes, and it refuses any body that inflates past 32 MiB, a genuine one too. Here the cap
counts decompressed bytes while the body arrives, whatever Content-Length says.

A compressed body is inflated twice: once as it arrives, a step at a time with the output
thrown away, only to count it; then, once the count fits the cap, whole. Only the compressed
bytes are kept meanwhile, so a gzip bomb costs the CPU of inflating cap + 1 bytes and the
memory of its compressed size, never of what it expands to, however many arrive at once.
An uncompressed body (the usual case) is read as before, in one call when its length is known.

On a request's path: inside `UpgradeClient.get` (and each token request), from the status
line to the whole body.
"""

from __future__ import annotations

import zlib
from typing import Final

import aiohttp
from aiohttp import hdrs

from fota_poller.errors import UnreadableBodyError

# What `open_session` asks for: the encodings `read_body` can undo.
ACCEPT_ENCODING: Final = "gzip, deflate"

# zlib's wbits per encoding: 16 + 15 reads the gzip wrapper; "deflate" is decided per body.
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ENCODINGS: Final = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
# Output of one inflate call while counting: the memory a compressed body costs beyond its
# own bytes, per body in flight.
_COUNT_STEP: Final = 1 << 20
_IDENTITY: Final = frozenset({"", "identity"})


async def read_body(response: aiohttp.ClientResponse, max_bytes: int | None) -> bytes:
    """The whole decoded body; `UnreadableBodyError` once it passes `max_bytes` decoded."""
    encoding = response.headers.get(hdrs.CONTENT_ENCODING)
    if encoding is None:
        return await _read_plain(response, max_bytes)
    codings = [c for c in encoding.lower().replace(" ", "").split(",") if c not in _IDENTITY]
    if not codings:
        return await _read_plain(response, max_bytes)
    coding = _ENCODINGS.get(codings[0]) if len(codings) == 1 else None
    if coding is None:
        raise UnreadableBodyError(
            "http",
            f"HTTP {response.status} with Content-Encoding {encoding[:60]!r}, which was not "
            f"asked for (Accept-Encoding: {ACCEPT_ENCODING})",
        )
    if max_bytes is None:
        return _inflate_whole(await response.read(), coding, None)
    compressed = await _read_counting(response, coding, max_bytes)
    return _inflate_whole(compressed, coding, max_bytes)


async def _read_plain(response: aiohttp.ClientResponse, max_bytes: int | None) -> bytes:
    """A body with no encoding: a declared length over the cap fails before any byte is read."""
    declared = response.content_length
    if max_bytes is None or (declared is not None and declared <= max_bytes):
        # aiohttp stops at Content-Length (and fails a shorter body), so one read is safe.
        return await response.read()
    if declared is not None:
        raise UnreadableBodyError("too_large", _too_large(declared, max_bytes))
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise UnreadableBodyError("too_large", _too_large(size, max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_counting(response: aiohttp.ClientResponse, coding: str, max_bytes: int) -> bytes:
    """The compressed bytes, once their inflated size is known to fit `max_bytes`."""
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        # Even compressed it is over the cap: not worth a byte.
        raise UnreadableBodyError("too_large", _too_large(declared, max_bytes, "compressed "))
    counter: _Inflater | None = None
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_any():
        received += len(chunk)
        if received > max_bytes:
            # Empty deflate blocks inflate to nothing: the compressed bytes need a bound too.
            raise UnreadableBodyError("too_large", _too_large(received, max_bytes, "compressed "))
        chunks.append(chunk)
        if counter is None:
            counter = _Inflater(_wbits(coding, chunk), max_bytes, _COUNT_STEP, keep=False)
        counter.feed(chunk)
    if counter is not None:
        counter.finish()
    return b"".join(chunks)


def _inflate_whole(compressed: bytes, coding: str, max_bytes: int | None) -> bytes:
    if not compressed:
        return b""
    limit = max_bytes if max_bytes is not None else 1 << 62
    # One step as large as the cap: the known-good body inflates in one call per member.
    inflater = _Inflater(_wbits(coding, compressed), limit, limit + 1, keep=True)
    inflater.feed(compressed)
    return inflater.finish()


class _Inflater:
    """Inflates a body fed in pieces, never more than `limit` bytes, `step` bytes per call.

    Gzip members that follow one another (RFC 1952 allows several) are inflated in turn.
    """

    def __init__(self, wbits: int, limit: int, step: int, *, keep: bool) -> None:
        self._wbits = wbits
        self._limit = limit
        self._step = step
        self._keep = keep
        self._stream = zlib.decompressobj(wbits)
        self._parts: list[bytes] = []
        self.size = 0

    def feed(self, data: bytes) -> None:
        """Inflate `data`; `UnreadableBodyError` once the output passes the limit."""
        try:
            while data:
                if self._stream.eof:
                    self._stream = zlib.decompressobj(self._wbits)
                self._take(self._stream.decompress(data, self._step))
                stream = self._stream
                data = stream.unused_data if stream.eof else stream.unconsumed_tail
        except zlib.error as exc:
            raise UnreadableBodyError("http", f"the compressed body is corrupt: {exc}") from None

    def finish(self) -> bytes:
        """The inflated body (empty when not kept); `UnreadableBodyError` if it was cut short."""
        try:
            self._take(self._stream.flush())
        except zlib.error as exc:
            raise UnreadableBodyError("http", f"the compressed body is corrupt: {exc}") from None
        if not self._stream.eof:
            raise UnreadableBodyError("http", "the compressed body ends before its end of stream")
        parts = self._parts
        # A one-part join returns that part itself: no copy of a large body.
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _take(self, output: bytes) -> None:
        self.size += len(output)
        if self.size > self._limit:
            raise UnreadableBodyError("too_large", _too_large(self.size, self._limit, "inflated "))
        if self._keep and output:
            self._parts.append(output)


def _wbits(coding: str, start: bytes) -> int:
    if coding == "gzip":
        return _GZIP_WBITS
    # "deflate" is meant to be zlib-wrapped (RFC 9110 8.4.1.2), but some servers send it raw.
    zlib_header = (
        len(start) >= 2  # noqa: PLR2004 - the two bytes of a zlib header
        and start[0] & 0x0F == 8  # noqa: PLR2004 - compression method 8, deflate
        and (start[0] << 8 | start[1]) % 31 == 0
    )
    return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS


def _too_large(size: int, max_bytes: int, what: str = "") -> str:
    return f"response body of {size} {what}bytes or more is over the {max_bytes} byte cap"
