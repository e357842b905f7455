"""Where records go: JSON lines to stdout, or to a file that appears whole or not at all.

A sink turns every OS error into `OutputError` (exit 74) naming the output, or, when the
reader of stdout has gone (or stdout was closed at start), `OutputClosedError` (exit 141).
`RunOutput` is what the run writes through: it escapes line separators and turns the first
error into a stop (text.py's `escape_line_separators`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from fota_poller.errors import ConfigError, NotARegularFileError, OutputClosedError, OutputError
from fota_poller.output.staging import StagedFile
from fota_poller.text import escape_line_separators


class Sink(Protocol):
    """A destination for encoded JSON lines.

    `durable_per_write`: each write is final once it returns (a stream someone reads), rather
    than only at commit (a file put in place at the end).
    """

    durable_per_write: bool

    def write(self, data: bytes) -> None:
        """Write complete lines."""
        ...

    def commit(self) -> None:
        """Make everything written durable and visible."""
        ...

    def discard(self) -> None:
        """Give up: leave whatever was there before untouched."""
        ...


class StdoutSink:
    """Lines to standard output, flushed once per campaign so a pipe reader sees whole ones."""

    durable_per_write = True

    def __init__(self, stream: BinaryIO | None = None) -> None:
        if stream is None and sys.stdout is None:
            # Closed at start (`>&-`, see commands/streams.py): nobody can read a record, so
            # the run is refused before any request, as one whose reader quit is stopped.
            raise OutputClosedError("stdout", "stdout is closed")
        self._stream = stream if stream is not None else sys.stdout.buffer

    def write(self, data: bytes) -> None:
        """Write and flush complete lines."""
        try:
            self._stream.write(data)
            self._stream.flush()
        except OSError as exc:
            raise self._failure(exc) from None

    def commit(self) -> None:
        """Flush what is left."""
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._failure(exc) from None

    def discard(self) -> None:
        """Nothing to undo on a stream already read by someone else."""
        with contextlib.suppress(OSError):
            self._stream.flush()

    def _failure(self, exc: OSError) -> OutputError:
        if not isinstance(exc, BrokenPipeError):
            return OutputError("stdout", exc.strerror or str(exc))
        # Whatever is still buffered would fail again when the interpreter flushes stdout at
        # exit, with a traceback of its own; /dev/null takes it instead.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        return OutputClosedError("stdout", "the reader closed the pipe")


class AtomicFileSink:
    """A file written aside (see staging.py) and put in place of the output at commit.

    A reader never sees half a file, a run that fails leaves the previous file untouched,
    and no temporary file outlives its run.
    """

    durable_per_write = False

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = StagedFile(path)
        except NotARegularFileError as exc:
            raise ConfigError(f"cannot write output {path}: {exc.strerror}") from None
        except OSError as exc:
            raise ConfigError(
                f"cannot write output in {path.parent}: {exc.strerror or exc}"
            ) from None

    def write(self, data: bytes) -> None:
        """Append complete lines to the temporary file."""
        try:
            self._file.file.write(data)
        except OSError as exc:
            raise OutputError(str(self.path), exc.strerror or str(exc)) from None

    def commit(self) -> None:
        """Put the file in place, durably; on failure remove it and raise `OutputError`."""
        try:
            self._file.commit()
        except OSError as exc:
            self._file.discard()
            raise OutputError(str(self.path), exc.strerror or str(exc)) from None

    def discard(self) -> None:
        """Remove the temporary file; the previous output stays as it was."""
        self._file.discard()


class RunOutput:
    """What the run writes through: every line passes here once, on the way to the sink.

    Line separators are escaped. The first `OutputError` is kept in `failure` and handed to
    `on_failure` (which stops the run); later writes are dropped, and the sink discarded.
    """

    def __init__(self, sink: Sink, on_failure: Callable[[OutputError], None]) -> None:
        self._sink = sink
        self._on_failure = on_failure
        self.failure: OutputError | None = None
        self.durable_per_write = sink.durable_per_write

    def write(self, data: bytes) -> None:
        """Write complete lines, unless the output has already failed."""
        if self.failure is not None:
            return
        try:
            self._sink.write(escape_line_separators(data))
        except OutputError as exc:
            self._fail(exc)

    def commit(self) -> None:
        """Commit the sink, unless the output has already failed."""
        if self.failure is not None:
            return
        try:
            self._sink.commit()
        except OutputError as exc:
            self._fail(exc)

    def discard(self) -> None:
        """Give up the output."""
        self._sink.discard()

    def _fail(self, exc: OutputError) -> None:
        self.failure = exc
        self._sink.discard()
        self._on_failure(exc)


def open_sink(path: str | None) -> Sink:
    """Stdout for None or `-`, otherwise an atomic file (`ConfigError` if it cannot be written)."""
    if path is None or path == "-":
        return StdoutSink()
    return AtomicFileSink(Path(path))


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[Sink]:
    """`open_sink` for the block; what the block did not commit is discarded at its end."""
    sink = open_sink(path)
    try:
        yield sink
    finally:
        sink.discard()
