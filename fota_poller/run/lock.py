"""Overlapping runs: one lock file, held with flock for the whole run, so cron cannot stack runs.

flock is released by the kernel when the process dies, so a crashed run never leaves a stale
lock behind; the pid written into the file is only there for a human to read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from fota_poller.errors import AlreadyRunningError, ConfigError


@contextlib.contextmanager
def hold_lock(path: str | None) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block; None means no locking."""
    if path is None:
        yield
        return
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"cannot open lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Path(path).read_text(encoding="utf-8", errors="replace").strip()
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise AlreadyRunningError(
                f"another run holds the lock file {path}{by}; not starting"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(descriptor)
