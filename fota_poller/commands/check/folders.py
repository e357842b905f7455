"""`check`'s `files` and `writable` steps: the files a run writes, and their folders.

`files` says each file a run writes is a regular file or nothing yet (`usable_file`'s rules,
the run's own); `writable` says the run can write there at all. In each folder a hidden,
uniquely named file is created with O_CREAT|O_EXCL|O_NOFOLLOW (never through a link, never
over anything that is there) and removed at once: the one honest answer to "can this user
create files here", which also covers what permission bits do not show (a read-only mount,
an immutable folder, a full inode table, root on a folder of /sys).

The files a run opens in place rather than replacing (the lock files, the state database)
are also opened for writing when they exist, without truncating or locking them.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from fota_poller.commands.check.report import StepReport
from fota_poller.errors import ExitCode, FotaPollerError
from fota_poller.regular_files import usable_file

# The names `core.written_files` gives the files a run opens in place: their own
# permissions matter too, not only their folder's. The output and the metrics file are
# renamed over (their folder alone decides).
_OPENED_IN_PLACE: Final = frozenset({"lock file", "state database", "state lock file"})
_CAP_FOWNER: Final = 3  # linux/capability.h
_NEVER_FOLLOW: Final = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
_PROBE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NEVER_FOLLOW
_REASONS: Final = {
    errno.ENOENT: "no such folder",
    errno.ENOTDIR: "not a folder (a part of its path is a file)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (immutable? see lsattr)",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
}
_GB: Final = 1e9


def check_files(files: Sequence[tuple[str, str]]) -> StepReport:
    """One line: each of `files` (name, path) is a regular file or nothing yet, or the first not."""
    report = StepReport("files")
    try:
        for what, path in files:
            usable_file(what, path)
    except FotaPollerError as exc:
        report.fail(str(exc), exc.exit_code)
        return report
    report.ok(", ".join(what for what, _ in files))
    return report


def check_folders(files: Sequence[tuple[str, str]]) -> StepReport:
    """One line per folder of `files` (name, path): writable and how much room, or why not."""
    report = StepReport("writable")
    folders: dict[Path, list[tuple[str, str]]] = {}
    for what, path in files:
        folders.setdefault(Path(path).absolute().parent, []).append((what, path))
    for folder, named in folders.items():
        problem = folder_problem(folder)
        if problem is not None:
            used = ", ".join(f"{what} {path}" for what, path in named)
            report.fail(f"{folder}: {problem}, for {used}", ExitCode.USAGE)
            continue
        stuck = [
            f"{what} {path}: {reason}"
            for what, path in named
            if (reason := _file_problem(path, folder, in_place=what in _OPENED_IN_PLACE))
        ]
        for line in stuck:
            report.fail(line, ExitCode.USAGE)
        if not stuck:
            whats = ", ".join(what for what, _ in named)
            report.ok(f"{folder}: {whats}{_room(folder)}")
    return report


def folder_problem(folder: Path) -> str | None:
    """Why no file can be created in `folder`, in a few words; None when one was (and is gone)."""
    try:
        mode = folder.stat().st_mode
    except OSError as exc:
        return _reason(exc)
    if not stat.S_ISDIR(mode):
        return "not a folder"
    probe = folder / f".fota-poller-check-{secrets.token_hex(8)}.tmp"
    try:
        descriptor = os.open(probe, _PROBE_FLAGS, 0o600)
    except OSError as exc:
        return _reason(exc)
    problem: str | None = None
    try:
        os.close(descriptor)
    except OSError as exc:
        problem = _reason(exc)
    finally:
        # Whatever happened since it was made (an interrupt too): it does not stay.
        try:
            probe.unlink()
        except OSError as exc:
            problem = f"a file made there cannot be removed ({probe}): {_reason(exc)}"
    return problem


def _file_problem(path: str, folder: Path, *, in_place: bool) -> str | None:
    """Why the run could not write the file at `path` in `folder` (just found writable).

    A file opened in place is opened for writing, without O_TRUNC and closed at once: its
    bytes and times stay as they were, and this process holds no lock on it that closing
    could drop. A file renamed over is replaceable unless it is another user's in a sticky
    folder (`/tmp`, `/run/lock`): there only its owner, the folder's or root may replace it.
    """
    if not in_place:
        return _sticky_problem(path, folder)
    try:
        descriptor = os.open(path, os.O_WRONLY | _NEVER_FOLLOW)
    except FileNotFoundError:
        return None  # made by the run, in a folder just found writable
    except OSError as exc:
        return f"cannot be opened for writing: {_reason(exc)}"
    os.close(descriptor)
    return None


def _sticky_problem(path: str, folder: Path) -> str | None:
    user = os.geteuid()
    try:
        owner = Path(path).lstat().st_uid
        shared = folder.stat()
    except OSError:
        return None  # nothing there yet: the run makes it
    if not shared.st_mode & stat.S_ISVTX or user in {owner, shared.st_uid} or _owns_every_file():
        return None
    mode = f"{stat.S_IMODE(shared.st_mode):o}"
    return f"cannot be replaced: uid {owner} owns it, in a sticky folder (mode {mode})"


def _owns_every_file() -> bool:
    """Whether this process may replace any user's file in a sticky folder (CAP_FOWNER).

    Not simply "root": a root whose capabilities were dropped (a unit's empty
    `CapabilityBoundingSet=`, a container) is refused like any user. Read from
    /proc/self/status; where that cannot be read, root is taken to have it.
    """
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_FOWNER & 1)
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


def _reason(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return (exc.strerror or str(exc)).lower()


def _room(folder: Path) -> str:
    """` (N GB free)`: the space left there to a user who is not root, as `df` shows it."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return ""
    return f" ({found.f_bavail * found.f_frsize / _GB:.1f} GB free)"
