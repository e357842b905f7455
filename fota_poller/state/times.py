"""Times as the state database keeps them: integers, milliseconds since the epoch (UTC).

A fifth of the bytes of the ISO text for a million device rows (schema.py); read back
through `stored_time`, which takes what a file edited by hand may hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from fota_poller.model.timestamps import format_timestamp

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (integer arithmetic, no float rounding)."""
    return (moment - EPOCH) // _MILLISECOND


def from_ms(ms: int) -> datetime:
    """The UTC moment `ms` milliseconds after the epoch."""
    return EPOCH + timedelta(milliseconds=ms)


def stored_time(ms: object) -> datetime | None:
    """A time as the state holds it (ms since the epoch); None when it is no time a datetime holds.

    The database is a file others can edit: a value past year 9999, before year 1, or not an
    integer at all is read as unknown (null in records and in `state stuck`), not a crash.
    """
    if not isinstance(ms, int) or isinstance(ms, bool):
        return None
    try:
        return from_ms(ms)
    except OverflowError:
        return None


def stored_time_text(ms: object) -> str | None:
    """A stored time as record text; None when it is no time (`stored_time`)."""
    moment = stored_time(ms)
    return None if moment is None else format_timestamp(moment)
