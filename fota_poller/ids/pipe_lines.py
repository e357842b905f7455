"""An id list on a pipe, FIFO or terminal: its lines read as they arrive, a wait a stop ends.

A regular file is read in a worker thread (lists.py): each read ends. A pipe's may not: a
producer that never closes it would hold the thread, and the run with it, for ever. Here the
event loop waits until the descriptor is readable, a wait that the run's cutoff ends, and then
takes what is there with one `os.read`, which returns at once. The bytes are decoded as the
stream would decode them (its encoding and error handler, universal newlines), so a pipe and a
file give the same lines.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from collections import deque
from typing import IO, Final, Protocol

import anyio
import structlog

log = structlog.get_logger("fota_poller")

# One read takes what a pipe holds (64 KiB on Linux) in one system call.
_READ_BYTES: Final = 1 << 16


class InputCutoff(Protocol):
    """When waiting for input must end: the run's stop switch (run/stop.py) is one."""

    @property
    def input_cut(self) -> bool:
        """True once input is no longer waited for."""
        ...

    async def wait_input_cut(self) -> None:
        """Return once input is no longer waited for."""
        ...


def open_pipe(stream: IO[str], name: str, cutoff: InputCutoff | None) -> PipeLines | None:
    """A `PipeLines` for a pipe, FIFO, socket or terminal; None for a file or another device.

    A stream with no descriptor (a test's StringIO) or a descriptor that cannot be asked is
    None too: the worker thread's read then behaves, or fails, as it always did.
    """
    if not isinstance(stream, io.TextIOWrapper):
        return None
    try:
        descriptor = stream.fileno()
        mode = os.fstat(descriptor).st_mode
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    # Only what can wait for ever and can be polled: not /dev/null, whose reads end at once
    # and which epoll refuses (EPERM).
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(descriptor)):
        return None
    return PipeLines(descriptor, stream.encoding, stream.errors, name, cutoff)


class PipeLines:
    """The lines arriving on a descriptor, a batch at a time, until its end or the cutoff.

    The descriptor must not have been read from before (its stream's buffer would be lost).
    `cut` says the source was given up at the cutoff rather than read to its end.
    """

    def __init__(
        self,
        descriptor: int,
        encoding: str,
        errors: str | None,
        name: str,
        cutoff: InputCutoff | None,
    ) -> None:
        self._descriptor = descriptor
        text_decoder = codecs.getincrementaldecoder(encoding)(errors or "strict")
        # What a text stream does with newline=None: \r\n and \r read as \n.
        self._decoder = io.IncrementalNewlineDecoder(text_decoder, translate=True)
        self._name = name
        self._cutoff = cutoff
        self._lines: deque[str] = deque()
        self._partial: list[str] = []  # the start of a line whose end has not arrived
        self._ended = False
        self._lines_read = 0
        self.cut = False

    async def next_batch(self, size: int) -> list[str]:
        """Up to `size` lines, each with its newline (but perhaps the last); [] at the end."""
        while not self._lines and not self._ended:
            await self._read()
        count = min(size, len(self._lines))
        return [self._lines.popleft() for _ in range(count)]

    async def _read(self) -> None:
        if not await self._readable():
            self._end_at_cutoff()
            return
        try:
            chunk = os.read(self._descriptor, _READ_BYTES)
        except BlockingIOError:
            return  # another reader of a non-blocking pipe took what there was
        final = not chunk
        self._add(self._decoder.decode(chunk, final=final))
        if final:
            self._ended = True
            if self._partial:
                self._lines.append("".join(self._partial))  # a last line with no newline
                self._partial = []

    def _add(self, text: str) -> None:
        if "\n" not in text:
            # Pieces joined once the line ends, not concatenated per read: a long line
            # arriving 64 KiB at a time would otherwise be copied once per read.
            if text:
                self._partial.append(text)
            return
        head, *lines, tail = text.split("\n")
        self._partial.append(head)
        self._lines.append("".join(self._partial) + "\n")
        self._lines.extend(line + "\n" for line in lines)
        self._lines_read += 1 + len(lines)
        self._partial = [tail] if tail else []

    async def _readable(self) -> bool:
        """Wait until the descriptor can be read; False when the cutoff came first."""
        cutoff = self._cutoff
        if cutoff is None:
            await anyio.wait_readable(self._descriptor)
            return True
        if cutoff.input_cut:
            return False
        readable = False
        async with anyio.create_task_group() as race:
            race.start_soon(_cancel_at_cutoff, cutoff, race.cancel_scope)
            await anyio.wait_readable(self._descriptor)
            readable = True
            race.cancel_scope.cancel()
        return readable

    def _end_at_cutoff(self) -> None:
        self._ended = self.cut = True
        # A line still arriving may be cut anywhere: it is not read as an id.
        unfinished = bool(self._partial)
        self._partial = []
        log.warning(
            "input.cut",
            source=self._name,
            lines_read=self._lines_read,
            unfinished_line_dropped=unfinished,
            reason="the run stopped: the rest of this id list is not waited for",
        )


async def _cancel_at_cutoff(cutoff: InputCutoff, scope: anyio.CancelScope) -> None:
    await cutoff.wait_input_cut()
    scope.cancel()
