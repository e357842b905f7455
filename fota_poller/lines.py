"""Lines of a file nobody controls, split from its bytes in bounded memory.

A line longer than `MAX_LINE_BYTES` is never held whole: once it passes the limit, its bytes
are dropped as they arrive up to the next line end, and it is handed on as a `LongLine` that
says how long it was, for the reader to count as a bad line. A 500 MB line costs one chunk.
Line ends are LF, CRLF or a lone CR (old Mac exports), as a text file reads them.
"""

from __future__ import annotations

from typing import Final, NamedTuple

# The longest input line read (id lists; `summary`'s records files share it): far longer than
# any real line (an id-list line is under 100 bytes, a campaign record a few kB), short enough
# that one hostile line cannot take the process's memory.
MAX_LINE_BYTES: Final = 16 * 1024 * 1024


class LongLine(NamedTuple):
    """A line longer than the limit, dropped unread: its length in bytes, without its end."""

    length: int


class LineSplitter:
    """Bytes in, whole lines out: blocks of lines (each ending with LF) and `LongLine`s, in order.

    Memory stays under the limit plus one chunk whatever the input. A block holds as many
    lines as one chunk did, so a million short lines cost a few hundred blocks, not a million
    objects; every line end in a block is LF (CRLF and CR are turned into LF).
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
        """The lines that `data` completes (possibly none)."""
        data = self._lf_ends(data)
        out: list[bytes | LongLine] = []
        if self._dropped is not None:
            end = data.find(b"\n")
            if end < 0:
                self._dropped += len(data)
                return out
            out.append(LongLine(self._dropped + end))
            self._dropped = None
            data = data[end + 1 :]
        last = data.rfind(b"\n")
        if last < 0:
            self._keep(data)
            return out
        block = data[: last + 1]
        if self._partial:
            first = block.find(b"\n")
            if len(self._partial) + first > self._limit:
                out.append(LongLine(len(self._partial) + first))
                block = block[first + 1 :]
            else:
                block = bytes(self._partial) + block
            self._partial.clear()
        out.extend(self._checked(block))
        self._keep(data[last + 1 :])
        return out

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

    def _keep(self, rest: bytes) -> None:
        """Keep the start of the next line, or start dropping it once it is too long."""
        if len(self._partial) + len(rest) > self._limit:
            self._dropped = len(self._partial) + len(rest)
            self._partial.clear()
        elif rest:
            self._partial += rest

    def _checked(self, block: bytes) -> list[bytes | LongLine]:
        """`block` as it is, unless a line in it is too long (when the limit is under a chunk)."""
        if len(block) <= self._limit:
            return [block] if block else []
        out: list[bytes | LongLine] = []
        run: list[bytes] = []
        for line in block.splitlines(keepends=True):
            if len(line) - 1 > self._limit:
                if run:
                    out.append(b"".join(run))
                    run = []
                out.append(LongLine(len(line) - 1))
            else:
                run.append(line)
        if run:
            out.append(b"".join(run))
        return out
