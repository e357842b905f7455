"""The compact inventory: every device found again as listed, whatever its IMEI looks like."""

from __future__ import annotations

import random

import msgspec
import pytest

from fota_poller.errors import InventoryError
from fota_poller.inventory.builder import MAX_PROFILES, MAX_VALUE_CHARS, InventoryBuilder
from fota_poller.inventory.store import numeric_key
from fota_poller.inventory.upgrade_time import format_upgrade_time
from fota_poller.model.inventory import MISSING, InventoryEntry, on_target

MODELS = ("Model-A", "Model-B", "Model-C", None)
MAKES = ("Acme", "Globex", None)
FIRMWARES = ("VerizonFirmwareVersion-01", "VerizonFirmwareVersion-02", None)


def random_devices(rng: random.Random, count: int) -> dict[str, tuple]:
    """`count` devices by IMEI, some of them not numbers, each with random values."""
    devices = {}
    while len(devices) < count:
        kind = rng.random()
        if kind < 0.8:
            imei = str(rng.randrange(10**14, 10**15))  # 15 digits, as IMEIs are
        elif kind < 0.9:
            imei = "0" + str(rng.randrange(10**13, 10**14))  # a leading zero
        else:
            imei = rng.choice(["IMEI-", "x", "35 ", "٣٥"]) + str(rng.randrange(10**6))
        ms = rng.choice([None, rng.randrange(-(10**12), 10**13)])
        devices[imei] = (
            rng.choice(MODELS),
            rng.choice(MAKES),
            rng.choice(FIRMWARES),
            ms,
            rng.choice([True, False, None]),
        )
    return devices


def add(builder: InventoryBuilder, imei: str, values: tuple) -> None:
    model, make, firmware, ms, eligible = values
    builder.add(
        imei, model=model, make=make, firmware=firmware, upgraded_ms=ms, fota_eligible=eligible
    )


def entry_of(values: tuple) -> InventoryEntry:
    model, make, firmware, ms, eligible = values
    return InventoryEntry(
        model=model,
        make=make,
        firmware=firmware,
        upgraded_at=None if ms is None else format_upgrade_time(ms),
        fota_eligible=eligible,
    )


@pytest.mark.parametrize("in_order", [True, False])
def test_a_thousand_random_devices_are_found_again_as_listed(in_order: bool) -> None:
    rng = random.Random(21 + in_order)
    devices = random_devices(rng, 1000)
    imeis = sorted(devices, key=lambda i: (numeric_key(i) is None, numeric_key(i) or 0, i))
    if not in_order:
        rng.shuffle(imeis)
    builder = InventoryBuilder()
    for imei in imeis:
        add(builder, imei, devices[imei])
    inventory = builder.finish()

    assert len(inventory) == 1000
    assert inventory.duplicates == 0
    assert {imei: inventory.lookup(imei) for imei in devices} == {
        imei: entry_of(values) for imei, values in devices.items()
    }
    # Interned: at most every combination of the three tables, however many devices.
    assert inventory.profile_count <= len(MODELS) * len(MAKES) * len(FIRMWARES)


def test_an_imei_not_listed_is_none_whatever_it_looks_like() -> None:
    builder = InventoryBuilder()
    add(builder, "351756051523999", ("M", "K", "F", None, True))
    add(builder, "0351756051523999", ("M", "K", "F", None, True))
    inventory = builder.finish()
    for imei in ["351756051523998", "351756051524000", "35175605152399", "", "abc", "0", "00"]:
        assert inventory.lookup(imei) is None
    assert InventoryBuilder().finish().lookup("1") is None


def test_imeis_that_do_not_round_trip_through_an_int_are_distinct_devices() -> None:
    # "0123" and "123" are two ids to the API: a leading zero must not merge them.
    imeis = ["123", "0123", "00123", "123 ", " 123", "+123", "1_23", "١٢٣", "9" * 19, "9" * 18, "0"]
    builder = InventoryBuilder()
    for position, imei in enumerate(imeis):
        add(builder, imei, (f"model-{position}", None, None, position, None))
    inventory = builder.finish()
    assert len(inventory) == len(imeis)
    for position, imei in enumerate(imeis):
        entry = inventory.lookup(imei)
        assert entry is not None
        assert entry.model == f"model-{position}"


def test_numeric_keys_are_exactly_the_ids_that_round_trip_through_an_int() -> None:
    assert numeric_key("351756051523999") == 351756051523999
    assert numeric_key("0") == 0
    assert numeric_key("9" * 18) == 10**18 - 1
    for imei in ["", "0123", "9" * 19, "-1", "1e5", "١٢٣", "12 "]:
        assert numeric_key(imei) is None


@pytest.mark.parametrize("numeric", [True, False])
def test_an_imei_listed_twice_keeps_the_last_and_is_counted(numeric: bool) -> None:
    first, other = ("351756051523999", "351756051524000") if numeric else ("A1", "B2")
    builder = InventoryBuilder()
    add(builder, first, ("old", None, "F1", None, False))
    add(builder, first, ("newer", None, "F2", None, True))  # in a row
    add(builder, other, ("other", None, None, None, None))
    add(builder, first, ("newest", None, "F3", 5, None))  # out of order, pages later
    inventory = builder.finish()
    assert len(inventory) == 2
    assert inventory.duplicates == 2
    assert inventory.lookup(first) == InventoryEntry(
        "newest", None, "F3", format_upgrade_time(5), None
    )
    assert inventory.lookup(other) == InventoryEntry("other", None, None, None, None)


def test_values_are_interned_per_account_and_long_ones_cut() -> None:
    builder = InventoryBuilder()
    for imei in range(1, 5001):
        add(
            builder,
            str(imei),
            (f"Model-{imei % 3}", "Acme", "VerizonFirmwareVersion-02", None, True),
        )
    add(builder, "9999", ("M" * 100_000, None, None, None, None))
    inventory = builder.finish()
    assert inventory.profile_count == 4
    long = inventory.lookup("9999")
    assert long is not None
    assert long.model is not None
    assert len(long.model) == MAX_VALUE_CHARS + 1
    first, second = inventory.lookup("3"), inventory.lookup("6")
    assert first is not None
    assert second is not None
    assert first.model is second.model  # one string for every device of a model


def test_more_distinct_combinations_than_the_bound_is_an_inventory_error() -> None:
    builder = InventoryBuilder()
    for imei in range(MAX_PROFILES):
        add(builder, str(imei), ("M", None, f"F-{imei}", None, None))
    with pytest.raises(InventoryError, match=f"more than {MAX_PROFILES} distinct"):
        add(builder, "x", ("M", None, "one too many", None, None))


@pytest.mark.parametrize(
    ("firmware", "firmware_to", "expected"),
    [
        ("VerizonFirmwareVersion-02", "VerizonFirmwareVersion-02", True),
        ("VerizonFirmwareVersion-01", "VerizonFirmwareVersion-02", False),
        ("verizonfirmwareversion-02", "VerizonFirmwareVersion-02", False),
        (None, "VerizonFirmwareVersion-02", None),
        ("VerizonFirmwareVersion-02", None, None),
    ],
)
def test_on_target_compares_the_reported_firmware_with_the_campaigns_target(
    firmware: str | None, firmware_to: str | None, expected: bool | None
) -> None:
    entry = InventoryEntry("M", "K", firmware, None, fota_eligible=True)
    assert on_target(entry, firmware_to) is expected


def test_a_device_not_in_the_inventory_is_not_known_to_be_on_target() -> None:
    assert on_target(None, "VerizonFirmwareVersion-02") is None


@pytest.mark.parametrize("in_order", [True, False])
def test_a_campaign_found_at_once_is_each_of_its_ids_found_alone(in_order: bool) -> None:
    # `find` takes the C path when every id is a plain IMEI and the one-by-one path when one
    # is not: a campaign of either kind, or of both, gets what each id gets alone.
    rng = random.Random(5 + in_order)
    devices = random_devices(rng, 400)
    builder = InventoryBuilder()
    listed = list(devices)
    if in_order:
        listed.sort(key=lambda i: (numeric_key(i) is None, numeric_key(i) or 0, i))
    for imei in listed:
        add(builder, imei, devices[imei])
    inventory = builder.finish()
    plain = [imei for imei in devices if numeric_key(imei) is not None and imei != "0"]
    unlisted = [str(int(plain[0]) + 1), str(10**18 - 1), "9" * 19, "-1", "", None]
    for campaign in (
        plain[:100],  # every id a plain IMEI: found in C calls
        [*plain[:50], str(int(plain[0]) + 1)],  # one not listed among them
        list(devices)[:100] + unlisted,  # every kind of id
        [None],
        [],
    ):
        kinds, times = inventory.find(campaign)
        assert len(kinds) == len(times) == len(campaign)
        for imei, kind, time in zip(campaign, kinds, times, strict=True):
            alone = None if imei is None else inventory.lookup(imei)
            if alone is None:
                assert (kind, time) == (MISSING, None), imei
            else:
                got = msgspec.structs.replace(inventory.kind(kind), upgraded_at=time)
                assert got == alone == entry_of(devices[imei]), imei
