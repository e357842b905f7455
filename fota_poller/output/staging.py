"""Where an output file waits until commit, so that no temporary file outlives its run.

On Linux the file is unnamed (O_TMPFILE): it has no name until commit links it beside the
output and renames it into place, so a run killed at any point leaves nothing behind (the
kernel frees an unnamed file with its last descriptor). Where the OS or the filesystem has
no O_TMPFILE, the file is named and its run holds an flock on it for as long as it lives.
The kernel drops the locks of a dead process and of no other, so the next run into the same
folder removes every such file whose lock it can take: never one a live run is writing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

from fota_poller.regular_files import require_regular

# `.latest.jsonl.fota-poller-0123456789abcdef.tmp`: hidden, and not `*.jsonl`, so no reader
# or rotation of the outputs mistakes it for one; the mark keeps the cleaner off other files.
_TEMPORARY = re.compile(r"^\..+\.fota-poller-[0-9a-f]{16}\.tmp$")
# What versions before the flock wrote (tempfile.mkstemp: 8 random characters, no lock).
_LEGACY_RANDOM = "[a-z0-9_]{8}"
# Errors of an O_TMPFILE open meaning "not here" rather than "not allowed": EISDIR from a
# kernel that predates it, EOPNOTSUPP from a filesystem without it.
_NO_UNNAMED_FILES = frozenset({errno.EISDIR, errno.EOPNOTSUPP, errno.EINVAL})
_BUFFER_BYTES = 1 << 20  # device lines arrive in campaign-sized blocks


class StagedFile:
    """A file written in the output's folder that becomes the output at commit, or nothing.

    Opening it checks that the output can be written there (OSError otherwise) and removes
    the temporary files of dead runs in that folder. Permissions are those of a file
    created normally (0666 & ~umask).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _require_target(self._folder, path.name)
            remove_stale_temporaries(self._folder, path.name)
            descriptor = _open_unnamed(self._folder)
            self._temp_name: str | None = None
            if descriptor is None:
                descriptor, self._temp_name = _open_named(self._folder, path.name)
        except BaseException:
            os.close(self._folder)
            raise
        self.file: BinaryIO = os.fdopen(descriptor, "wb", buffering=_BUFFER_BYTES)
        self._open = True
        self._committed = False

    @property
    def unnamed(self) -> bool:
        """True while the file has no name in the folder (O_TMPFILE)."""
        return self._open and self._temp_name is None

    def commit(self) -> None:
        """Flush, fsync, put the file in place of the output, and fsync the folder.

        OSError if any step fails; the caller then discards, and the output is as it was.
        A second commit does nothing.
        """
        if self._committed:
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        if self._temp_name is None:
            self._temp_name = _link(self.file.fileno(), self._folder, self.path.name)
        folder = self._folder
        os.replace(self._temp_name, self.path.name, src_dir_fd=folder, dst_dir_fd=folder)
        self._temp_name = None
        os.fsync(self._folder)
        self._committed = True
        self._close()

    def discard(self) -> None:
        """Drop the file (its name too, if it has one); the output stays as it was."""
        if not self._open:
            return
        if self._temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temp_name, dir_fd=self._folder)
            self._temp_name = None
        self._close()

    def _close(self) -> None:
        self._open = False
        # Closing flushes what is buffered; after a failed write that fails again, and the
        # data has nowhere to go anyway. The descriptor is closed whatever flush says.
        with contextlib.suppress(OSError):
            self.file.close()
        os.close(self._folder)


def remove_stale_temporaries(folder: int, output_name: str) -> list[str]:
    """Remove the temporary files in `folder` that no live run holds; returns their names.

    Every fota-poller temporary file is a candidate, whatever output it was for (dated
    outputs change name every night), plus the unlocked ones older versions left for
    `output_name`.
    """
    legacy = re.compile(rf"^\.{re.escape(output_name)}\.{_LEGACY_RANDOM}\.tmp$")
    removed = []
    with os.scandir(folder) as entries:
        names = [e.name for e in entries if _TEMPORARY.match(e.name) or legacy.match(e.name)]
    for name in names:
        if _remove_if_dead(folder, name):
            removed.append(name)
            import structlog  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

            structlog.get_logger("fota_poller").info("output.stale_temporary_removed", name=name)
    return removed


def _remove_if_dead(folder: int, name: str) -> bool:
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        descriptor = os.open(name, flags, dir_fd=folder)
    except OSError:
        return False  # gone already, or not ours to open
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live run holds it
        if not _is_named(folder, name, descriptor):
            return False
        os.unlink(name, dir_fd=folder)
    except OSError:
        return False
    finally:
        os.close(descriptor)
    return True


def _require_target(folder: int, name: str) -> None:
    # The rename at commit would replace a link, a directory's name or a device node: the
    # output is a regular file or nothing, as every file a run writes (regular_files.py).
    require_regular(name, dir_fd=folder)


def _open_unnamed(folder: int) -> int | None:
    """An O_TMPFILE descriptor in `folder`, locked; None where there are no unnamed files."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not Path("/proc/self/fd").is_dir():
        return None
    try:
        descriptor = os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o666, dir_fd=folder)
    except OSError as exc:
        if exc.errno in _NO_UNNAMED_FILES:
            return None
        raise
    # Locked too: between the link and the rename at commit the file has a name.
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def _open_named(folder: int, output_name: str) -> tuple[int, str]:
    """A new named temporary file in `folder`, locked by this process."""
    while True:
        name = _temporary_name(output_name)
        descriptor = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=folder
        )
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        # Another run's cleaner may have taken the lock and removed the file between its
        # creation and our lock; a file still under its name is ours for good.
        if _is_named(folder, name, descriptor):
            return descriptor, name
        os.close(descriptor)


def _link(descriptor: int, folder: int, output_name: str) -> str:
    """Give an unnamed file a temporary name in `folder`; returns the name."""
    name = _temporary_name(output_name)
    # A folder descriptor makes Python call linkat() with AT_SYMLINK_FOLLOW; without one it
    # calls link(), which links the /proc symlink itself and fails with EXDEV.
    os.link(f"/proc/self/fd/{descriptor}", name, dst_dir_fd=folder, follow_symlinks=True)
    return name


def _is_named(folder: int, name: str, descriptor: int) -> bool:
    try:
        named = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _temporary_name(output_name: str) -> str:
    return f".{output_name}.fota-poller-{secrets.token_hex(8)}.tmp"
