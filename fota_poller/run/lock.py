"""Overlapping runs: one lock file, held with flock for the whole run, so cron cannot stack runs.

flock is released by the kernel when the process dies, so a crashed run never leaves a stale
lock behind; the pid written into the file is only there for a human to read. The file is a
regular file or nothing (regular_files.py): `/run/lock` is writable by everyone, and a link
planted there must not make the run truncate the file it points to. Nothing is truncated
before the lock is held, so a refused or second run leaves the file as it found it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from typing import Final

from fota_poller.errors import AlreadyRunningError, ConfigError, NotARegularFileError
from fota_poller.regular_files import open_regular

_PID_BYTES: Final = 32  # a holder's pid and newline, and then some


@contextlib.contextmanager
def hold_lock(path: str | None) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block; None means no locking."""
    if path is None:
        yield
        return
    try:
        descriptor = open_regular(path, os.O_RDWR | os.O_CREAT, 0o644)
    except NotARegularFileError as exc:
        raise ConfigError(f"lock file {path}: {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"cannot open lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(
                f"another run holds the lock file {path}{_holder(descriptor)}; not starting"
            ) from None
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            raise ConfigError(f"cannot write lock file {path}: {exc.strerror}") from None
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(descriptor)


def _holder(descriptor: int) -> str:
    """` (pid N)` from the file the holder wrote, read through our descriptor; else nothing."""
    try:
        holder = os.pread(descriptor, _PID_BYTES, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (pid {holder})" if holder.isdigit() else ""
