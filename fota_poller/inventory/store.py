"""One account's device list, held compactly: a million devices in 18 MB of arrays.

Per device the store keeps 19 bytes in flat arrays: the IMEI as an int64 (`keys`, sorted, so
a lookup is a bisect), its (model, make, firmware) as a 2-byte index into the account's
table of distinct combinations (a few dozen on a real account), the upgrade time as int64
milliseconds, and `fotaEligible` as one byte. A dict of IMEI strings to a Struct each costs
about 250 bytes a device: 250 MB for the 1,000,000-device account issue 21 sizes the run
for, against its 120 MB budget. `bench/inventory_memory.py` measures the store's RSS.

IMEIs are strings in the API. One that does not round-trip through an int (a leading zero,
a letter, 19 digits or more) is kept in a dict beside the arrays, so any id is found again.

`InventoryBuilder` takes devices in the order the pages bring them (IMEI order, as the API
pages them; any other order is sorted once at the end) and keeps the last of an IMEI listed
twice, counting it. `Inventory.lookup` and `model.inventory.on_target` are the join's two calls.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Final

from fota_poller.errors import InventoryError
from fota_poller.inventory.upgrade_time import format_upgrade_time
from fota_poller.model.inventory import InventoryEntry

# The profile index is an unsigned short (array "H"). An account with more distinct
# combinations than this fails (`InventoryError`): it bounds what a hostile server can grow.
MAX_PROFILES: Final = 10_000
# A model, make or firmware longer than this is no real name: cut, so a hostile one costs
# little (a cut firmware never equals a campaign's `firmware_to`: on_target false).
MAX_VALUE_CHARS: Final = 256
# 18 digits always fit an int64; an IMEI has 15 (16 for an IMEISV).
_MAX_KEY_DIGITS: Final = 18
_NO_TIME: Final = -(1 << 63)
_UNKNOWN: Final = 2  # fotaEligible absent or null; 0 and 1 are False and True

Profile = tuple[str | None, str | None, str | None]


def numeric_key(imei: str) -> int | None:
    """`imei` as an int when `str(int(imei)) == imei` and it fits an int64; else None."""
    digits = 0 < len(imei) <= _MAX_KEY_DIGITS and imei.isascii() and imei.isdigit()
    if digits and (imei[0] != "0" or len(imei) == 1):
        return int(imei)
    return None


class _Columns:
    """A device's values by row: profile index, upgrade time (ms), eligibility byte."""

    __slots__ = ("eligible", "profiles", "times")

    def __init__(self) -> None:
        self.profiles = array("H")
        self.times = array("q")
        self.eligible = bytearray()

    def append(self, profile: int, ms: int | None, eligible: bool | None) -> None:
        self.profiles.append(profile)
        self.times.append(_NO_TIME if ms is None else ms)
        self.eligible.append(_UNKNOWN if eligible is None else int(eligible))

    def put(self, row: int, profile: int, ms: int | None, eligible: bool | None) -> None:
        self.profiles[row] = profile
        self.times[row] = _NO_TIME if ms is None else ms
        self.eligible[row] = _UNKNOWN if eligible is None else int(eligible)

    def taken(self, rows: array[int]) -> _Columns:
        other = _Columns()
        other.profiles = array("H", (self.profiles[row] for row in rows))
        other.times = array("q", (self.times[row] for row in rows))
        other.eligible = bytearray(self.eligible[row] for row in rows)
        return other


class Inventory:
    """One account's devices by IMEI: `lookup` gives what the device list said, or None."""

    def __init__(
        self,
        *,
        keys: array[int],
        numeric: _Columns,
        others: dict[str, int],
        other_columns: _Columns,
        profiles: list[Profile],
        duplicates: int,
    ) -> None:
        self._keys = keys
        self._numeric = numeric
        self._others = others
        self._other_columns = other_columns
        self._profiles = profiles
        self.duplicates = duplicates  # IMEIs listed more than once (the last was kept)
        # The entry of each (profile, eligibility) with no upgrade time: entries are frozen.
        self._untimed: dict[tuple[int, int], InventoryEntry] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._others)

    @property
    def profile_count(self) -> int:
        """How many distinct (model, make, firmware) the account's devices report."""
        return len(self._profiles)

    @property
    def array_bytes(self) -> int:
        """The bytes the per-device arrays take (the dict of other ids not counted)."""
        columns = (self._numeric, self._other_columns)
        return len(self._keys) * self._keys.itemsize + sum(
            len(c.profiles) * c.profiles.itemsize
            + len(c.times) * c.times.itemsize
            + len(c.eligible)
            for c in columns
        )

    def lookup(self, imei: str) -> InventoryEntry | None:
        """What the device list says of `imei`; None when the account does not list it."""
        # `numeric_key` inlined: the join calls this once a device.
        if (
            0 < len(imei) <= _MAX_KEY_DIGITS
            and imei.isascii()
            and imei.isdigit()
            and (imei[0] != "0" or len(imei) == 1)
        ):
            key = int(imei)
            keys = self._keys
            row = bisect_left(keys, key)
            if row == len(keys) or keys[row] != key:
                return None
            return self._entry(self._numeric, row)
        other = self._others.get(imei)
        if other is None:
            return None
        return self._entry(self._other_columns, other)

    def _entry(self, columns: _Columns, row: int) -> InventoryEntry:
        profile = columns.profiles[row]
        ms = columns.times[row]
        eligible = columns.eligible[row]
        if ms == _NO_TIME:
            # Most devices of an account share these (never upgraded): one entry each.
            entry = self._untimed.get((profile, eligible))
            if entry is None:
                entry = self._untimed[profile, eligible] = self._new_entry(profile, None, eligible)
            return entry
        return self._new_entry(profile, format_upgrade_time(ms), eligible)

    def _new_entry(self, profile: int, upgraded_at: str | None, eligible: int) -> InventoryEntry:
        model, make, firmware = self._profiles[profile]
        return InventoryEntry(
            model=model,
            make=make,
            firmware=firmware,
            upgraded_at=upgraded_at,
            fota_eligible=None if eligible == _UNKNOWN else bool(eligible),
        )


class InventoryBuilder:
    """Collects one account's devices page by page; `finish` gives the `Inventory`."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._numeric = _Columns()
        self._others: dict[str, int] = {}
        self._other_columns = _Columns()
        self._profile_index: dict[Profile, int] = {}
        self._profiles: list[Profile] = []
        self._in_order = True
        self.duplicates = 0

    def __len__(self) -> int:
        """Devices so far (an IMEI listed twice in pages out of order counts twice here)."""
        return len(self._keys) + len(self._others)

    def add(
        self,
        imei: str,
        *,
        model: str | None,
        make: str | None,
        firmware: str | None,
        upgraded_ms: int | None,
        fota_eligible: bool | None,
    ) -> None:
        """One device; an IMEI listed again replaces what was listed before.

        `InventoryError` when the device would be the account's `MAX_PROFILES + 1`-th
        distinct (model, make, firmware).
        """
        profile = self._profile_index.get((model, make, firmware))
        if profile is None:
            profile = self._new_profile((model, make, firmware))
        key = numeric_key(imei)
        if key is None:
            row = self._others.get(imei)
            if row is None:
                self._others[imei] = len(self._other_columns.profiles)
                self._other_columns.append(profile, upgraded_ms, fota_eligible)
            else:
                self.duplicates += 1
                self._other_columns.put(row, profile, upgraded_ms, fota_eligible)
            return
        keys = self._keys
        if keys and key <= keys[-1]:
            if key == keys[-1]:
                # Listed twice in a row: the usual duplicate, replaced in place.
                self.duplicates += 1
                self._numeric.put(len(keys) - 1, profile, upgraded_ms, fota_eligible)
                return
            self._in_order = False
        keys.append(key)
        self._numeric.append(profile, upgraded_ms, fota_eligible)

    def finish(self) -> Inventory:
        """The inventory (the builder is spent); sorted, repeats dropped, if out of order."""
        keys, numeric = self._keys, self._numeric
        if not self._in_order:
            keys, numeric = self._sorted()
        return Inventory(
            keys=keys,
            numeric=numeric,
            others=self._others,
            other_columns=self._other_columns,
            profiles=self._profiles,
            duplicates=self.duplicates,
        )

    def _sorted(self) -> tuple[array[int], _Columns]:
        keys = self._keys
        shift = max(len(keys).bit_length(), 1)
        row_mask = (1 << shift) - 1
        # One int a row, the IMEI above the row number: a plain sort with no key list (about
        # 44 bytes a row while it lasts, a third of sorting row numbers by key), and of the
        # rows of one IMEI the last listed sorts last.
        packed = [key << shift | row for row, key in enumerate(keys)]
        packed.sort()
        kept = array("q")
        last = len(packed) - 1
        for position, value in enumerate(packed):
            if position == last or packed[position + 1] >> shift != value >> shift:
                kept.append(value & row_mask)
        del packed
        self.duplicates += len(keys) - len(kept)
        return array("q", (keys[row] for row in kept)), self._numeric.taken(kept)

    def _new_profile(self, given: Profile) -> int:
        model, make, firmware = given
        profile = (_cut(model), _cut(make), _cut(firmware))
        index = self._profile_index.get(profile)
        if index is None:
            index = len(self._profiles)
            if index == MAX_PROFILES:
                raise InventoryError(
                    f"more than {MAX_PROFILES} distinct model/make/firmware combinations"
                )
            # Only the cut values are kept as a key: a long one is cut again each time.
            self._profile_index[profile] = index
            self._profiles.append(profile)
        return index


def _cut(value: str | None) -> str | None:
    if value is None or len(value) <= MAX_VALUE_CHARS:
        return value
    return value[:MAX_VALUE_CHARS] + "…"
