"""What every command shares once its options are parsed: the output format, a stuck age."""

from __future__ import annotations

import sys

from fota_poller.durations import parse_duration
from fota_poller.errors import ConfigError


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
