"""An id list on a pipe, FIFO, socket or terminal: read as it arrives, a wait a stop ends.

A regular file is read in a worker thread (lists.py): each read ends. A pipe's may not: a
producer that never closes it would hold the thread, and the run with it, for ever (a thread
cannot be cancelled). Here the event loop waits until the descriptor is readable, a wait that
the run's cutoff ends, and then takes what is there with one `os.read`, which returns at once.
The bytes go through the same `ListText` as a file's, so a pipe and a file give the same lines
and the same refusals (encoding, long lines).
"""

from __future__ import annotations

import os
import stat
from typing import IO, Final, Protocol

import anyio
import structlog

from fota_poller.ids.list_text import ListText, TextBlock, TooLong

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


def open_pipe(stream: IO[bytes], cutoff: InputCutoff | None) -> PipeReader | None:
    """A `PipeReader` for a pipe, FIFO, socket or terminal; None for a file or another device.

    A stream with no descriptor (a test's BytesIO) or a descriptor that cannot be asked is
    None too: the worker thread's read then behaves, or fails, as it always did.
    """
    try:
        descriptor = stream.fileno()
        mode = os.fstat(descriptor).st_mode
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    # Only what can wait for ever and can be polled: not /dev/null, whose reads end at once
    # and which epoll refuses (EPERM).
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(descriptor)):
        return None
    return PipeReader(descriptor, cutoff)


class PipeReader:
    """The bytes arriving on a descriptor, as they come, until its end or the cutoff.

    The descriptor must not have been read from before (its stream's buffer would be lost).
    """

    def __init__(self, descriptor: int, cutoff: InputCutoff | None) -> None:
        self._descriptor = descriptor
        self._cutoff = cutoff

    async def read(self) -> bytes | None:
        """What the pipe holds once it holds something (`b""` at its end); None at the cutoff."""
        while True:
            if not await self._readable():
                return None
            try:
                return os.read(self._descriptor, _READ_BYTES)
            except BlockingIOError:
                continue  # another reader of a non-blocking pipe took what there was

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


async def read_pieces(
    pipe: PipeReader, text: ListText, name: str
) -> list[TextBlock | TooLong] | None:
    """As `text.read()` does for a file: what the next bytes complete; None after the end.

    At the cutoff, the list is given up where it is (`input.cut` names it) and ends.
    """
    while not text.ended:
        data = await pipe.read()
        if data is None:
            unfinished = text.cut()
            log.warning(
                "input.cut",
                source=name,
                lines_read=text.lines,
                unfinished_line_dropped=unfinished,
                reason="the run stopped: the rest of this id list is not waited for",
            )
            return None
        pieces = text.take(data)
        if pieces or text.ended:
            return pieces
    return None


async def _cancel_at_cutoff(cutoff: InputCutoff, scope: anyio.CancelScope) -> None:
    await cutoff.wait_input_cut()
    scope.cancel()
