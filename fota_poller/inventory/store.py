"""One account's device list, held compactly: a million devices in 18 MB of arrays.

Per device the store keeps 18 bytes in flat arrays: the IMEI as an int64 (`keys`, sorted, so
a lookup is a bisect), its kind as 2 bytes (an index into the account's table of distinct
(model, make, firmware), a few dozen on a real account, times three for `fotaEligible`), and
the upgrade time as int64 milliseconds. A dict of IMEI strings to a Struct each costs
about 250 bytes a device: 250 MB for the 1,000,000-device account issue 21 sizes the run
for, against its 120 MB budget. `bench/inventory_memory.py` measures the store's RSS.

IMEIs are strings in the API. One that does not round-trip through an int (a leading zero,
a letter, 19 digits or more) is kept in a dict beside the arrays, so any id is found again.

`InventoryBuilder` takes devices in the order the pages bring them (IMEI order, as the API
pages them; any other order is sorted once at the end) and keeps the last of an IMEI listed
twice, counting it. The join asks `Inventory.find` for a campaign's devices at once (their
kinds and upgrade times) and `Inventory.kind` once per kind it meets: what the devices of a
kind share is written as it is, and compared with the campaign's target once.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from itertools import compress, repeat
from operator import eq, itemgetter, not_
from typing import Final, cast

import msgspec

from fota_poller.inventory.upgrade_time import format_upgrade_time
from fota_poller.model.inventory import MISSING, InventoryEntry

# 18 digits always fit an int64; an IMEI has 15 (16 for an IMEISV).
_MAX_KEY_DIGITS: Final = 18
NO_TIME: Final = -(1 << 63)
_SENTINEL: Final = (1 << 63) - 1  # 19 digits: no IMEI's key
_UNKNOWN: Final = 2  # fotaEligible absent or null; 0 and 1 are False and True

Profile = tuple[str | None, str | None, str | None]


def numeric_key(imei: str) -> int | None:
    """`imei` as an int when `str(int(imei)) == imei` and it fits an int64; else None."""
    digits = 0 < len(imei) <= _MAX_KEY_DIGITS and imei.isascii() and imei.isdigit()
    if digits and (imei[0] != "0" or len(imei) == 1):
        return int(imei)
    return None


class Columns:
    """A device's values by row: its kind (`_kind`: profile and eligibility), upgrade time (ms)."""

    __slots__ = ("kinds", "times")

    def __init__(self) -> None:
        self.kinds = array("H")
        self.times = array("q")

    def append(self, kind: int, ms: int | None) -> None:
        """A row more."""
        self.kinds.append(kind)
        self.times.append(NO_TIME if ms is None else ms)

    def put(self, row: int, kind: int, ms: int | None) -> None:
        """`row` anew (an IMEI listed again)."""
        self.kinds[row] = kind
        self.times[row] = NO_TIME if ms is None else ms

    def taken(self, rows: array[int]) -> Columns:
        """The values of `rows`, in their order (this one's arrays let go as it goes)."""
        other = Columns()
        other.kinds = array("H", map(self.kinds.__getitem__, rows))
        self.kinds = array("H")
        other.times = array("q", map(self.times.__getitem__, rows))
        self.times = array("q")
        return other


def kind_of(profile: int, eligible: bool | None) -> int:
    """A (profile, fotaEligible) as one number: what the devices of an account share."""
    return profile * 3 + (_UNKNOWN if eligible is None else int(eligible))


def _canonical(imeis: list[str | None]) -> bool:
    """Whether every id round-trips through an int that fits the keys (`numeric_key`).

    The same test as `numeric_key`, over a whole campaign in a few C calls: a campaign's ids
    are IMEIs, and one loop in Python over them would cost more than the lookups.
    """
    if not imeis or None in imeis:
        return False
    ids = cast("list[str]", imeis)  # no None among them (just checked)
    joined = "".join(ids)
    return (
        joined.isascii()
        and joined.isdigit()
        and min(map(len, ids)) > 0
        and max(map(len, ids)) <= _MAX_KEY_DIGITS
        and "0" not in map(itemgetter(0), ids)
    )


class Inventory:
    """One account's devices by IMEI: `find` gives what the device list said of each."""

    def __init__(
        self,
        *,
        keys: array[int],
        numeric: Columns,
        others: dict[str, int],
        other_columns: Columns,
        profiles: list[Profile],
        duplicates: int,
    ) -> None:
        """`keys` ascending, each once, and their columns (both are kept, and added to)."""
        self._count = len(keys) + len(others)
        # A last key no IMEI has (18 digits at most, this is 19), so that `bisect_left` lands
        # on a row for any key, and `find` reads that row without a bounds check.
        keys.append(_SENTINEL)
        numeric.append(0, None)
        self._keys = keys
        self._numeric = numeric
        self._others = others
        self._other_columns = other_columns
        self._profiles = profiles
        self.duplicates = duplicates  # IMEIs listed more than once (the last was kept)

    def __len__(self) -> int:
        return self._count

    @property
    def profile_count(self) -> int:
        """How many distinct (model, make, firmware) the account's devices report."""
        return len(self._profiles)

    @property
    def array_bytes(self) -> int:
        """The bytes the per-device arrays take (the dict of other ids not counted)."""
        columns = (self._numeric, self._other_columns)
        return len(self._keys) * self._keys.itemsize + sum(
            len(c.kinds) * c.kinds.itemsize + len(c.times) * c.times.itemsize for c in columns
        )

    def find(self, imeis: list[str | None]) -> tuple[list[int], list[str | None]]:
        """Per id, in order: its kind (`MISSING` when not listed) and its upgrade time.

        The upgrade time is RFC 3339 UTC with milliseconds, None when never upgraded or
        unknown; `kind(k)` says what the devices of kind `k` share. Ids that all round-trip
        through an int (IMEIs, as the API sends them) are looked up in C calls mapped over
        the campaign: 1.2 us a device where a loop in Python over `_row` costs 2.
        """
        if not _canonical(imeis):
            return self._find_each(imeis)
        keys, columns = self._keys, self._numeric
        wanted = list(map(int, cast("list[str]", imeis)))  # canonical: no None
        rows = list(map(bisect_left, repeat(keys), wanted))
        hits = list(map(eq, map(keys.__getitem__, rows), wanted))
        kinds = list(map(columns.kinds.__getitem__, rows))
        times = list(map(columns.times.__getitem__, rows))
        for position in compress(range(len(hits)), map(not_, hits)):
            kinds[position], times[position] = MISSING, NO_TIME
        return kinds, [None if ms == NO_TIME else format_upgrade_time(ms) for ms in times]

    def kind(self, kind: int) -> InventoryEntry:
        """What the devices of `kind` share: model, make, firmware and eligibility."""
        model, make, firmware = self._profiles[kind // 3]
        eligible = kind % 3
        return InventoryEntry(
            model=model,
            make=make,
            firmware=firmware,
            upgraded_at=None,
            fota_eligible=None if eligible == _UNKNOWN else bool(eligible),
        )

    def lookup(self, imei: str) -> InventoryEntry | None:
        """What the device list says of `imei`; None when the account does not list it."""
        (kind,), (upgraded_at,) = self.find([imei])
        if kind == MISSING:
            return None
        return msgspec.structs.replace(self.kind(kind), upgraded_at=upgraded_at)

    def _find_each(self, imeis: list[str | None]) -> tuple[list[int], list[str | None]]:
        """`find`, one id at a time: for a campaign with an id that is no plain IMEI."""
        kinds: list[int] = []
        times: list[str | None] = []
        for imei in imeis:
            columns, row = self._row(imei)
            ms = NO_TIME if columns is None else columns.times[row]
            kinds.append(MISSING if columns is None else columns.kinds[row])
            times.append(None if ms == NO_TIME else format_upgrade_time(ms))
        return kinds, times

    def _row(self, imei: str | None) -> tuple[Columns | None, int]:
        if imei is None:
            return None, 0
        key = numeric_key(imei)
        if key is None:
            other = self._others.get(imei)
            return (None, 0) if other is None else (self._other_columns, other)
        keys = self._keys
        row = bisect_left(keys, key)
        return (self._numeric, row) if keys[row] == key else (None, 0)
