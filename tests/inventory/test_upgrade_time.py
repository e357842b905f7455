"""`upgradeTime` read: Go's time format, the 1900 "never", anything else null and logged once."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from structlog.testing import capture_logs

from fota_poller.inventory.upgrade_time import (
    UpgradeTimes,
    format_upgrade_time,
    parse_upgrade_time,
)
from fota_poller.model.timestamps import format_timestamp

READ = [
    # The documented form (docs/thingspace.md), and Go's other spellings of it.
    ("2021-06-03 00:03:56.079 +0000 UTC", "2021-06-03T00:03:56.079Z"),
    ("2021-06-03 00:03:56 +0000 UTC", "2021-06-03T00:03:56.000Z"),
    ("2021-06-03 00:03:56.1 +0000 UTC", "2021-06-03T00:03:56.100Z"),
    # Nine digits of fraction: cut to the millisecond, never rounded up into the next second.
    ("2021-06-03 00:03:56.999999999 +0000 UTC", "2021-06-03T00:03:56.999Z"),
    # Another zone: the offset counts, the name after it is only a name.
    ("2021-06-03 02:03:56.079 +0200 CEST", "2021-06-03T00:03:56.079Z"),
    ("2021-06-02 19:03:56.079 -0500 CDT", "2021-06-03T00:03:56.079Z"),
    ("2021-06-03 05:33:56.079 +0530 +0530", "2021-06-03T00:03:56.079Z"),
    # Go's monotonic clock reading, as time.Now().String() adds it.
    ("2021-06-03 00:03:56.079 +0000 UTC m=+0.000000001", "2021-06-03T00:03:56.079Z"),
    # RFC 3339, and the UTC names without an offset.
    ("2021-06-03T00:03:56.079Z", "2021-06-03T00:03:56.079Z"),
    ("2021-06-03T02:03:56.079+02:00", "2021-06-03T00:03:56.079Z"),
    ("2021-06-03 00:03:56.079 UTC", "2021-06-03T00:03:56.079Z"),
    ("  2021-06-03 00:03:56.079 +0000 UTC\n", "2021-06-03T00:03:56.079Z"),
    # Before the epoch but after 1900: a real moment still.
    ("1969-12-31 23:59:59.999 +0000 UTC", "1969-12-31T23:59:59.999Z"),
]

NEVER = [
    "01/01/1900 0:0:0",
    "1/1/1900 00:00:00",
    "01/01/1900",
    "1900-01-01 00:00:00 +0000 UTC",
    "0001-01-01 00:00:00 +0000 UTC",  # Go's zero time
]

UNREADABLE = [
    "",
    "yesterday",
    "2021-06-03",
    "2021-13-03 00:03:56 +0000 UTC",  # no month 13
    "2021-06-03 24:03:56 +0000 UTC",
    "2021-02-30 00:03:56 +0000 UTC",
    "2021-06-03 00:03:56.079",  # no zone: local to where?
    "2021-06-03 00:03:56.079 EST",  # a name several zones share
    "2021-06-03 00:03:56.079 +9900 UTC",  # no such offset
    "9999-12-31 23:59:59 -2359 XYZ",  # past year 9999 in UTC
    "02/01/1900 0:0:0",
    "2021-06-03 00:03:56.0790000000 +0000 UTC",  # ten digits of fraction
    "٢٠٢١-06-03 00:03:56 +0000 UTC",  # Arabic-Indic digits
]


def test_the_integer_formatter_writes_what_format_timestamp_writes() -> None:
    # format_upgrade_time reckons in integers (the join writes one a device); every moment
    # it can be given must read as the records' own formatter writes it.
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = int((datetime(1901, 1, 1, tzinfo=UTC) - epoch).total_seconds() * 1000)
    last = int(
        (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - epoch).total_seconds() * 1000
    )
    edges = [first, first + 1, -86_400_001, -1, 0, 1, 86_399_999, 86_400_000, last - 1, last]
    rng = random.Random(21)
    for ms in edges + [rng.randint(first, last) for _ in range(20_000)]:
        assert format_upgrade_time(ms) == format_timestamp(epoch + timedelta(milliseconds=ms)), ms


@pytest.mark.parametrize(("text", "expected"), READ)
def test_an_upgrade_time_is_written_as_the_records_write_moments(text: str, expected: str) -> None:
    ms = parse_upgrade_time(text)
    assert ms is not None
    assert format_upgrade_time(ms) == expected


@pytest.mark.parametrize("text", NEVER)
def test_the_1900_value_means_never_upgraded(text: str) -> None:
    assert parse_upgrade_time(text) is None
    times = UpgradeTimes()
    with capture_logs() as logs:
        assert times.read(text, "acct") is None
    assert times.unreadable == 0
    assert logs == []


@pytest.mark.parametrize("text", UNREADABLE)
def test_an_unreadable_value_is_a_value_error_for_the_parser(text: str) -> None:
    with pytest.raises(ValueError, match=r".*"):
        parse_upgrade_time(text)


def test_unreadable_values_are_null_and_logged_once_per_run_escaped() -> None:
    times = UpgradeTimes()
    with capture_logs() as logs:
        values = [times.read(text, "acct\x1b[2J") for text in ["\x1b[2Jsoon", *UNREADABLE]]
        assert times.read(None, "acct") is None  # absent: not unreadable
    assert values == [None] * (len(UNREADABLE) + 1)
    assert times.unreadable == len(UNREADABLE) + 1
    [line] = logs
    assert line["event"] == "inventory.upgrade_time_unreadable"
    assert line["log_level"] == "warning"
    assert "\x1b" not in line["value"]
    assert "\\x1b" in line["value"]
    assert "\x1b" not in line["account_name"]


def test_random_strings_never_raise_anything_but_value_error() -> None:
    rng = random.Random(21)
    alphabet = string.digits * 4 + " -+:./TZUCm=" + string.ascii_letters + "\x00\u2028é٣"
    times = UpgradeTimes()
    templates = [s for s, _ in READ] + NEVER
    for _ in range(20_000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        else:
            # Mutate a good value one character at a time: the parser's near misses.
            chars = list(rng.choice(templates))
            for _ in range(rng.randrange(1, 4)):
                chars[rng.randrange(len(chars))] = rng.choice(alphabet)
            text = "".join(chars)
        try:
            ms = parse_upgrade_time(text)
        except ValueError:
            ms = None
        else:
            if ms is not None:
                assert format_upgrade_time(ms).endswith("Z")
        with capture_logs():
            assert times.read(text, "acct") == ms


def test_random_moments_in_any_zone_read_back_to_the_same_millisecond() -> None:
    # Go's own spelling of random moments, against datetime's arithmetic.
    rng = random.Random(7)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for _ in range(5_000):
        offset = timedelta(minutes=rng.randrange(-14 * 60, 14 * 60 + 1, 15))
        zone = timezone(offset)
        moment = datetime(rng.randrange(1902, 9999), 1, 1, tzinfo=zone) + timedelta(
            microseconds=rng.randrange(364 * 86_400 * 10**6)
        )
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(offset) // timedelta(minutes=1)
        fraction = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
        text = (
            f"{moment:%Y-%m-%d %H:%M:%S}{fraction} {sign}{minutes // 60:02d}{minutes % 60:02d}"
            f" {rng.choice(['UTC', 'CEST', '+03', 'XYZ'])}"
        )
        expected = (moment - epoch) // timedelta(milliseconds=1)
        assert parse_upgrade_time(text) == expected, text
        assert format_upgrade_time(expected) == moment.astimezone(UTC).isoformat(
            timespec="milliseconds"
        ).replace("+00:00", "Z")
