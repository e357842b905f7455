"""Collecting one account's device list, page by page, into its compact store (store.py).

`InventoryBuilder` takes devices in the order the pages bring them (IMEI order, as the API
pages them; any other order is sorted once at the end) and keeps the last of an IMEI listed
twice, counting it. It bounds what a server can make it hold: at most `MAX_PROFILES`
distinct (model, make, firmware), each value cut to `MAX_VALUE_CHARS`.
"""

from __future__ import annotations

from array import array
from typing import Final

from fota_poller.errors import InventoryError
from fota_poller.inventory.store import Columns, Inventory, Profile, kind_of, numeric_key

# A kind (profile index times three, plus eligibility) is an unsigned short (array "H"), so
# 30,000 kinds at most. An account with more distinct (model, make, firmware) than this
# fails (`InventoryError`): it bounds what a hostile server can grow.
MAX_PROFILES: Final = 10_000
# A model, make or firmware longer than this is no real name: cut, so a hostile one costs
# little (a cut firmware never equals a campaign's `firmware_to`: on_target false).
MAX_VALUE_CHARS: Final = 256


class InventoryBuilder:
    """Collects one account's devices page by page; `finish` gives the `Inventory`."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._numeric = Columns()
        self._others: dict[str, int] = {}
        self._other_columns = Columns()
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
        kind = kind_of(profile, fota_eligible)
        key = numeric_key(imei)
        if key is None:
            row = self._others.get(imei)
            if row is None:
                self._others[imei] = len(self._other_columns.kinds)
                self._other_columns.append(kind, upgraded_ms)
            else:
                self.duplicates += 1
                self._other_columns.put(row, kind, upgraded_ms)
            return
        keys = self._keys
        if keys and key <= keys[-1]:
            if key == keys[-1]:
                # Listed twice in a row: the usual duplicate, replaced in place.
                self.duplicates += 1
                self._numeric.put(len(keys) - 1, kind, upgraded_ms)
                return
            self._in_order = False
        keys.append(key)
        self._numeric.append(kind, upgraded_ms)

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

    def _sorted(self) -> tuple[array[int], Columns]:
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
        return array("q", map(keys.__getitem__, kept)), self._numeric.taken(kept)

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
