"""Where the credentials come from: the environment first, else files named in `[auth]`.

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

import msgspec

from fota_poller.config import AuthConfig
from fota_poller.errors import ConfigError, MissingCredentialsError

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


def load_credentials(config: AuthConfig, environ: Mapping[str, str] = os.environ) -> Credentials:
    """Read the credentials, or say in one line which ones are missing.

    Each token needs either its pre-issued value or what obtains it: the Bearer token the
    app key and secret, the session token the username and password.
    """
    folder = environ.get("CREDENTIALS_DIRECTORY")
    credentials = Credentials(
        app_key=_read(environ, APP_KEY_ENV, "app_key_file", config.app_key_file, folder),
        app_secret=_read(
            environ, APP_SECRET_ENV, "app_secret_file", config.app_secret_file, folder
        ),
        username=_read(environ, USERNAME_ENV, "username_file", config.username_file, folder),
        password=_read(environ, PASSWORD_ENV, "password_file", config.password_file, folder),
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
    if environ.get(variable):
        return Secret(environ[variable])
    if file is None:
        return None
    path = Path(folder) / file if folder and not Path(file).is_absolute() else Path(file)
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read auth.{key} {path}: {exc.strerror}") from None
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
