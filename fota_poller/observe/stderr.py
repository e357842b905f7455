"""Standard error that never ends a run: a line that cannot be written is dropped and counted.

Everything the process writes to stderr passes through a `StderrStream`: structlog's lines,
the progress bar, the CLI's last line. A stderr that is closed (`2>&-`), full
(`2>/dev/full`), a pipe whose reader quit, or a non-blocking pipe that is full (EAGAIN)
loses the line, never the run: the records, the state and the exit code are what they
would have been, and the run's tally says how many lines were lost.

Lines go to the file descriptor with `os.write`, around Python's buffer: a line that failed
is not kept to fail again when the interpreter flushes stderr at exit (see `quiet_exit`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable
from typing import TextIO

# The errors of a stream that cannot take a line: any OS error, a closed file object
# (ValueError), a stream that is None or lacks a method (AttributeError).
_LOST = (OSError, ValueError, AttributeError)


class StderrStream:
    """A text stream for stderr whose `write` never raises; `dropped` counts the lines lost.

    `on_dropped` (the run's tally) hears of each loss as it happens. Text without a newline
    (the progress bar's redraws) that is lost counts as no line.
    """

    def __init__(
        self, stream: TextIO | None, on_dropped: Callable[[int], None] | None = None
    ) -> None:
        self._stream = stream
        self._on_dropped = on_dropped
        self._fd = _fileno(stream)
        self._encoding = getattr(stream, "encoding", None) or "utf-8"
        # A write cut short after part of a line: the next line starts on a line of its own.
        self._mid_line = False
        self.dropped = 0

    def __eq__(self, other: object) -> bool:
        # Two of them on one stream are one place: tqdm clears a bar before a log line only
        # when the bar's file equals the line's (progress.py's BarSafeStream).
        return isinstance(other, StderrStream) and other._stream is self._stream

    def __hash__(self) -> int:
        return id(self._stream)

    @property
    def encoding(self) -> str:
        """The encoding of the stream underneath (tqdm picks its bar's characters by it)."""
        return self._encoding

    def write(self, text: str) -> int:
        """Write `text`; on any failure drop it and count its lines. Always `len(text)`."""
        try:
            self._write(("\n" + text) if self._mid_line else text)
        except _LOST:
            lines = text.count("\n")
            if lines:
                self.dropped += lines
                if self._on_dropped is not None:
                    self._on_dropped(lines)
        return len(text)

    def flush(self) -> None:
        """Nothing waits in a buffer here; a stream without a descriptor is flushed."""
        if self._fd is None and self._stream is not None:
            with contextlib.suppress(*_LOST):
                self._stream.flush()

    def isatty(self) -> bool:
        """Whether the stream underneath is a terminal; False when it is closed."""
        try:
            return self._stream is not None and self._stream.isatty()
        except _LOST:
            return False

    def fileno(self) -> int:
        """The descriptor underneath, for a terminal's size (tqdm asks)."""
        if self._fd is None:
            raise io.UnsupportedOperation("no file descriptor")
        return self._fd

    def _write(self, text: str) -> None:
        if self._fd is None:
            if self._stream is None:
                raise ValueError("stderr is closed")
            self._stream.write(text)
            self._stream.flush()
            return
        data = text.encode(self._encoding, "backslashreplace")
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        finally:
            if written:
                self._mid_line = not data[:written].endswith(b"\n")


def say(line: str) -> None:
    """One line for the user on stderr (an error, a summary); lost quietly if it cannot be."""
    StderrStream(sys.stderr).write(line + "\n")


def quiet_exit() -> None:
    """Let the interpreter's last flush of stdout and stderr succeed, whatever they became.

    At exit Python flushes both; one whose reader quit (or a full disk) fails again there,
    prints "Exception ignored ... BrokenPipeError" and turns the exit code into 120. What is
    left in their buffers was lost already: it goes to /dev/null instead.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except _LOST:
            with contextlib.suppress(*_LOST):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream.fileno())
                os.close(null)


def _fileno(stream: TextIO | None) -> int | None:
    # Only a stream on a real descriptor (not pytest's capture, not a StringIO) is written
    # around; one that is buffered is flushed first so that lines stay in order.
    if stream is None:
        return None
    try:
        fd = stream.fileno()
    except _LOST:
        return None
    with contextlib.suppress(*_LOST):
        stream.flush()
    return fd
