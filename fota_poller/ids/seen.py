"""Which campaigns a run has already taken, in 20 to 40 bytes each instead of about 240.

A run must poll each distinct (account, upgrade id) pair once, so the feeder remembers every
pair it has passed on. A Python set of `CampaignRef`s costs about 240 bytes a pair (the struct,
two strings, the set slot): 24 MB at 100,000 campaigns, more than half of a run's baseline
memory. An upgrade id is a UUID, 128 bits, so each account gets an open-addressing hash table
of 64-bit halves in an `array`: 16 bytes a slot, 40% to 80% full (past about 100,000
campaigns in one account, 20% to 80%, so up to 80 bytes each: see `_FOURFOLD_FROM`).
Hand-written because no well-kept library offers a compact exact set of 128-bit integers
without pulling in numpy, whose import alone costs more memory than the table saves.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Iterable, Iterator
from itertools import compress, islice, repeat, tee
from operator import and_, attrgetter, mul, or_, xor
from typing import Final

from fota_poller.model.refs import CampaignRef

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
# Past this many slots (about 105,000 campaigns) a full table grows fourfold, not twofold:
# rehashing is most of the cost of a table that grows to a million (a stopped run reading
# the ids left), and fourfold rehashes a third as many values, at up to 80 bytes a campaign.
_FOURFOLD_FROM: Final = 1 << 17
_MAX_LOAD: Final = 0.8

_account_of = attrgetter("account_name")
_upgrade_id_of = attrgetter("upgrade_id")


class SeenCampaigns:
    """A set of campaigns that only grows: `add` says whether a campaign is new."""

    def __init__(self) -> None:
        self._tables: dict[str, _UuidTable] = {}
        # Ids not in canonical UUID form cannot be packed; they are kept as they are.
        self._others: set[CampaignRef] = set()

    def add(self, ref: CampaignRef) -> bool:
        """Remember `ref`; True when it was not seen before."""
        return bool(self.add_all([ref]))

    def add_all(self, refs: list[CampaignRef]) -> list[CampaignRef]:
        """Remember every ref; those not seen before (nor earlier in `refs`), in order.

        A stopped run still checks every id left in its input, so a batch's ids are checked
        and turned into numbers in C (one regex over them all, one `bytes.fromhex`), with no
        Python-level step per ref but the table's probe.
        """
        if not refs:
            return []
        upgrade_ids = list(map(_upgrade_id_of, refs))
        accounts = set(map(_account_of, refs))
        # The usual batch: one account, every id canonical. A comma is never part of one.
        if len(accounts) > 1 or not _CANONICAL_UUIDS.fullmatch(",".join(upgrade_ids)):
            return [ref for ref in refs if self._add_one(ref)]
        (account,) = accounts
        table = self._tables.get(account)
        if table is None:
            table = self._tables[account] = _UuidTable()
        # Checked above: exactly 32 hex digits an id, so 16 bytes, two big-endian halves each.
        halves = array("Q", bytes.fromhex("".join(upgrade_ids).replace("-", "")))
        if sys.byteorder == "little":
            halves.byteswap()
        return list(compress(refs, table.add_all(halves[0::2].tolist(), halves[1::2].tolist())))

    def _add_one(self, ref: CampaignRef) -> bool:
        if not _CANONICAL_UUID.fullmatch(ref.upgrade_id):
            if ref in self._others:
                return False
            self._others.add(ref)
            return True
        table = self._tables.get(ref.account_name)
        if table is None:
            table = self._tables[ref.account_name] = _UuidTable()
        value = int(ref.upgrade_id.replace("-", ""), 16)
        return table.add_all([value >> 64], [value & _LOW_64])[0]

    def __len__(self) -> int:
        return sum(len(table) for table in self._tables.values()) + len(self._others)


class _UuidTable:
    """An exact set of 128-bit integers: each slot a high and a low 64-bit half, side by side.

    Linear probing. The halves of a slot share one array, next to each other, so a probe
    touches one cache line rather than one in each of two arrays: at a million campaigns the
    table is far larger than the caches, and this is a quarter faster. The probe loop is
    written out in `add_all` and `_grow`, with no call per probe, and the values' hashes are
    computed by C-level `map`s before the loop: a stopped run still checks every id left.
    """

    def __init__(self, capacity: int = _FIRST_CAPACITY) -> None:
        self._capacity = capacity
        # Slot i is at [2i] (high half) and [2i + 1] (low half); the mask keeps indexes even.
        self._mask = 2 * capacity - 1
        # Keeps the top log2(capacity) bits of the 64-bit product (see _GOLDEN).
        self._shift = 65 - capacity.bit_length()
        self._slots = array("Q", [0]) * (2 * capacity)
        self._count = 0
        # (0, 0) marks an empty slot, so the nil UUID is remembered apart.
        self._has_zero = False

    def __len__(self) -> int:
        return self._count + self._has_zero

    def add_all(self, value_highs: list[int], value_lows: list[int]) -> list[bool]:
        """Add each value (its high and low 64 bits) in turn: whether each was new."""
        new: list[bool] = []
        slots, mask, shift = self._slots, self._mask, self._shift
        limit = self._capacity * _MAX_LOAD
        products = _products(value_highs, value_lows)
        for high, low, product in zip(value_highs, value_lows, products, strict=True):
            if not product and not high:
                # The product is 0 only when high == low; both 0 is the nil UUID.
                new.append(not self._has_zero)
                self._has_zero = True
                continue
            index = (product >> shift) << 1
            while True:
                slot_high = slots[index]
                if slot_high == high and slots[index + 1] == low:
                    new.append(False)
                    break
                if not slot_high and not slots[index + 1]:
                    slots[index] = high
                    slots[index + 1] = low
                    new.append(True)
                    self._count += 1
                    if self._count > limit:
                        self._grow()
                        slots, mask, shift = self._slots, self._mask, self._shift
                        limit = self._capacity * _MAX_LOAD
                    break
                index = (index + 2) & mask
        return new

    def _grow(self) -> None:
        # Only the occupied slots, their hashes computed in C: the Python loop below does
        # nothing but place each value. Iterators throughout: a grow never holds a copy of
        # the values, so the table's memory is all the memory it takes.
        old = self._slots
        highs = tee(compress(islice(old, 0, None, 2), _occupied(old)))
        lows = tee(compress(islice(old, 1, None, 2), _occupied(old)))
        placed = zip(highs[0], lows[0], _products(highs[1], lows[1]), strict=True)
        growth = 2 if self._capacity < _FOURFOLD_FROM else 4
        self._capacity = capacity = self._capacity * growth
        self._mask = mask = 2 * capacity - 1
        self._shift = shift = 65 - capacity.bit_length()
        self._slots = slots = array("Q", [0]) * (2 * capacity)
        for high, low, product in placed:
            index = (product >> shift) << 1
            while slots[index] or slots[index + 1]:
                index = (index + 2) & mask
            slots[index] = high
            slots[index + 1] = low


def _occupied(slots: array[int]) -> Iterator[int]:
    """Per slot, non-zero when it holds a value: empty slots are (0, 0)."""
    return map(or_, islice(slots, 0, None, 2), islice(slots, 1, None, 2))


def _products(highs: Iterable[int], lows: Iterable[int]) -> Iterator[int]:
    """Each value's 64-bit Fibonacci product, whose top bits are its first slot (see _GOLDEN)."""
    return map(and_, map(mul, map(xor, highs, lows), repeat(_GOLDEN)), repeat(_LOW_64))
