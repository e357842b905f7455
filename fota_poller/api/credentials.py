"""Where the credentials come from: the environment first, else files named in `[auth]`.

A file `[auth]` names must be usable even when its variable is set (the variable wins).

Every credential environment variable is named here and nowhere else. Read once when a run
starts, before its first request, the credentials feed `token_provider.TokenProvider`.

Secrets never go on the command line. A relative file name is looked up in systemd's
`$CREDENTIALS_DIRECTORY` when it is set (`LoadCredential=`), else the working directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.config import AuthConfig
from fota_poller.config_sources import Source
from fota_poller.errors import ConfigError, MissingCredentialsError, NotARegularFileError
from fota_poller.regular_files import read_followed

APP_KEY_ENV = "THINGSPACE_APP_KEY"
APP_SECRET_ENV = "THINGSPACE_APP_SECRET"  # noqa: S105 - a variable name, not a secret
USERNAME_ENV = "THINGSPACE_USERNAME"
PASSWORD_ENV = "THINGSPACE_PASSWORD"  # noqa: S105 - a variable name, not a secret
BEARER_TOKEN_ENV = "THINGSPACE_BEARER_TOKEN"  # noqa: S105 - a variable name, not a secret
SESSION_TOKEN_ENV = "THINGSPACE_SESSION_TOKEN"  # noqa: S105 - a variable name, not a secret

_GROUP_OR_OTHERS_READ = stat.S_IRGRP | stat.S_IROTH


class Secret:
    """A string that shows as `<redacted>` in every repr, str and f-string; `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that can authenticate a run; any field may be absent."""

    app_key: Secret | None = None
    app_secret: Secret | None = None
    username: Secret | None = None
    password: Secret | None = None
    bearer_token: Secret | None = None
    session_token: Secret | None = None

    def values(self) -> list[str]:
        """Every secret value held, for the log redactor."""
        fields = (
            self.app_key,
            self.app_secret,
            self.username,
            self.password,
            self.bearer_token,
            self.session_token,
        )
        return [field.reveal() for field in fields if field is not None]


# Each secret a file may hold: its field, the variable that wins over the file, the file's key.
_FILE_SECRETS: Final = (
    ("app_key", APP_KEY_ENV, "app_key_file"),
    ("app_secret", APP_SECRET_ENV, "app_secret_file"),
    ("username", USERNAME_ENV, "username_file"),
    ("password", PASSWORD_ENV, "password_file"),
)
# A key, a name or a password: a file larger than this holds something else.
_MAX_SECRET_BYTES: Final = 64 * 1024


def load_credentials(config: AuthConfig, environ: Mapping[str, str] = os.environ) -> Credentials:
    """Read the credentials, or say in one line which ones are missing.

    Each token needs either its pre-issued value or what obtains it: the Bearer token the
    app key and secret, the session token the username and password. A file `[auth]` names
    is read even when its variable is set, and the variable wins (docs/credentials.md).
    """
    folder = environ.get("CREDENTIALS_DIRECTORY")
    credentials = Credentials(
        **{
            field: _read(environ, variable, key, getattr(config, key), folder)
            for field, variable, key in _FILE_SECRETS
        },
        bearer_token=_token(environ, BEARER_TOKEN_ENV),
        session_token=_token(environ, SESSION_TOKEN_ENV),
    )
    missing: list[str] = []
    if credentials.bearer_token is None:
        missing += _unset(credentials.app_key, APP_KEY_ENV, credentials.app_secret, APP_SECRET_ENV)
    if credentials.session_token is None:
        missing += _unset(credentials.username, USERNAME_ENV, credentials.password, PASSWORD_ENV)
    if missing:
        raise MissingCredentialsError(
            f"missing credentials: set {', '.join(missing)} (environment or [auth] files), "
            f"or the pre-issued {BEARER_TOKEN_ENV} / {SESSION_TOKEN_ENV}"
        )
    return credentials


def _unset(
    first: Secret | None, first_name: str, second: Secret | None, second_name: str
) -> list[str]:
    return [name for value, name in ((first, first_name), (second, second_name)) if value is None]


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _token(environ: Mapping[str, str], variable: str) -> Secret | None:
    """A pre-issued token; refused when no header could carry it (a control character)."""
    value = environ.get(variable)
    if value and not (value.isascii() and value.isprintable()):
        raise ConfigError(f"{variable} holds a control or non-ASCII character; not sent")
    return _secret(value)


def _read(
    environ: Mapping[str, str], variable: str, key: str, file: str | None, folder: str | None
) -> Secret | None:
    """The secret in `variable`, else in `file`; a file named must be usable either way.

    A file named but missing is refused even when the variable is set: it is how a
    `LoadCredential=` that failed, or a typo in the path, shows before the night the
    variable is gone.
    """
    from_file = None if file is None else _file_secret(key, secret_path(file, folder))
    if environ.get(variable):
        return Secret(environ[variable])
    return from_file


def secret_path(file: str, folder: str | None) -> Path:
    """Where a secret file is: a relative name in systemd's credentials folder when set."""
    return Path(folder) / file if folder and not Path(file).is_absolute() else Path(file)


def _file_secret(key: str, path: Path) -> Secret:
    """The secret a file holds, stripped; a `ConfigError` naming the key and the path, never it.

    A link is followed (Kubernetes mounts secrets as links); a FIFO or a device is refused,
    never waited on or read for ever.
    """
    try:
        raw = read_followed(path, _MAX_SECRET_BYTES)
        mode = path.stat().st_mode
    except NotARegularFileError as exc:
        raise ConfigError(f"auth.{key} {path}: {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read auth.{key} {path}: {exc.strerror}") from None
    if len(raw) > _MAX_SECRET_BYTES:
        raise ConfigError(f"auth.{key} {path}: over {_MAX_SECRET_BYTES >> 10} KiB, no secret")
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"auth.{key} {path}: not UTF-8 text") from None
    if mode & _GROUP_OR_OTHERS_READ:
        import structlog  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

        structlog.get_logger("fota_poller").warning(
            "auth.secret_file_readable_by_others",
            path=str(path),
            mode=oct(stat.S_IMODE(mode)),
            hint=f"chmod 600 {path}",
        )
    if not value:
        raise ConfigError(f"auth.{key} {path} is empty")
    return Secret(value)


def credential_sources(
    config: AuthConfig, environ: Mapping[str, str] = os.environ
) -> list[tuple[str, Source | None]]:
    """Where each credential comes from (`auth.app_key`, `env THINGSPACE_APP_KEY`), or None.

    What `load_credentials` would read, by name alone: no file is opened, no value shown.
    """
    folder = environ.get("CREDENTIALS_DIRECTORY")
    found: list[tuple[str, Source | None]] = []
    for field, variable, key in _FILE_SECRETS:
        file: str | None = getattr(config, key)
        source = None if file is None else Source("file", str(secret_path(file, folder)))
        found.append(
            (f"auth.{field}", Source("env", variable) if environ.get(variable) else source)
        )
    for field, variable in (
        ("bearer_token", BEARER_TOKEN_ENV),
        ("session_token", SESSION_TOKEN_ENV),
    ):
        found.append((f"auth.{field}", Source("env", variable) if environ.get(variable) else None))
    return found
