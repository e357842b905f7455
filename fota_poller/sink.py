"""Where records go: JSON lines to stdout, or to a file that appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from fota_poller.errors import ConfigError


class Sink(Protocol):
    """A destination for encoded JSON lines."""

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

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer

    def write(self, data: bytes) -> None:
        """Write and flush complete lines."""
        self._stream.write(data)
        self._stream.flush()

    def commit(self) -> None:
        """Flush what is left."""
        self._stream.flush()

    def discard(self) -> None:
        """Nothing to undo on a stream already read by someone else."""
        with contextlib.suppress(OSError):
            self._stream.flush()


class AtomicFileSink:
    """A file written under a temporary name in the same folder and renamed into place.

    A reader never sees half a file, and a run that fails to start never clobbers the
    previous file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            descriptor, temp_name = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise ConfigError(f"cannot write output in {path.parent}: {exc.strerror}") from None
        self._temp_path = Path(temp_name)
        # Large buffer: device lines arrive in campaign-sized blocks.
        self._file = os.fdopen(descriptor, "wb", buffering=1 << 20)

    def write(self, data: bytes) -> None:
        """Append complete lines to the temporary file."""
        self._file.write(data)

    def commit(self) -> None:
        """Flush, fsync, rename into place, and fsync the folder so the rename survives a crash."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        # mkstemp creates 0600; give the output the permissions a normally created file gets.
        umask = os.umask(0)
        os.umask(umask)
        self._temp_path.chmod(0o666 & ~umask)
        self._temp_path.replace(self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def discard(self) -> None:
        """Remove the temporary file; the previous output stays as it was."""
        with contextlib.suppress(OSError):
            self._file.close()
        self._temp_path.unlink(missing_ok=True)


def open_sink(path: str | None) -> Sink:
    """Stdout for None or `-`, otherwise an atomic file."""
    if path is None or path == "-":
        return StdoutSink()
    return AtomicFileSink(Path(path))
