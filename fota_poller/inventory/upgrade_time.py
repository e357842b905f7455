"""How a device's `upgradeTime` is read: Go's time format, the 1900 "never", anything else.

ThingSpace writes `upgradeTime` as Go's `time.Time.String()` does, not in RFC 3339:
`2021-06-03 00:03:56.079 +0000 UTC` (fraction of 0 to 9 digits, trailing zeros dropped, the
zone's abbreviation after the offset, sometimes a monotonic-clock suffix `m=+0.000000001`).
A device never upgraded says `01/01/1900 0:0:0` (docs/thingspace.md). Both are read here, an
RFC 3339 moment too; the moment is kept as whole milliseconds since the epoch (UTC), cut
rather than rounded, as `model.timestamps` writes moments.

A value that is neither is no upgrade time (None): one log line per run says so (escaped),
and each account counts them. Nothing here raises, whatever the server sends.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

import structlog

from fota_poller.model.timestamps import format_timestamp
from fota_poller.text import escape_controls, excerpt

log = structlog.get_logger("fota_poller")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Any moment up to the end of 1900 is a "never": the documented `01/01/1900 0:0:0`, and
# Go's zero time (`0001-01-01 00:00:00 +0000 UTC`) if a server sends that instead.
_LAST_NEVER_YEAR: Final = 1900
_NEVER: Final = re.compile(r"0?1/0?1/1900(?: +0{1,2}:0{1,2}:0{1,2}(?:\.0+)?)?")
_GO_TIME: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:[.,](?P<fraction>\d{1,9}))?"
    r" ?(?:(?P<z>Z)|(?P<offset>[+-]\d{2}:?\d{2}))?"
    # The zone's name after the offset (`UTC`, `CEST`, `+03`): the offset already says it all.
    r"(?: (?P<zone>[A-Za-z]{1,6}|[+-]\d{2,4}))?"
    # Go adds the monotonic clock reading to a time taken with time.Now().
    r"(?: m=[+-]\d+(?:\.\d+)?)?"
)
# A name with no numeric offset is read only when it means UTC; others are ambiguous.
_UTC_NAMES: Final = frozenset({"UTC", "GMT", "Z"})


def parse_upgrade_time(text: str) -> int | None:
    """Milliseconds since the epoch of `text`, None for "never"; `ValueError` if unreadable."""
    value = text.strip()
    if _NEVER.fullmatch(value):
        return None
    match = _GO_TIME.fullmatch(value)
    if match is None:
        raise ValueError(value)
    try:
        moment = datetime.fromisoformat(match["date"]).replace(
            hour=int(match["h"]), minute=int(match["m"]), second=int(match["s"])
        )
        fraction = match["fraction"]
        if fraction:
            moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
        # In UTC: raises for a moment past year 9999 there, which no record could write.
        moment = moment.replace(tzinfo=_zone(match["z"], match["offset"], match["zone"]))
        moment = moment.astimezone(UTC)
        if moment.year <= _LAST_NEVER_YEAR:
            return None
        delta = moment - _EPOCH
    except (ValueError, OverflowError):
        raise ValueError(value) from None
    # Whole milliseconds, cut: `.0799` is `.079`, as isoformat(timespec="milliseconds") cuts.
    return delta // timedelta(milliseconds=1)


def _zone(z: str | None, offset: str | None, name: str | None) -> timezone:
    if offset is not None:
        digits = offset.replace(":", "")
        minutes = int(digits[1:3]) * 60 + int(digits[3:5])
        return timezone(timedelta(minutes=-minutes if digits[0] == "-" else minutes))
    if z is not None or name in _UTC_NAMES:
        return UTC
    # No offset: a local time of an unknown zone, or a bare abbreviation (`EST`) that
    # several zones share. Guessing would put the moment hours off.
    raise ValueError(name or "no time zone")


def format_upgrade_time(ms: int) -> str:
    """`2021-06-03T00:03:56.079Z`: how the records write a moment (model/timestamps.py)."""
    return format_timestamp(_EPOCH + timedelta(milliseconds=ms))


class UpgradeTimes:
    """Reads `upgradeTime` values for one run: the first unreadable one logged, each counted.

    One per run, shared by every account's inventory, so a server that sends a million
    unreadable values costs one log line; `unreadable` counts them all.
    """

    def __init__(self) -> None:
        self.unreadable = 0

    def read(self, text: str | None, account: str) -> int | None:
        """Milliseconds since the epoch, or None (never upgraded, absent or unreadable)."""
        if text is None:
            return None
        try:
            ms = parse_upgrade_time(text)
        except ValueError:
            self._unreadable(text, account)
            return None
        return ms

    def _unreadable(self, text: str, account: str) -> None:
        self.unreadable += 1
        if self.unreadable == 1:
            log.warning(
                "inventory.upgrade_time_unreadable",
                account_name=escape_controls(account),
                value=excerpt(text),  # quoted, cut, every control character escaped
                detail="firmware_upgraded_at is null for such values; later ones are not logged",
            )
