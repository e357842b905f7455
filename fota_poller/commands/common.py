"""What every command does the same way: find its config, choose its format, read a duration.

Every command that reads a config finds it as `poll` always did (docs/configuration.md):
`-c/--config`, else `$FOTA_POLLER_CONFIG`, else `/etc/fota-poller/config.toml` if it exists,
else the defaults. So `check`, `state` and `summary` test and read what the night's `poll`
reads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import msgspec

from fota_poller.config import CONFIG_ENV, Config, config_path, load_config_keys
from fota_poller.durations import parse_duration
from fota_poller.errors import ConfigError


class ConfigRead(msgspec.Struct, frozen=True):
    """The config as its file holds it, before any flag, and where it came from."""

    config: Config
    # None: no file, the defaults.
    path: Path | None
    # `--config`, the variable's name, `default` (the file in /etc) or `none`.
    found_by: str
    # The keys the file sets (`poll.rate`): each other value is the default, or a flag's.
    file_keys: frozenset[str]


def read_config(flag: Path | None) -> tuple[Config, Path | None, str]:
    """The config, the file it came from (None: the defaults) and how that file was found.

    How: `--config`, the variable's name, `default` (the file in /etc) or `none`.
    """
    read = read_config_sources(flag)
    return read.config, read.path, read.found_by


def read_config_sources(flag: Path | None) -> ConfigRead:
    """`read_config`, with the keys the file sets: what `check` says each value came from.

    An error with a file that `$FOTA_POLLER_CONFIG` named says so: the operator looking at
    the crontab or the unit for `--config` finds the variable instead.
    """
    path, found_by = config_path(flag, os.environ)
    try:
        config, keys = load_config_keys(path)
    except ConfigError as exc:
        if found_by != CONFIG_ENV:
            raise
        raise ConfigError(f"{exc} (the file ${CONFIG_ENV} names)") from None
    return ConfigRead(config, path, found_by, keys)


def output_format(chosen: str | None, on_terminal: str) -> str:
    """The format asked for; else `on_terminal` when stdout is a terminal, JSON otherwise."""
    if chosen is not None:
        return chosen
    return on_terminal if sys.stdout.isatty() else "json"


def stuck_after_seconds(text: str) -> float:
    """Seconds in `--stuck-after` (`7d`, `1d12h`, `36h`): a duration as the config writes one."""
    try:
        return parse_duration(text)
    except ConfigError:
        raise ConfigError(
            f"--stuck-after: not a duration: {text!r} (use e.g. 7d, 36h, 1d12h)"
        ) from None
