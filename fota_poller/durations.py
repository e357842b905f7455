"""Spans of time as an operator writes them: `45m`, `1h30m`, `90s`, `7d`; never a bare number.

Used by the config (`poll.deadline`) and by the commands that take a duration (`state stuck
--stuck-after`, `summary --stuck-after`), so all of them read a duration the same way.
"""

from __future__ import annotations

import re

from fota_poller.errors import ConfigError


class Duration:
    """A span of time as written (`45m`, `1h30m`, `90s`) and in seconds, parsed once."""

    __slots__ = ("seconds", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.seconds = parse_duration(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"


_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([dhms])\s*")
_BARE_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `7d`, `45m`, `1h30m` or `90s`; a `ConfigError` for anything else.

    A bare number is refused with a message asking for the unit, rather than taken as seconds.
    """
    if _BARE_NUMBER.fullmatch(text):
        raise ConfigError(unitless(text.strip()))
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


def unitless(number: str) -> str:
    """The error for a duration written without its unit."""
    return f"duration {number!r} has no unit: write {number}s, {number}m, {number}h or {number}d"
