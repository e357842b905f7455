"""The simulator's evolving days: statuses that move along the documented paths, day by day."""

import datetime as dt
import itertools
import math

import aiohttp
import msgspec
import pytest

from fota_poller import cli
from fota_poller.simulator import Catalog, EvolveOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.catalog import _DEVICE_REASONS
from fota_poller.simulator.faults import FAULT_ROUTES, FaultOptions
from fota_poller.simulator.server import DAY_ROUTE

TODAY = dt.date(2026, 1, 15)
PLAIN = SimulatorOptions(campaigns=30, devices_min=0, devices_max=400)
EVOLVING = msgspec.structs.replace(PLAIN, evolve=EvolveOptions(seed=11))
# 10,000 devices: 10 campaigns of 1,000.
BIG = SimulatorOptions(campaigns=10, devices_min=1000, devices_max=1000)

# The documented paths (docs/simulator.md), written out here rather than read from the code.
ALLOWED_MOVES = {
    ("RequestPending", "Device Accepted"),
    ("RequestPending", "Device Rejected"),
    ("Request Pending", "Device Accepted"),
    ("Request Pending", "Device Rejected"),
    ("Device Accepted", "UpgradeSuccess"),
    ("Device Accepted", "UpgradeFailed"),
}
FINAL = {"UpgradeSuccess", "UpgradeFailed", "Device Rejected", "LicenseRemoveFailed"}


def evolving(options, seed=11, share=0.02, day=0):
    return msgspec.structs.replace(options, evolve=EvolveOptions(seed, share), day=day)


def luhn_valid(digits):
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def devices_on(catalog, day):
    """(account, upgrade_id) -> {device_id: (status, result_reason)} on `day`."""
    return {
        (account, upgrade_id): {
            device.device_id: (device.status, device.result_reason)
            for device in catalog.campaign_on(account, upgrade_id, day).device_list
        }
        for account, upgrade_id in catalog.ids()
    }


def moves(before, after):
    """Every (old, new) of a device listed on both days whose status or reason differs."""
    return [
        (before[key][device], after[key][device])
        for key in before
        for device in before[key].keys() & after[key].keys()
        if before[key][device] != after[key][device]
    ]


def test_day_zero_is_the_plain_catalogue_byte_for_byte():
    plain = Catalog(PLAIN, today=TODAY)
    evolve = Catalog(EVOLVING, today=TODAY)

    assert evolve.day == 0
    for account, upgrade_id in plain.ids():
        assert evolve.body(account, upgrade_id) == plain.body(account, upgrade_id)
        assert evolve.campaign_on(account, upgrade_id, 0) == plain.campaign(account, upgrade_id)


def test_day_zero_never_runs_the_evolution(monkeypatch):
    def no_evolution(*_args, **_kwargs):
        raise AssertionError("day 0 must cost what the plain catalogue costs")

    monkeypatch.setattr("fota_poller.simulator.catalog.evolve_devices", no_evolution)
    for options in (PLAIN, EVOLVING):
        catalog = Catalog(options, today=TODAY)
        assert all(catalog.body(*ids) for ids in catalog.ids())


def test_same_seeds_give_the_same_day_three_and_another_evolve_seed_another():
    first = devices_on(Catalog(EVOLVING, today=TODAY), 3)
    again = devices_on(Catalog(EVOLVING, today=TODAY), 3)
    other = devices_on(Catalog(evolving(PLAIN, seed=12), today=TODAY), 3)
    day0 = devices_on(Catalog(PLAIN, today=TODAY), 0)

    assert first == again
    assert first != other
    assert first != day0
    # Both evolutions start from the same day 0, so they differ only in what moved.
    assert first.keys() == other.keys() == day0.keys()


def test_starting_day_is_served_and_advance_continues_from_it():
    catalog = Catalog(evolving(PLAIN, day=2), today=TODAY)
    account, upgrade_id = next(catalog.ids())

    assert catalog.day == 2
    assert catalog.campaign(account, upgrade_id) == catalog.campaign_on(account, upgrade_id, 2)
    assert catalog.advance_day() == 3
    assert catalog.campaign(account, upgrade_id) == catalog.campaign_on(account, upgrade_id, 3)


@pytest.mark.parametrize("share", [0.02, 0.1])
@pytest.mark.parametrize("day", [1, 3])
def test_share_of_devices_moved_in_a_day_is_share_within_the_binomial_spread(share, day):
    catalog = Catalog(evolving(BIG, share=share), today=TODAY)
    before, after = devices_on(catalog, day - 1), devices_on(catalog, day)
    listed = sum(len(devices) for devices in before.values())

    moved = len(moves(before, after))

    # Each device moves with probability share * n / n_movable if movable and not dropped
    # (share / 10): expected share * (1 - share / 10) * n. The count is a sum of independent
    # Bernoulli draws, so its variance is below share * n; 4 standard deviations (about 57
    # devices of 10,000 at 2%) leave a fair implementation failing about once in 16,000 seeds.
    expected = share * (1 - share / 10) * listed
    tolerance = 4 * math.sqrt(share * listed)
    assert abs(moved - expected) <= tolerance, (moved, expected, tolerance)


def test_every_move_follows_the_documented_paths_and_finals_never_move():
    catalog = Catalog(evolving(BIG, share=0.05), today=TODAY)
    days = [devices_on(catalog, day) for day in range(6)]
    seen_moves = []
    for before, after in itertools.pairwise(days):
        for (old_status, _), (new_status, new_reason) in moves(before, after):
            assert (old_status, new_status) in ALLOWED_MOVES
            assert old_status not in FINAL
            reasons = _DEVICE_REASONS[new_status]
            assert new_reason in reasons if reasons else new_reason is None
            seen_moves.append((old_status, new_status))

    # Every path is taken, at about the documented split (85/15 and 80/20, 4 sd).
    assert set(seen_moves) == ALLOWED_MOVES
    for source, likely, share in (
        (("RequestPending", "Request Pending"), "Device Accepted", 0.85),
        (("Device Accepted",), "UpgradeSuccess", 0.80),
    ):
        targets = [new for old, new in seen_moves if old in source]
        spread = 4 * math.sqrt(share * (1 - share) / len(targets))
        assert abs(targets.count(likely) / len(targets) - share) <= spread


def test_campaign_fields_never_change():
    catalog = Catalog(EVOLVING, today=TODAY)
    for account, upgrade_id in catalog.ids():
        day0 = catalog.campaign_on(account, upgrade_id, 0)
        day4 = catalog.campaign_on(account, upgrade_id, 4)
        assert msgspec.structs.replace(day4, device_list=day0.device_list) == day0


def test_dropped_devices_are_gone_and_never_come_back():
    catalog = Catalog(evolving(BIG, share=0.1), today=TODAY)
    days = [devices_on(catalog, day) for day in range(8)]
    dropped_total = 0
    for day in range(1, len(days)):
        for key, devices in days[day - 1].items():
            dropped = devices.keys() - days[day][key].keys()
            dropped_total += len(dropped)
            for later in days[day:]:
                assert not dropped & later[key].keys()

    # Each listed device is dropped with probability share / 10 a day: a binomial count.
    expected = 0.01 * sum(len(devices) for day in days[:-1] for devices in day.values())
    assert abs(dropped_total - expected) <= 4 * math.sqrt(expected), (dropped_total, expected)


def test_added_devices_are_new_valid_imeis_pending_with_no_reason():
    catalog = Catalog(evolving(BIG, share=0.1), today=TODAY)
    days = [devices_on(catalog, day) for day in range(8)]
    added_total = 0
    for key in days[0]:
        ever = set(days[0][key])
        for day in range(1, len(days)):
            listed = catalog.campaign_on(*key, day).device_list
            ids = [device.device_id for device in listed]
            assert len(ids) == len(set(ids))
            added = set(ids) - set(days[day - 1][key])
            assert not added & ever, "an added id was listed before"
            for device_id in added:
                assert len(device_id) == 15
                assert device_id.isdigit()
                assert luhn_valid(device_id)
                assert days[day][key][device_id] == ("RequestPending", None)
            ever |= added
            added_total += len(added)

    # About share / 10 of the day before's devices join each day: a binomial count.
    expected = 0.01 * sum(len(devices) for day in days[:-1] for devices in day.values())
    assert abs(added_total - expected) <= 4 * math.sqrt(expected), (added_total, expected)


def test_advance_day_clears_cached_bodies():
    catalog = Catalog(evolving(PLAIN, share=0.2), today=TODAY)
    account, upgrade_id = max(
        catalog.ids(), key=lambda ids: len(catalog.campaign(*ids).device_list)
    )
    day0 = catalog.body(account, upgrade_id)
    assert catalog.body(account, upgrade_id) is day0  # served from the cache

    assert catalog.advance_day() == 1

    day1 = catalog.body(account, upgrade_id)
    assert day1 != day0
    assert day1 == msgspec.json.encode(catalog.campaign_on(account, upgrade_id, 1))


def test_a_catalogue_that_does_not_evolve_has_no_other_day():
    catalog = Catalog(PLAIN, today=TODAY)
    account, upgrade_id = next(catalog.ids())

    with pytest.raises(ValueError, match="does not evolve"):
        catalog.advance_day()
    with pytest.raises(ValueError, match="does not evolve"):
        catalog.campaign_on(account, upgrade_id, 1)
    assert catalog.day == 0


@pytest.mark.parametrize(
    "options",
    [
        evolving(PLAIN, share=0.0),
        evolving(PLAIN, share=1.5),
        evolving(PLAIN, share=math.nan),
        evolving(PLAIN, day=-1),
        msgspec.structs.replace(PLAIN, day=2),
    ],
)
def test_bad_evolve_options_are_refused(options):
    with pytest.raises(ValueError, match=r"share|day"):
        Catalog(options, today=TODAY)


def upgrade_url(running, account, upgrade_id):
    return f"{running.base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"


def headers(options):
    return {
        "Authorization": f"Bearer {options.bearer_token}",
        "VZ-M2M-Token": options.session_token,
    }


async def test_day_route_advances_the_day_and_a_get_serves_it():
    options = evolving(msgspec.structs.replace(PLAIN, devices_min=300), share=0.2)
    async with run_simulator(options) as running, aiohttp.ClientSession() as client:
        account, upgrade_id = next(running.catalog.ids())
        url = upgrade_url(running, account, upgrade_id)
        async with client.get(url, headers=headers(options)) as response:
            day0 = await response.read()

        async with client.post(running.base_url + DAY_ROUTE) as response:
            answer = await response.json()
            status = response.status
        async with client.get(url, headers=headers(options)) as response:
            day1 = await response.read()

    assert (status, answer) == (200, {"day": 1})
    assert day0 == msgspec.json.encode(running.catalog.campaign_on(account, upgrade_id, 0))
    assert day1 == msgspec.json.encode(running.catalog.campaign_on(account, upgrade_id, 1))
    assert day1 != day0
    # Only the upgrade GETs are API requests; the control route is not counted.
    assert running.stats.requests_total == 2


async def test_day_route_answers_409_when_the_simulator_does_not_evolve():
    async with (
        run_simulator(PLAIN) as running,
        aiohttp.ClientSession() as client,
        client.post(running.base_url + DAY_ROUTE) as response,
    ):
        body = await response.json()
        status = response.status

    assert status == 409
    assert "does not evolve" in body["error"]
    assert running.catalog.day == 0


async def test_day_route_is_untouched_by_faults_on_every_route():
    outage = FaultOptions(outage=(0.0, 3600.0), routes=FAULT_ROUTES)
    options = msgspec.structs.replace(evolving(PLAIN), faults=outage)
    async with run_simulator(options) as running, aiohttp.ClientSession() as client:
        account, upgrade_id = next(running.catalog.ids())
        async with client.get(
            upgrade_url(running, account, upgrade_id), headers=headers(options)
        ) as response:
            upgrade_status = response.status
        async with client.post(running.base_url + DAY_ROUTE) as response:
            answer = (response.status, await response.json())

    assert upgrade_status == 503
    assert answer == (200, {"day": 1})


async def test_in_process_tests_can_advance_the_running_catalog():
    async with run_simulator(evolving(PLAIN)) as running:
        assert running.catalog.advance_day() == 1
        assert running.catalog.advance_day() == 2
        assert running.catalog.day == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--evolve", "1", "--evolve-share", "0"], "--evolve-share must be in (0, 1]"),
        (["--evolve", "1", "--evolve-share", "1.01"], "--evolve-share must be in (0, 1]"),
        (["--evolve", "1", "--evolve-share", "lots"], "--evolve-share takes a number"),
        (["--evolve", "1", "--day=-1"], "--day must be 0 or more"),
        (["--day", "2"], "--day needs --evolve"),
        (["--evolve-share", "0.1"], "--evolve-share needs --evolve"),
        (["--evolve", "x"], "--evolve takes a number"),
    ],
)
def test_simulate_refuses_bad_evolve_values_in_one_line(args, message, capsys):
    code = cli.main(["simulate", "--port", "0", *args])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert message in err
