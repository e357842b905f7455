"""Failed logins remembered between runs, so that no run repeats a password already refused.

Five consecutive failed logins lock a ThingSpace account (docs/thingspace.md). A run makes
at most one failed login, but nightly runs would add up; so a rejected login is written
down, keyed by a fingerprint of the API host, the username and the password (scrypt with a
random salt per entry: never the password, never a fast hash of it), and a later run with
the same credentials does not log in (exit 3) until they change or an operator runs
`fota-poller check --login`, which tries once. A successful login forgets its entry.

Where the memory is kept and how its file is read and written:
`fota_poller.api.login_memory_file`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

import msgspec
import structlog
from yarl import URL

from fota_poller.api.credentials import Credentials
from fota_poller.api.login_memory_file import (
    DEFAULT_NAME,
    RETRY_COMMAND,
    LoginFailure,
    login_memory_path,
    os_reason,
    read_failures,
    user_memory_path,
    write_failures,
)
from fota_poller.api.token_answers import LoginOutcome
from fota_poller.config import Config
from fota_poller.errors import LoginMemoryError, LoginRejectedError

log = structlog.get_logger("fota_poller")

# scrypt's cost: about 16 MiB and a few tens of ms once per entry: slow to guess from.
_SCRYPT: Final = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
_SALT_BYTES: Final = 16
# A handful of credentials tried and refused; the oldest are dropped beyond this.
_MAX_ENTRIES: Final = 16


class LoginRecord(Protocol):
    """What the token provider asks of a login memory."""

    def refusal(self) -> str | None:
        """Why no login may be tried, or None."""
        ...

    def rejected(self, http_status: int) -> None:
        """A login was refused."""
        ...

    def accepted(self) -> None:
        """A login succeeded."""
        ...


class _NoLoginMemory:
    """No memory (library use, the demo): every login may be tried, nothing is kept."""

    def refusal(self) -> str | None:
        return None

    def rejected(self, http_status: int) -> None:
        pass

    def accepted(self) -> None:
        pass


NO_LOGIN_MEMORY: Final[LoginRecord] = _NoLoginMemory()


async def remembered(
    memory: LoginRecord, login: Awaitable[LoginOutcome], *, last_try: bool
) -> LoginOutcome:
    """Await one login and tell `memory` how it went: refused, or accepted.

    A Bearer token refused at the run's last login try is remembered as a refusal too: how
    ThingSpace answers a wrong password is not documented (docs/thingspace.md), and a 401
    whose body does not name the session looks like a refused Bearer token.
    """
    try:
        outcome = await login
    except LoginRejectedError as exc:
        memory.rejected(exc.http_status)
        raise
    if outcome.session_token is not None:
        memory.accepted()
    elif last_try:
        memory.rejected(outcome.http_status)
    return outcome


def open_login_memory(
    config: Config,
    credentials: Credentials,
    *,
    retry: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> LoginRecord:
    """The login memory for these credentials; none when they cannot log in (no password).

    `retry` (`check --login`): one login may be tried whatever is remembered, and an
    unreadable file is replaced rather than refused.
    """
    username, password = credentials.username, credentials.password
    if username is None or password is None:
        return NO_LOGIN_MEMORY
    url = URL(config.api.base_url)
    secret = "\n".join((f"{url.host}:{url.port}", username.reveal(), password.reveal()))
    path = login_memory_path(config, environ)
    memory = LoginMemory.load(path, secret.encode(), retry=retry, default=path.name == DEFAULT_NAME)
    # A copy in the user's own folder, when it can be kept: `check` without poll's --state
    # or --lock-file reads it, so the two commands still share one memory.
    copy_path = user_memory_path(environ)
    if copy_path is None or copy_path == path:
        return memory
    try:
        copy = LoginMemory.load(copy_path, secret.encode(), retry=retry, default=True)
    except LoginMemoryError:
        if copy_path.parent.is_dir() and os.access(copy_path.parent, os.W_OK | os.X_OK):
            raise  # a damaged copy is a damaged memory: fail closed
        return memory  # no folder for a copy here (a read-only home): the one file serves
    return _BothPlaces(memory, copy)


class _BothPlaces:
    """The memory of the command's config and its copy in the user's folder, as one."""

    def __init__(self, memory: LoginMemory, copy: LoginMemory) -> None:
        self._memory, self._copy = memory, copy

    def refusal(self) -> str | None:
        return self._memory.refusal() or self._copy.refusal()

    def rejected(self, http_status: int) -> None:
        self._memory.rejected(http_status)
        self._copy.rejected(http_status, also_in=self._memory.path)

    def accepted(self) -> None:
        self._memory.accepted()
        self._copy.accepted()


class LoginMemory:
    """The failed logins of one file, and whether the run's credentials are among them."""

    def __init__(self, path: Path, secret: bytes, entries: list[LoginFailure]) -> None:
        self.path = path
        self._secret = secret
        self._entries = entries
        self.match = next((entry for entry in entries if self._matches(entry)), None)
        self._retry = False

    @classmethod
    def load(cls, path: Path, secret: bytes, *, retry: bool, default: bool) -> LoginMemory:
        """Read the file (missing: nothing remembered); `LoginMemoryError` when unusable."""
        folder = path.parent
        if default:
            with contextlib.suppress(OSError):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise LoginMemoryError(
                f"cannot remember failed logins in {folder}: not a folder this user can write; "
                "no login is tried without that memory"
            )
        try:
            entries = read_failures(path)
        except LoginMemoryError:
            if not retry:
                raise
            entries = []  # the operator asked for one try: the file is written anew
        memory = cls(path, secret, entries)
        memory._retry = retry
        return memory

    def refusal(self) -> str | None:
        """Why no login may be tried (one line: since when, how to clear), or None."""
        entry = self.match
        if entry is None or self._retry:
            return None
        return (
            f"a login with these credentials was rejected (HTTP {entry.http_status}) at "
            f"{entry.since}, {entry.failures} time(s), and is not tried again so that the "
            f"account is not locked (remembered in {self.path}); correct the password, or "
            f"run `{RETRY_COMMAND}` to try once"
        )

    def rejected(self, http_status: int, *, also_in: Path | None = None) -> None:
        """Remember a refused login of these credentials; a failure to write is logged.

        `also_in`: the file this one copies, cleared too when a success is seen here.
        """
        now = _now()
        entry = self.match
        copied = str(also_in) if also_in is not None else None
        if entry is None:
            salt = secrets.token_bytes(_SALT_BYTES)
            entry = LoginFailure(
                salt=salt.hex(),
                fingerprint=_fingerprint(self._secret, salt).hex(),
                since=now,
                last=now,
                failures=1,
                http_status=http_status,
                also_in=copied,
            )
        else:
            entry = msgspec.structs.replace(
                entry,
                last=now,
                failures=entry.failures + 1,
                http_status=http_status,
                also_in=copied or entry.also_in,
            )
        others = [kept for kept in self._entries if kept is not self.match]
        self._save([*others[-(_MAX_ENTRIES - 1) :], entry])
        self.match, self._retry = entry, False

    def accepted(self) -> None:
        """A login with these credentials succeeded: forget their refusal, if remembered."""
        if self.match is None and not self._retry:
            return
        also_in = self.match.also_in if self.match is not None else None
        self._save([entry for entry in self._entries if entry is not self.match])
        self.match, self._retry = None, False
        if also_in is not None and Path(also_in) != self.path:
            try:
                LoginMemory.load(Path(also_in), self._secret, retry=True, default=False).accepted()
            except LoginMemoryError as exc:
                log.error("auth.login_memory_unwritable", path=also_in, reason=str(exc))

    def _matches(self, entry: LoginFailure) -> bool:
        try:
            salt, fingerprint = bytes.fromhex(entry.salt), bytes.fromhex(entry.fingerprint)
        except ValueError:
            return False
        return hmac.compare_digest(_fingerprint(self._secret, salt), fingerprint)

    def _save(self, entries: list[LoginFailure]) -> None:
        self._entries = entries
        try:
            write_failures(self.path, entries)
        except OSError as exc:
            log.error("auth.login_memory_unwritable", path=str(self.path), reason=os_reason(exc))


def _fingerprint(secret: bytes, salt: bytes) -> bytes:
    return hashlib.scrypt(secret, salt=salt, **_SCRYPT)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
