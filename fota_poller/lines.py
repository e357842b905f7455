"""Lines of a file nobody controls, split from its bytes in bounded memory.

A line longer than `MAX_LINE_BYTES` is never held whole: once it passes the limit, its bytes
are dropped as they arrive up to the next line end, and it is handed on as a `LongLine` that
says how long it was, for the reader to count as a bad line. A 500 MB line costs one chunk.
A long line holding NUL bytes is no text at all (`/dev/zero`, a sparse file): no line end
need ever come, so the read stops there with `InputFileError`.
Line ends are LF, CRLF or a lone CR (old Mac exports), as a text file reads them.

`LineSplitter` is pushed bytes (the id lists read a pipe chunk by chunk in a thread, so that a
deadline can stop the wait); `read_lines` pulls a file's lines through the same splitter
(`summary`).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import IO, Final, NamedTuple, cast

from fota_poller.errors import InputFileError

# The longest input line read (id lists; `summary`'s records files share it): far longer than
# any real line (an id-list line is under 100 bytes, a campaign record a few kB), short enough
# that one hostile line cannot take the process's memory.
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
# Bytes `read_lines` reads at a time: a night of 1 GB is a thousand reads.
_BLOCK: Final = 1 << 20


class LongLine(NamedTuple):
    """A line longer than the limit, dropped unread: its length in bytes, without its end."""

    length: int


class LineSplitter:
    """Bytes in, whole lines out: each line ending with LF, or a `LongLine`, in order.

    Memory stays under the limit plus one chunk whatever the input. Every line end is LF
    (CRLF and CR are turned into LF).
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self._limit = limit
        # The start of a line whose end has not arrived yet.
        self._partial = bytearray()
        # Bytes dropped so far of a line found too long; None while no line is being dropped.
        self._dropped: int | None = None
        # The last chunk ended with CR: a LF starting the next one ends no further line.
        self._after_cr = False

    def feed(self, data: bytes) -> list[bytes | LongLine]:
        """The lines that `data` completes (possibly none).

        Raises `InputFileError` when a line past the limit, its end not yet in sight, holds
        a NUL byte.
        """
        data = self._lf_ends(data)
        # BytesIO finds the line ends with memchr and shares `data` rather than copying it:
        # bytes.split took four times as long, and cutting the chunk into blocks of whole
        # lines first cost a summary 2 copies of every byte (twice its reading time).
        found = io.BytesIO(data).readlines()
        rest = found.pop() if found and not found[-1].endswith(b"\n") else b""
        # The same list, a LongLine put in place of each line too long.
        lines = cast("list[bytes | LongLine]", found)
        if found:
            lines[0] = self._first(found[0])
            # A line inside one chunk is at most a chunk long: checked only when it may pass.
            if len(data) > self._limit:
                limit = self._limit
                lines[1:] = [
                    line if len(line) - 1 <= limit else LongLine(len(line) - 1)
                    for line in found[1:]
                ]
        self._keep(rest)
        return lines

    @property
    def holding(self) -> bool:
        """True while a line has started whose end has not arrived."""
        return bool(self._partial) or self._dropped is not None

    def finish(self) -> list[bytes | LongLine]:
        """The last line, when the input did not end with a line end."""
        if self._dropped is not None:
            dropped, self._dropped = self._dropped, None
            return [LongLine(dropped)]
        if not self._partial:
            return []
        last = bytes(self._partial)
        self._partial.clear()
        return [last]

    def _lf_ends(self, data: bytes) -> bytes:
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]  # the LF of a CRLF whose CR ended the last chunk (and its line)
        self._after_cr = data.endswith(b"\r")
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data

    def _first(self, end: bytes) -> bytes | LongLine:
        """The line whose start came before (in `_partial`, or dropped) and whose end is `end`."""
        if self._dropped is not None:
            line: bytes | LongLine = LongLine(self._dropped + len(end) - 1)
            self._dropped = None
        elif len(self._partial) + len(end) - 1 > self._limit:
            line = LongLine(len(self._partial) + len(end) - 1)
        else:
            line = bytes(self._partial) + end if self._partial else end
        self._partial.clear()
        return line

    def _keep(self, rest: bytes) -> None:
        """Keep the start of the next line, or go on dropping it once it is too long."""
        if self._dropped is not None:
            self._drop(self._dropped, rest)
        elif len(self._partial) + len(rest) > self._limit:
            self._drop(len(self._partial), rest)
            self._partial.clear()
        elif rest:
            self._partial += rest

    def _drop(self, dropped: int, data: bytes) -> None:
        """Drop `data`, more of a line too long (`dropped` bytes so far) whose end is not in it."""
        # A NUL byte says "no text": waiting for a line end may mean reading for ever.
        if b"\0" in data:
            raise InputFileError(f"a line longer than {_size(self._limit)} holds NUL bytes")
        self._dropped = dropped + len(data)


def read_lines(
    stream: IO[bytes], limit: int = MAX_LINE_BYTES, block: int = _BLOCK
) -> Iterator[bytes | LongLine]:
    """Each line of `stream`, ending with LF (the last may lack it), or a `LongLine`.

    Raises `InputFileError` as `LineSplitter.feed` does.
    """
    # Flattened in C: a generator yielding line by line cost a summary 70% more time.
    return itertools.chain.from_iterable(_line_lists(stream, limit, block))


def _line_lists(stream: IO[bytes], limit: int, block: int) -> Iterator[list[bytes | LongLine]]:
    """The lines each block read completes: one list a block."""
    splitter = LineSplitter(limit)
    while chunk := stream.read(block):
        yield splitter.feed(chunk)
    yield splitter.finish()


def _size(count: int) -> str:
    return f"{count >> 20} MB" if count >= 1 << 20 else f"{count} bytes"
