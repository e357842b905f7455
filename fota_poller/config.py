"""Configuration: one typed object, decoded from TOML, with command-line flags laid over it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from fota_poller.errors import ConfigError

DEFAULT_BASE_URL = "https://thingspace.verizon.com/api"

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
LogLevel = Literal["debug", "info", "warning", "error"]
AccountName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# An open set of strings (see docs/thingspace.md), so only the characters are checked.
UpgradeStatus = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_ -]{1,64}$")]


class ApiConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where the API is and which account bare upgrade ids belong to."""

    base_url: str = DEFAULT_BASE_URL
    account: str | None = None


class PollConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How hard to poll."""

    concurrency: PositiveInt = 8
    rate: NonNegativeFloat = 10.0
    connect_timeout_s: PositiveFloat = 10.0
    read_timeout_s: PositiveFloat = 30.0
    timeout_s: PositiveFloat = 120.0
    # 8, not 5: at 25% transient failures 5 attempts fail ~1 campaign in 1,000 (0.25^5).
    max_attempts: PositiveInt = 8
    backoff_initial_s: NonNegativeFloat = 0.5
    backoff_max_s: NonNegativeFloat = 30.0
    max_retry_after_s: NonNegativeFloat = 120.0
    circuit_failures: PositiveInt = 5
    circuit_probe_s: PositiveFloat = 1.0
    circuit_probe_max_s: PositiveFloat = 30.0
    # An API that answers nothing for this long ends the run (exit 4), deadline or not, so
    # a dead endpoint cannot hold the lock for ever.
    max_outage_s: PositiveFloat = 1800.0
    max_response_mb: PositiveFloat = 256.0
    # A duration such as `45m`, `1h30m`, `90s` or a bare number of seconds.
    deadline: str | None = None
    grace_s: NonNegativeFloat = 2.0
    lock_file: str | None = None

    def __post_init__(self) -> None:
        # msgspec turns a ValueError here into a validation error naming `poll.deadline`.
        if self.deadline is not None:
            try:
                parse_duration(self.deadline)
            except ConfigError as exc:
                raise ValueError(f"deadline: {exc}") from None


class OutputConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where records go: a file path, or stdout when unset."""

    path: str | None = None
    # A Prometheus textfile-collector file rewritten at the end of every run; unset: none.
    metrics_file: str | None = None


class DiscoverConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Which upgrades to find through the status report; none when `statuses` is empty."""

    statuses: tuple[UpgradeStatus, ...] = ()
    # Empty means the one account in api.account.
    accounts: tuple[AccountName, ...] = ()


class LogConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Logging to stderr."""

    level: LogLevel = "info"


class AuthConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Files that hold the credentials (never the secrets themselves); the environment wins."""

    app_key_file: str | None = None
    app_secret_file: str | None = None
    username_file: str | None = None
    password_file: str | None = None


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The whole configuration, passed down as one object."""

    api: ApiConfig = ApiConfig()
    poll: PollConfig = PollConfig()
    output: OutputConfig = OutputConfig()
    log: LogConfig = LogConfig()
    auth: AuthConfig = AuthConfig()
    discover: DiscoverConfig = DiscoverConfig()


def load_config(path: Path | None) -> Config:
    """Read a TOML file into a `Config`; None gives the defaults."""
    if path is None:
        return Config()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        return msgspec.toml.decode(_toml_text(path, raw), type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config {path}: {_toml_path(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML: {exc}") from None


def _toml_text(path: Path, raw: bytes) -> str:
    """The file as text: UTF-8 as TOML requires, naming the first byte that is not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config {path}: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"(line {line}); save the file as UTF-8"
        ) from None
    # A leading byte order mark is valid UTF-8 and editors on Windows write one; tomllib
    # (under msgspec.toml) rejects it as "Invalid statement (at line 1, column 1)".
    return text.removeprefix("\ufeff")


def _toml_path(message: str) -> str:
    """Turn msgspec's `$.poll.rate` into the TOML key `poll.rate` a user would write."""
    return re.sub(r"`\$\.?([^`]*)`", lambda m: f"`{m.group(1) or '(top level)'}`", message)


def apply_overrides(config: Config, **sections: dict[str, Any]) -> Config:
    """Lay flag values over the config: `apply_overrides(c, poll={"rate": 5})`; None is skipped.

    The result is re-validated so a flag cannot smuggle in a value the file could not hold.
    """
    updated = msgspec.to_builtins(config)
    for section, values in sections.items():
        updated[section].update({k: v for k, v in values.items() if v is not None})
    try:
        return msgspec.convert(updated, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(_toml_path(str(exc))) from None


_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([hms]?)\s*")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `45m`, `1h30m`, `90s` or `90`; a `ConfigError` for anything else."""
    position = 0
    total = 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None or match.end() == position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text.strip():
        raise ConfigError(f"not a duration: {text!r} (use e.g. 45m, 1h30m, 90s)")
    return total
