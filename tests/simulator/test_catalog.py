"""The simulator's catalog: seeded campaigns and devices, their bodies, and the body cache."""

import datetime as dt

import msgspec
import pytest

from fota_poller.simulator import Catalog, SimulatorOptions
from fota_poller.simulator.body_cache import BodyCache

TODAY = dt.date(2026, 1, 15)
SMALL = SimulatorOptions(campaigns=40, devices_min=1, devices_max=60)
PENDING = {"RequestPending", "Request Pending"}


def all_campaigns(catalog):
    for account, upgrade_id in catalog.ids():
        campaign = catalog.campaign(account, upgrade_id)
        assert campaign is not None
        yield campaign


def luhn_valid(digits):
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def test_same_seed_gives_same_ids_and_bodies():
    first = Catalog(SMALL, today=TODAY)
    second = Catalog(SMALL, today=TODAY)

    assert list(first.ids()) == list(second.ids())
    for account, upgrade_id in first.ids():
        assert first.body(account, upgrade_id) == second.body(account, upgrade_id)


def test_different_seed_gives_different_campaigns():
    first = Catalog(SMALL, today=TODAY)
    second = Catalog(msgspec.structs.replace(SMALL, seed=2), today=TODAY)

    assert set(first.ids()).isdisjoint(second.ids())


def test_campaigns_are_spread_round_robin_over_accounts():
    options = msgspec.structs.replace(SMALL, accounts=("0000000001-00001", "0000000002-00001"))
    catalog = Catalog(options, today=TODAY)

    accounts = [account for account, _ in catalog.ids()]

    assert accounts == list(options.accounts) * 20


def test_campaign_under_another_account_is_not_found():
    options = msgspec.structs.replace(SMALL, accounts=("0000000001-00001", "0000000002-00001"))
    catalog = Catalog(options, today=TODAY)
    _, upgrade_id = next(catalog.ids())

    assert catalog.campaign("0000000002-00001", upgrade_id) is None
    assert catalog.body("0000000002-00001", upgrade_id) is None


def test_device_counts_stay_within_bounds():
    options = msgspec.structs.replace(SMALL, devices_min=5, devices_max=9)

    counts = {len(c.device_list) for c in all_campaigns(Catalog(options, today=TODAY))}

    assert min(counts) >= 5
    assert max(counts) <= 9
    assert len(counts) > 1


def test_pending_devices_have_no_result_reason():
    devices = [
        device
        for campaign in all_campaigns(Catalog(SMALL, today=TODAY))
        for device in msgspec.to_builtins(campaign)["deviceList"]
    ]

    pending = [device for device in devices if device["status"] in PENDING]
    settled = [device for device in devices if device["status"] not in PENDING]
    assert pending
    assert all("resultReason" not in device for device in pending)
    assert all("resultReason" in device for device in settled)


def test_imeis_are_unique_luhn_valid_fifteen_digit_strings():
    for campaign in all_campaigns(Catalog(SMALL, today=TODAY)):
        imeis = [device.device_id for device in campaign.device_list]
        assert len(set(imeis)) == len(imeis)
        assert all(len(imei) == 15 and imei.isdigit() and luhn_valid(imei) for imei in imeis)


def test_some_campaigns_have_ended_and_some_have_no_end_date():
    options = SimulatorOptions(campaigns=300, devices_min=1, devices_max=1)
    campaigns = list(all_campaigns(Catalog(options, today=TODAY)))

    end_dates = [campaign.end_date for campaign in campaigns]
    past = [end for end in end_dates if end is not None and dt.date.fromisoformat(end) < TODAY]
    assert 40 <= len(past) <= 110
    assert None in end_dates
    assert all(c.start_date <= c.end_date for c in campaigns if c.end_date is not None)


def test_body_has_the_documented_camel_case_keys():
    catalog = Catalog(SMALL, today=TODAY)
    account, upgrade_id = next(catalog.ids())

    decoded = msgspec.json.decode(catalog.body(account, upgrade_id))

    assert decoded["id"] == upgrade_id
    assert decoded["accountName"] == account
    documented = {
        "id",
        "accountName",
        "firmwareName",
        "firmwareTo",
        "startDate",
        "endDate",
        "status",
        "deviceList",
    }
    assert documented - {"endDate"} <= set(decoded) <= documented
    assert decoded["firmwareName"].startswith("FOTA_Verizon_Model-")
    assert decoded["firmwareTo"].startswith("VerizonFirmwareVersion-")
    assert {"deviceId", "status"} <= set(decoded["deviceList"][0])


def test_repeated_body_is_served_from_the_cache():
    catalog = Catalog(SMALL, today=TODAY)
    account, upgrade_id = next(catalog.ids())

    assert catalog.body(account, upgrade_id) is catalog.body(account, upgrade_id)


def test_body_cache_evicts_least_recently_used_bodies_beyond_its_byte_budget():
    cache = BodyCache(max_bytes=10, max_entries=100)
    cache.put(1, b"aaaa")
    cache.put(2, b"bbbb")
    cache.get(1)
    cache.put(3, b"cccc")
    cache.put(4, b"x" * 11)

    assert cache.get(1) == b"aaaa"
    assert cache.get(2) is None
    assert cache.get(3) == b"cccc"
    assert cache.get(4) is None
    assert cache.size == 8


def test_campaign_of_100000_devices_can_be_built():
    options = SimulatorOptions(campaigns=1, devices_min=100_000, devices_max=100_000)
    catalog = Catalog(options, today=TODAY)
    account, upgrade_id = next(catalog.ids())

    campaign = catalog.campaign(account, upgrade_id)

    assert campaign is not None
    assert len({device.device_id for device in campaign.device_list}) == 100_000


def test_write_ids_writes_one_account_and_id_line_per_campaign(tmp_path):
    catalog = Catalog(SMALL, today=TODAY)
    path = tmp_path / "ids.csv"

    catalog.write_ids(path)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [f"{account},{upgrade_id}" for account, upgrade_id in catalog.ids()]


def test_invalid_device_bounds_are_refused():
    with pytest.raises(ValueError, match="devices_min"):
        Catalog(SimulatorOptions(devices_min=10, devices_max=5))
