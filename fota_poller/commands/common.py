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

from fota_poller.config import Config, config_path, load_config
from fota_poller.durations import parse_duration
from fota_poller.errors import ConfigError


def read_config(flag: Path | None) -> tuple[Config, Path | None, str]:
    """The config, the file it came from (None: the defaults) and how that file was found.

    How: `--config`, the variable's name, `default` (the file in /etc) or `none`.
    """
    path, found_by = config_path(flag, os.environ)
    return load_config(path), path, found_by


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
