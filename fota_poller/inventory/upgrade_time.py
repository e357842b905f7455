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
from datetime import UTC, date, datetime, timedelta
from typing import Final

import structlog

from fota_poller.model.timestamps import format_timestamp
from fota_poller.text import escape_controls, excerpt

log = structlog.get_logger("fota_poller")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY: Final = _EPOCH.toordinal()
_DAY_MS: Final = 86_400_000
# Any moment before 1901 is a "never": the documented `01/01/1900 0:0:0`, and Go's zero
# time (`0001-01-01 00:00:00 +0000 UTC`) if a server sends that instead.
_FIRST_MS: Final = (date(1901, 1, 1).toordinal() - _EPOCH_DAY) * _DAY_MS
# The last moment a record can write (datetime stops at year 9999).
_LAST_MS: Final = (date(9999, 12, 31).toordinal() - _EPOCH_DAY + 1) * _DAY_MS - 1
_DOCUMENTED_NEVER: Final = "01/01/1900 0:0:0"
_NEVER: Final = re.compile(r"0?1/0?1/1900(?: +0{1,2}:0{1,2}:0{1,2}(?:\.0+)?)?")
_GO_TIME: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2}):(\d{2})"
    r"(?:[.,](\d{1,9}))?"
    r" ?(?:(Z)|([+-])(\d{2}):?(\d{2}))?"
    # The zone's name after the offset (`UTC`, `CEST`, `+03`): the offset already says it all.
    r"(?: ([A-Za-z]{1,6}|[+-]\d{2,4}))?"
    # Go adds the monotonic clock reading to a time taken with time.Now().
    r"(?: m=[+-]\d+(?:\.\d+)?)?"
)
# A name with no numeric offset is read only when it means UTC; others are ambiguous.
_UTC_NAMES: Final = frozenset({"UTC", "GMT"})
_HOURS: Final = 24
_MINUTES: Final = 60


def parse_upgrade_time(text: str) -> int | None:
    """Milliseconds since the epoch of `text`, None for "never"; `ValueError` if unreadable.

    Whole milliseconds, cut: `.0799` is `.079`, as isoformat(timespec="milliseconds") cuts.
    Reckoned in integers, not datetime objects: a million devices' times are read per list.
    """
    value = text.strip()
    if value == _DOCUMENTED_NEVER or _NEVER.fullmatch(value):
        return None
    match = _GO_TIME.fullmatch(value)
    if match is None:
        raise ValueError(value)
    day, hour, minute, second, fraction, z, sign, off_hour, off_minute, name = match.groups()
    hours, minutes, seconds = int(hour), int(minute), int(second)
    if hours >= _HOURS or minutes >= _MINUTES or seconds >= _MINUTES:
        raise ValueError(value)
    days = _DAYS.get(day)
    if days is None:
        days = _days(day)
    ms = (((days * _HOURS + hours) * _MINUTES + minutes) * _MINUTES + seconds) * 1000
    if fraction:
        ms += int(fraction[:3].ljust(3, "0"))
    if off_hour != "00" or off_minute != "00":  # +0000, as ThingSpace writes, needs nothing
        ms -= _offset_ms(value, z, sign, off_hour, off_minute, name)
    if ms < _FIRST_MS:
        return None
    if ms > _LAST_MS:
        raise ValueError(value)
    return ms


# Days since the epoch by date text: a night's upgrade times fall on a few hundred days.
_DAYS: dict[str, int] = {}
_MAX_DAYS: Final = 100_000


def _days(day: str) -> int:
    days = date.fromisoformat(day).toordinal() - _EPOCH_DAY  # ValueError for 2021-02-30
    if len(_DAYS) >= _MAX_DAYS:
        _DAYS.clear()
    _DAYS[day] = days
    return days


def _offset_ms(  # noqa: PLR0917 - the offset's parts as the pattern matched them
    value: str,
    z: str | None,
    sign: str | None,
    hour: str | None,
    minute: str | None,
    name: str | None,
) -> int:
    if sign is not None and hour is not None and minute is not None:
        hours, minutes = int(hour), int(minute)
        if hours >= _HOURS or minutes >= _MINUTES:
            raise ValueError(value)
        offset = (hours * _MINUTES + minutes) * 60_000
        return -offset if sign == "-" else offset
    if z is not None or name in _UTC_NAMES:
        return 0
    # No offset: a local time of an unknown zone, or a bare abbreviation (`EST`) that
    # several zones share. Guessing would put the moment hours off.
    raise ValueError(value)


def format_upgrade_time(ms: int) -> str:
    """`2021-06-03T00:03:56.079Z`: how the records write a moment (model/timestamps.py).

    The same text as `format_timestamp`, in integers: the join writes one per device (a
    million for a big account), and a datetime each cost 2.3 us of the join's 4. A day's
    text is kept (a night's upgrade times fall on a few hundred days).
    """
    days, rest = divmod(ms, _DAY_MS)
    day = _DAY_TEXT.get(days)
    if day is None:
        day = _day_text(days)
    minutes, rest = divmod(rest, 60_000)
    second, milliseconds = divmod(rest, 1000)
    return day + _MINUTE_TEXT[minutes] + _SECOND_TEXT[second] + _MILLISECOND_TEXT[milliseconds]


# `2021-06-03T` by days since the epoch: the other direction of `_DAYS`.
_DAY_TEXT: dict[int, str] = {}
# `00:03:` by minute of the day, `56.` by second, `079Z` by millisecond: 2,500 short strings.
_MINUTE_TEXT: Final = tuple(f"{m // 60:02}:{m % 60:02}:" for m in range(_HOURS * _MINUTES))
_SECOND_TEXT: Final = tuple(f"{second:02}." for second in range(_MINUTES))
_MILLISECOND_TEXT: Final = tuple(f"{milliseconds:03}Z" for milliseconds in range(1000))


def _day_text(days: int) -> str:
    text = format_timestamp(_EPOCH + timedelta(days=days))[:11]
    if len(_DAY_TEXT) >= _MAX_DAYS:
        _DAY_TEXT.clear()
    _DAY_TEXT[days] = text
    return text


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
