"""The failed-login memory's file: where it lives, its format, and reading and writing it safely.

Where: beside the state database when one is configured (`<state.path>.login-failures`),
else beside the lock file (`<poll.lock_file>.login-failures`), else in systemd's
`$STATE_DIRECTORY` (a unit with `StateDirectory=`, whose user may have no home), else
`$XDG_STATE_HOME/fota-poller/login-failures.json` (`~/.local/state/...` without it): every
command that logs in reads the same config, so each finds the same file.

How: JSON, written whole to a new 0600 file and renamed over the old one, so it is never
half written and a symlink planted at its name is replaced, never written through; read
with `O_NOFOLLOW`, only if it is a regular file of this user, and bounded. One that cannot
be read or decoded is a `LoginMemoryError`: the caller refuses to log in (fail closed).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.config import Config
from fota_poller.errors import LoginMemoryError
from fota_poller.regular_files import replace_regular

FILE_SUFFIX: Final = ".login-failures"
DEFAULT_NAME: Final = "login-failures.json"
# How to let one login through again: the one command an operator types.
RETRY_COMMAND: Final = "fota-poller check --login"
_MAX_FILE_BYTES: Final = 64 * 1024


class LoginFailure(msgspec.Struct, frozen=True):
    """One set of credentials whose login was refused: its fingerprint, since when, how often."""

    salt: str  # hex
    fingerprint: str  # hex: scrypt(host, username, password; salt)
    since: str  # the first refusal, ISO 8601 UTC
    last: str
    failures: int
    http_status: int
    # The copy in the user's folder names the file it copies, so that a success seen by a
    # command that only knows the copy (`check` without `--state`) clears that one too.
    also_in: str | None = None


class _MemoryFile(msgspec.Struct):
    failures: list[LoginFailure] = []
    version: int = 1


def login_memory_path(config: Config, environ: Mapping[str, str] = os.environ) -> Path:
    """Where failed logins are kept: by the state database, lock file, systemd's or XDG's folder.

    Every command that logs in reads the same config, so each finds the same file.
    """
    if config.state.path is not None:
        return Path(config.state.path + FILE_SUFFIX)
    if config.poll.lock_file is not None:
        return Path(config.poll.lock_file + FILE_SUFFIX)
    path = user_memory_path(environ)
    if path is None:
        raise LoginMemoryError(
            "no folder to remember failed logins in: HOME is not set; set state.path, "
            "poll.lock_file or XDG_STATE_HOME"
        )
    return path


def user_memory_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The user's own memory file (systemd's or XDG's state folder); None without a home.

    Also a copy of the memory kept elsewhere: a `check` run without poll's `--state` or
    `--lock-file` still finds a refusal there.
    """
    # systemd's StateDirectory= (several are separated by colons): the service's own folder.
    systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd and Path(systemd).is_absolute():
        return Path(systemd) / DEFAULT_NAME
    xdg = environ.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "fota-poller" / DEFAULT_NAME
    try:
        return Path.home() / ".local" / "state" / "fota-poller" / DEFAULT_NAME
    except RuntimeError:
        return None


def read_failures(path: Path) -> list[LoginFailure]:
    """The entries of the file at `path`: none when missing; `LoginMemoryError` when unusable."""
    how = f"fix or delete it, or run `{RETRY_COMMAND}`"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise LoginMemoryError(
            f"cannot read the failed-login memory {path}: {os_reason(exc)}; {how}"
        ) from None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise LoginMemoryError(f"the failed-login memory {path} is not a regular file; {how}")
        if status.st_uid != os.geteuid():
            raise LoginMemoryError(f"the failed-login memory {path} belongs to another user; {how}")
        raw = file.read(_MAX_FILE_BYTES + 1)
    try:
        if len(raw) > _MAX_FILE_BYTES:
            raise ValueError(raw)  # noqa: TRY301 - one message for every unreadable file
        return msgspec.json.decode(raw, type=_MemoryFile).failures
    except Exception:  # noqa: BLE001 - any decoder error is the same unreadable file
        raise LoginMemoryError(
            f"the failed-login memory {path} is unreadable (damaged or not ours); no login is "
            f"tried without it: {how}"
        ) from None


def write_failures(path: Path, failures: list[LoginFailure]) -> None:
    """Replace the file at `path` with these entries: a new 0600 file, synced, renamed over it.

    Raises `OSError` when it cannot be written. A link or a FIFO planted at `path` is replaced,
    never written through: a memory that could not be written would let the next run log in.
    """
    data = msgspec.json.encode(_MemoryFile(failures))
    replace_regular(path, data, mode=0o600, replace_any=True)


def os_reason(exc: OSError) -> str:
    """An OS error in a few words: `it is a symbolic link`, `permission denied`."""
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link"
    return (exc.strerror or str(exc)).lower()
