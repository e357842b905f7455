"""The files a run writes (lock, metrics, output, state): regular files only, never through a link.

A path an operator gives may sit in a folder others can write (`/run/lock`, `/tmp`). Followed
blindly, a symbolic link planted there makes the run truncate or replace whatever it points
to, a FIFO makes an open block for ever, and a device is written to or replaced by a file.
So each such path is looked at with lstat before it is opened (nothing but a regular file or
nothing at all is accepted, and a link is refused whatever it points to), then opened with
O_NOFOLLOW and O_NONBLOCK and checked again with fstat, which closes the gap between the two.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from fota_poller.errors import AlreadyRunningError, ConfigError, NotARegularFileError

# O_NONBLOCK: an open of a FIFO returns (or fails with ENXIO) instead of waiting for a peer;
# O_NOCTTY: a terminal opened by mistake never becomes the run's controlling terminal.
_SAFE_FLAGS: Final = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
_KINDS: Final[tuple[tuple[Callable[[int], bool], str, int], ...]] = (
    (stat.S_ISLNK, "a symbolic link (fota-poller never writes through one)", errno.ELOOP),
    (stat.S_ISDIR, "a directory", errno.EISDIR),
    (stat.S_ISFIFO, "a FIFO (named pipe)", errno.EINVAL),
    (stat.S_ISCHR, "a character device", errno.EINVAL),
    (stat.S_ISBLK, "a block device", errno.EINVAL),
    (stat.S_ISSOCK, "a socket", errno.EINVAL),
)


def refuse_unless_regular(mode: int) -> None:
    """`NotARegularFileError`, naming the kind, for a file of `mode` that is not regular."""
    if stat.S_ISREG(mode):
        return
    for test, kind, number in _KINDS:
        if test(mode):
            raise NotARegularFileError(number, f"it is {kind}, not a regular file")
    raise NotARegularFileError(errno.EINVAL, "it is not a regular file")


def require_regular(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> bool:
    """True for a regular file at `path`, False for nothing there; else `NotARegularFileError`.

    The final name itself is looked at (lstat): a symbolic link is refused, even to a regular
    file. Any other OSError (a folder that cannot be searched) is the caller's to word.
    """
    try:
        mode = os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return False
    refuse_unless_regular(mode)
    return True


def usable_file(what: str, path: str) -> None:
    """`require_regular` before a run, its refusal worded for the operator (`ConfigError`, exit 2).

    `what` names the file as the config does ("metrics file", "lock file").
    """
    try:
        require_regular(path)
    except NotARegularFileError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"cannot use {what} {path}: {exc.strerror}") from None


def open_regular(
    path: str | os.PathLike[str], flags: int, mode: int = 0o666, *, dir_fd: int | None = None
) -> int:
    """A blocking descriptor of the regular file at `path`, opened with `flags` (O_CREAT too).

    `NotARegularFileError` for anything else at `path`, found before it is opened (lstat)
    or after (fstat, should it have been swapped in between); other OSErrors as os.open's.
    A FIFO is never waited on, and a device never opened unless it was swapped in.
    """
    require_regular(path, dir_fd=dir_fd)
    try:
        descriptor = os.open(path, flags | _SAFE_FLAGS, mode, dir_fd=dir_fd)
    except OSError as exc:
        # ELOOP, ENXIO, EISDIR: something other than a file took the name since the lstat.
        if exc.errno in {errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.EWOULDBLOCK}:
            require_regular(path, dir_fd=dir_fd)
        raise
    try:
        refuse_unless_regular(os.fstat(descriptor).st_mode)
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def read_regular(path: Path, limit: int) -> bytes | None:
    """Up to `limit` bytes of the regular file at `path`; None when nothing is there."""
    try:
        descriptor = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        return file.read(limit)


def read_followed(path: Path, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of the regular file at `path`, a link to one followed.

    For a file an operator names and may link (the config): opened with O_NONBLOCK, so a
    FIFO is refused at once (`NotARegularFileError`, as a device is), never waited on.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as file:
        refuse_unless_regular(os.fstat(descriptor).st_mode)
        return file.read(limit + 1)


def replace_regular(
    path: Path,
    data: bytes,
    mode: int = 0o666,
    *,
    replace_any: bool = False,
    exact_mode: bool = False,
) -> None:
    """Put `data` at `path` whole: a new file beside it, renamed over it (never written through).

    `NotARegularFileError` when `path` is there and not a regular file (a rename would
    replace a link or a device node with a file), else OSError if a step fails; no
    temporary file is left behind either way. The new file's name is random and created
    with O_EXCL, so a link planted under a guessed name in a shared folder is never opened.
    `mode` as for `os.open` (the umask applies); the folder is synced after the rename, so
    the new file is what a crash leaves. With `replace_any`, what is at `path` (a link, a
    FIFO) is replaced by the rename rather than refused: for a file whose loss costs more
    than a planted link does (the failed-login memory). With `exact_mode`, the new file gets
    `mode` whatever the umask: for a file another user must read (node_exporter reads the
    metrics file, while the run's umask keeps its records from other users).
    """
    if not replace_any:
        require_regular(path)
    temporary = path.with_name(f".{path.name}.fota-poller-{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_FLAGS
    descriptor = os.open(temporary, flags, mode)
    try:
        if exact_mode:
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


# -- the lock file: held with flock for a whole run, so cron cannot stack runs -----------------
# flock is released by the kernel when the process dies, so a crashed run never leaves a stale
# lock behind; the pid written into the file is only there for a human to read. Nothing is
# truncated before the lock is held, so a refused or second run leaves the file as it found it.

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
