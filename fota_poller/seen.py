"""Which campaigns a run has already taken, in 20 to 40 bytes each instead of about 240.

A run must poll each distinct (account, upgrade id) pair once, so the feeder remembers every
pair it has passed on. A Python set of `CampaignRef`s costs about 240 bytes a pair (the struct,
two strings, the set slot): 24 MB at 100,000 campaigns, more than half of a run's baseline
memory. An upgrade id is a UUID, 128 bits, so each account gets an open-addressing hash table
of 64-bit halves in two `array`s: 16 bytes a slot, at most 80% full. Hand-written because no
well-kept library offers a compact exact set of 128-bit integers without pulling in numpy,
whose import alone costs more memory than the table saves.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from itertools import compress, repeat
from operator import and_, mul, or_, rshift, xor
from typing import Final

from fota_poller.ids import CampaignRef

# Only the canonical form is packed, so that distinct strings never share one number.
_UUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CANONICAL_UUID: Final = re.compile(_UUID)
# Many canonical ids joined by commas (a comma is never part of one).
_CANONICAL_UUIDS: Final = re.compile(rf"{_UUID}(?:,{_UUID})*")
_LOW_64: Final = (1 << 64) - 1
# Fibonacci hashing: multiply by 2**64 / golden ratio modulo 2**64 and keep the top bits, so
# UUIDs whose low bits barely vary (time-based ones) and small numbers (0...01, 0...02) alike
# spread over the table. (Bits above 2**64 would put small numbers in consecutive slots.)
_GOLDEN: Final = 0x9E3779B97F4A7C15
_FIRST_CAPACITY: Final = 1024
_MAX_LOAD: Final = 0.8


class SeenCampaigns:
    """A set of campaigns that only grows: `add` says whether a campaign is new."""

    def __init__(self) -> None:
        self._tables: dict[str, _UuidTable] = {}
        # Ids not in canonical UUID form cannot be packed; they are kept as they are.
        self._others: set[CampaignRef] = set()

    def add(self, ref: CampaignRef) -> bool:
        """Remember `ref`; True when it was not seen before."""
        if not _CANONICAL_UUID.fullmatch(ref.upgrade_id):
            if ref in self._others:
                return False
            self._others.add(ref)
            return True
        table = self._tables.get(ref.account_name)
        if table is None:
            table = self._tables[ref.account_name] = _UuidTable()
        return table.add(int(ref.upgrade_id.replace("-", ""), 16))

    def add_all(self, refs: list[CampaignRef]) -> list[CampaignRef]:
        """Remember every ref; the ones not seen before (nor earlier in `refs`), in order.

        The same as `add` on each, at a fraction of the cost: the ids are checked and turned
        into numbers a batch at a time, in C, and the table probes without a call per ref.
        """
        if not refs:
            return []
        account = refs[0].account_name
        upgrade_ids = [ref.upgrade_id for ref in refs]
        # The usual batch: one account, every id canonical. One regex pass checks them all.
        if any(ref.account_name != account for ref in refs) or not _CANONICAL_UUIDS.fullmatch(
            ",".join(upgrade_ids)
        ):
            return [ref for ref in refs if self.add(ref)]
        table = self._tables.get(account)
        if table is None:
            table = self._tables[account] = _UuidTable()
        values = map(int, map(str.replace, upgrade_ids, repeat("-"), repeat("")), repeat(16))
        return list(compress(refs, table.add_all(values)))

    def __len__(self) -> int:
        return sum(len(table) for table in self._tables.values()) + len(self._others)


class _UuidTable:
    """An exact set of 128-bit integers: high and low 64-bit halves in two arrays, linear probing.

    The probe loop is written out in `add` and `_grow`, with no call and no index arithmetic
    per probe: a stopped run still checks every id left in its input, and this loop is a third
    faster than one calling a probe function on an array of pairs.
    """

    def __init__(self, capacity: int = _FIRST_CAPACITY) -> None:
        self._mask = capacity - 1
        # Keeps the top log2(capacity) bits of the 64-bit product (see _GOLDEN).
        self._shift = 65 - capacity.bit_length()
        self._highs = array("Q", [0]) * capacity
        self._lows = array("Q", [0]) * capacity
        self._count = 0
        # (0, 0) marks an empty slot, so the nil UUID is remembered apart.
        self._has_zero = False

    def __len__(self) -> int:
        return self._count + self._has_zero

    def add(self, value: int) -> bool:
        if value == 0:
            new = not self._has_zero
            self._has_zero = True
            return new
        high = value >> 64
        low = value & _LOW_64
        highs, lows, mask = self._highs, self._lows, self._mask
        index = (((high ^ low) * _GOLDEN) & _LOW_64) >> self._shift
        while True:
            slot_high = highs[index]
            if slot_high == high and lows[index] == low:
                return False
            if not slot_high and not lows[index]:
                break
            index = (index + 1) & mask
        highs[index] = high
        lows[index] = low
        self._count += 1
        if self._count > (mask + 1) * _MAX_LOAD:
            self._grow()
        return True

    def add_all(self, values: Iterable[int]) -> list[bool]:
        """`add` of each value in turn: whether each was new."""
        new: list[bool] = []
        highs, lows, mask, shift = self._highs, self._lows, self._mask, self._shift
        limit = (mask + 1) * _MAX_LOAD
        for value in values:
            high = value >> 64
            low = value & _LOW_64
            if not value:
                new.append(not self._has_zero)
                self._has_zero = True
                continue
            index = (((high ^ low) * _GOLDEN) & _LOW_64) >> shift
            while True:
                slot_high = highs[index]
                if slot_high == high and lows[index] == low:
                    new.append(False)
                    break
                if not slot_high and not lows[index]:
                    highs[index] = high
                    lows[index] = low
                    new.append(True)
                    self._count += 1
                    if self._count > limit:
                        self._grow()
                        highs, lows, mask, shift = self._highs, self._lows, self._mask, self._shift
                        limit = (mask + 1) * _MAX_LOAD
                    break
                index = (index + 1) & mask
        return new

    def _grow(self) -> None:
        # Only the occupied slots, and their new home slots computed by C-level maps: the
        # Python loop below does nothing but place each value.
        occupied = list(map(bool, map(or_, self._highs, self._lows)))
        old_highs = list(compress(self._highs, occupied))
        old_lows = list(compress(self._lows, occupied))
        capacity = 2 * (self._mask + 1)
        self._mask = mask = capacity - 1
        self._shift = shift = 65 - capacity.bit_length()
        homes = map(
            rshift,
            map(and_, map(mul, map(xor, old_highs, old_lows), repeat(_GOLDEN)), repeat(_LOW_64)),
            repeat(shift),
        )
        self._highs = highs = array("Q", [0]) * capacity
        self._lows = lows = array("Q", [0]) * capacity
        for home, high, low in zip(homes, old_highs, old_lows, strict=True):
            index = home
            while highs[index] or lows[index]:
                index = (index + 1) & mask
            highs[index] = high
            lows[index] = low
