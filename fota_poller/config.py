"""Configuration: one typed object, decoded from TOML, with command-line flags laid over it.

This module is the one home of every default and every name of a setting. The settings
objects below it (`RetryPolicy`, `BackoffSettings`, the circuit and the throttle) have no
defaults of their own: they are built from `PollConfig` by `settings_for`, field by field
under the TOML key's own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

import msgspec

from fota_poller.config_messages import (
    file_value_message,
    flag_value_message,
    unknown_keys,
    unknown_keys_message,
)
from fota_poller.config_sources import config_table, file_keys
from fota_poller.durations import Duration, unitless
from fota_poller.errors import ConfigError
from fota_poller.model.phases import PhasesConfig

DEFAULT_BASE_URL = "https://thingspace.verizon.com/api"

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
LogLevel = Literal["debug", "info", "warning", "error"]
# auto: journald's lines when stderr is the journal, readable lines on a terminal, JSON
# lines otherwise (observe/logs.py: journal and ecs are JSON lines too).
LogFormat = Literal["auto", "json", "console", "journal", "ecs"]
Emit = Literal["all", "changes"]
AccountName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# An open set of strings (see docs/thingspace.md), so only the characters are checked.
UpgradeStatus = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_ -]{1,64}$")]


class ApiConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where the API is and which account bare upgrade ids belong to."""

    base_url: str = DEFAULT_BASE_URL
    account: str | None = None

    def __post_init__(self) -> None:
        # Refused at start, for every command: without a scheme, aiohttp would fail each
        # request on its own, long after the run began (and `check` could not say why).
        validate_base_url(self.base_url)


def validate_base_url(url: str) -> None:
    """Raise ValueError unless `url` is an absolute `http://` or `https://` URL with a host.

    A URL with credentials in it (`http://user:password@host`) is refused too: they would be
    sent as Basic auth to every request and shown wherever the URL is (the run's first log
    line). The message shows the URL with its password as `***`.
    """
    scheme, separator, rest = url.partition("://")
    authority = rest.split("/", 1)[0]
    _, at, host = authority.rpartition("@")
    shown = _without_password(url)
    if not separator or scheme.lower() not in {"http", "https"} or not host.split(":")[0]:
        raise ValueError(f"api.base_url {shown!r} is not an http:// or https:// URL with a host")
    if at:
        raise ValueError(
            f"api.base_url {shown!r} holds credentials (user:password@): give the URL "
            "without them; the credentials come from [auth]"
        )


def _without_password(url: str) -> str:
    """`url` with what follows the user name in its userinfo shown as `***`."""
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{scheme}{separator}{masked}@{host}{slash}{path}"


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
    # Before the API has answered anything at all (a host name that does not resolve, a
    # refused connection: a wrong base URL, most likely), the run ends (exit 4) this soon.
    max_startup_outage_s: PositiveFloat = 120.0
    max_response_mb: PositiveFloat = 256.0
    # A duration such as `45m`, `1h30m`, `90s` or a bare number of seconds.
    deadline: Duration | None = None
    grace_s: NonNegativeFloat = 2.0
    lock_file: str | None = None

    # Fixed, no TOML key: request starts per second the throttle never goes below after a 429.
    min_rate: ClassVar[float] = 0.5
    # Share of the ceiling rate regained per second after a 429: from half the rate back to
    # the full rate takes five seconds.
    recovery_per_s: ClassVar[float] = 0.1
    # Fixed too: how often an open circuit logs `backoff.circuit_still_open`.
    circuit_reminder_s: ClassVar[float] = 60.0

    @property
    def max_response_bytes(self) -> int:
        """`max_response_mb` in bytes, the unit a body is counted in."""
        return int(self.max_response_mb * 1024 * 1024)


class OutputConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where records go: a file path, or stdout when unset."""

    path: str | None = None
    # `changes` writes only the device records whose `change` is not `same` (needs a state).
    emit: Emit = "all"
    # A Prometheus textfile-collector file rewritten at the end of every run; unset: none.
    metrics_file: str | None = None


class DiscoverConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Which upgrades to find through the status report; none when `statuses` is empty."""

    statuses: tuple[UpgradeStatus, ...] = ()
    # Empty means the one account in api.account.
    accounts: tuple[AccountName, ...] = ()
    # Report pages of one account and status at most: a server whose pages never end must
    # not hold a run for ever. Why 10,000 is in docs/configuration.md.
    max_pages: PositiveInt = 10_000


class LogConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Logging to stderr."""

    level: LogLevel = "info"
    format: LogFormat = "auto"


class AuthConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Files that hold the credentials (never the secrets themselves); the environment wins."""

    app_key_file: str | None = None
    app_secret_file: str | None = None
    username_file: str | None = None
    password_file: str | None = None


class StateConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The state database that remembers the last successful poll; none when `path` is unset."""

    path: str | None = None
    history_days: PositiveInt = 180  # nights of history kept (state/history.py)


class InventoryConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Each device joined to its account's device list: one request per 1,000 devices."""

    enabled: bool = False


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The whole configuration, passed down as one object."""

    api: ApiConfig = ApiConfig()
    poll: PollConfig = PollConfig()
    output: OutputConfig = OutputConfig()
    log: LogConfig = LogConfig()
    auth: AuthConfig = AuthConfig()
    discover: DiscoverConfig = DiscoverConfig()
    state: StateConfig = StateConfig()
    inventory: InventoryConfig = InventoryConfig()
    phases: PhasesConfig = PhasesConfig()


Settings = TypeVar("Settings", bound=msgspec.Struct)


def settings_for(settings: type[Settings], section: msgspec.Struct) -> Settings:
    """A settings struct whose every field is the config attribute of the same name.

    A field named otherwise than its config key is an `AttributeError` here, so a value keeps
    one name from the TOML file to the code that uses it.
    """
    return settings(**{name: getattr(section, name) for name in settings.__struct_fields__})


def load_config(path: Path | None) -> Config:
    """Read a TOML file into a `Config`; None gives the defaults."""
    return load_config_keys(path)[0]


def load_config_keys(path: Path | None) -> tuple[Config, frozenset[str]]:
    """`load_config`, and the keys the file sets (`poll.rate`): where each value came from.

    A key or table that is no setting is refused with the closest real name (all of them
    counted, the first named), before any value is looked at.
    """
    if path is None:
        return Config(), frozenset()
    table = config_table(path)
    unknown = unknown_keys(table, Config)
    if unknown:
        raise ConfigError(f"config {path}: {unknown_keys_message(unknown, table, Config)}")
    try:
        # As msgspec.toml.decode converts what tomllib read, from the table already read.
        config = msgspec.convert(
            table, Config, builtin_types=_TOML_TYPES, str_keys=True, dec_hook=_decode
        )
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config {path}: {file_value_message(str(exc), table)}") from None
    return config, file_keys(table, Config)


def apply_overrides(config: Config, **sections: dict[str, Any]) -> Config:
    """Lay flag values over the config: `apply_overrides(c, poll={"rate": 5})`; None is skipped.

    The result is re-validated so a flag cannot smuggle in a value the file could not hold.
    """
    updated = config_values(config)
    given = {
        f"{section}.{key}": value
        for section, values in sections.items()
        for key, value in values.items()
        if value is not None
    }
    for key, value in given.items():
        section, name = key.split(".")
        updated[section][name] = value
    try:
        return msgspec.convert(updated, type=Config, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        # Named as it was given: `--rate: must be ...` (config_sources.FLAGS), not the key.
        named = flag_value_message(str(exc), given)
        raise ConfigError(named or file_value_message(str(exc), updated)) from None


def config_values(config: Config) -> dict[str, dict[str, Any]]:
    """The config as TOML would hold it, section by section: a duration as its text."""
    values: dict[str, dict[str, Any]] = msgspec.to_builtins(config, enc_hook=_encode)
    return values


def _decode(type_: type, value: object) -> object:
    """Decode what msgspec does not know: a `Duration` from its text."""
    if type_ is Duration:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(unitless(str(value)))
        if not isinstance(value, str):
            raise TypeError(f"Expected `str | null`, got `{type(value).__name__}`")
        try:
            return Duration(value)
        except ConfigError as exc:
            # msgspec turns this into a validation error naming `poll.deadline`.
            raise ValueError(str(exc)) from None
    raise NotImplementedError(type_)


def _encode(value: object) -> object:
    """Encode what msgspec does not know: a `Duration` as its text."""
    if isinstance(value, Duration):
        return value.text
    raise NotImplementedError(type(value))


# The config file read when `--config` is not given: this variable's file, else the system one
# when it exists (a package or an admin puts it there; a missing one is no error).
CONFIG_ENV = "FOTA_POLLER_CONFIG"
# The types tomllib gives that msgspec.toml.decode keeps as they are.
_TOML_TYPES: Final = (datetime, date, time)
DEFAULT_CONFIG_PATH = Path("/etc/fota-poller/config.toml")


def config_path(flag: Path | None, environ: Mapping[str, str]) -> tuple[Path | None, str]:
    """The config file to read and where its name came from: `--config`, the variable, /etc."""
    if flag is not None:
        return flag, "--config"
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]), CONFIG_ENV
    if DEFAULT_CONFIG_PATH.is_file():
        return DEFAULT_CONFIG_PATH, "default"
    return None, "none"
