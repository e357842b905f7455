"""The device-list route over loopback: paging, credentials, errors, faults, and each quirk."""

import math

import aiohttp
import msgspec
import pytest
from helpers import simulator_process

from fota_poller import cli
from fota_poller.commands.simulate_inventory import QUIRKS as FLAG_QUIRKS
from fota_poller.simulator import (
    Catalog,
    EvolveOptions,
    InventoryOptions,
    SimulatorOptions,
    run_simulator,
)
from fota_poller.simulator.faults import FaultOptions
from fota_poller.simulator.inventory import QUIRKS, upgrade_time_text
from fota_poller.simulator.inventory_pages import FOREIGN_ACCOUNT, DeviceInventory, all_pages
from fota_poller.simulator.prerendered import render_responses

ACCOUNT = "0000123456-00001"
# 6 campaigns of 1-5 devices and 10 devices in no campaign: 3 or 4 pages of 7.
PAGED = SimulatorOptions(
    campaigns=6,
    devices_min=1,
    devices_max=5,
    inventory=InventoryOptions(page_size=7, extra_devices=10),
)


def with_inventory(options=PAGED, **changes):
    return msgspec.structs.replace(
        options, inventory=msgspec.structs.replace(options.inventory, **changes)
    )


def headers(options=PAGED, bearer=None, session=None):
    return {
        "Authorization": f"Bearer {bearer or options.bearer_token}",
        "VZ-M2M-Token": session or options.session_token,
    }


def devices_url(simulator, start, account=ACCOUNT):
    return f"{simulator.base_url}/fota/v1/devices/{account}/index/{start}"


async def get(client, url, options=PAGED, **header_changes):
    async with client.get(url, headers=headers(options, **header_changes)) as response:
        if response.content_type != "application/json":
            return response.status, await response.text()
        return response.status, await response.json()


async def follow(simulator, session, options=PAGED):
    """Every page a client following lastSeenDeviceId asks for, from startIndex 0."""
    pages = []
    start = 0
    while True:
        status, page = await get(session, devices_url(simulator, start), options)
        assert status == 200, page
        pages.append((start, page))
        if not page["hasMoreData"]:
            return pages
        start = page["lastSeenDeviceId"]


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


async def test_pages_hold_7_devices_after_the_start_index_in_imei_order_until_the_last(session):
    async with run_simulator(PAGED) as simulator:
        pages = await follow(simulator, session)
        truth = simulator.inventory.truth(ACCOUNT)
        requests = simulator.stats.requests_total
        counted = simulator.stats.inventory_pages

    listed = [device["deviceId"] for _, page in pages for device in page["deviceList"]]
    assert listed == sorted(truth, key=int)
    assert len(pages) == requests == counted == math.ceil(len(truth) / 7)
    for start, page in pages:
        assert page["accountName"] == ACCOUNT
        assert all(int(device["deviceId"]) > start for device in page["deviceList"])
    for _, page in pages[:-1]:
        assert len(page["deviceList"]) == 7
        assert page["hasMoreData"] is True
        assert page["lastSeenDeviceId"] == int(page["deviceList"][-1]["deviceId"])
    _, last = pages[-1]
    assert 1 <= len(last["deviceList"]) <= 7
    assert last["hasMoreData"] is False
    assert last["lastSeenDeviceId"] == 0


async def test_each_device_says_what_the_truth_says(session):
    async with run_simulator(PAGED) as simulator:
        pages = await follow(simulator, session)
        truth = simulator.inventory.truth(ACCOUNT)

    for _, page in pages:
        for device in page["deviceList"]:
            expected = truth[device["deviceId"]]
            assert set(device) == {
                "deviceId", "mdn", "model", "make", "firmware", "fotaEligible",
                "licenseAssigned", "upgradeTime",
            }  # fmt: skip
            assert device["model"] == expected.model
            assert device["make"] == expected.make
            assert device["firmware"] == expected.firmware
            assert device["fotaEligible"] is expected.fota_eligible
            assert device["licenseAssigned"] is expected.license_assigned
            time_ms = None if expected.upgrade_time is None else expected.upgrade_time.timestamp()
            assert device["upgradeTime"] == upgrade_time_text(
                None if time_ms is None else round(time_ms * 1000)
            )
            assert len(device["mdn"]) == 10


async def test_a_start_index_between_two_imeis_starts_after_the_smaller(session):
    async with run_simulator(PAGED) as simulator:
        imeis = sorted(map(int, simulator.inventory.truth(ACCOUNT)))
        _, at_imei = await get(session, devices_url(simulator, imeis[9]))
        _, between = await get(session, devices_url(simulator, imeis[9] + 1))
        _, past_all = await get(session, devices_url(simulator, imeis[-1]))

    assert at_imei["deviceList"][0]["deviceId"] == str(imeis[10])
    assert between["deviceList"][0]["deviceId"] == str(imeis[10])
    assert past_all == {
        "accountName": ACCOUNT, "hasMoreData": False, "lastSeenDeviceId": 0, "deviceList": [],
    }  # fmt: skip


async def test_the_default_page_holds_1000_devices(session):
    options = SimulatorOptions(campaigns=2, devices_min=1, devices_max=3)
    options = with_inventory(options, extra_devices=2500)
    async with run_simulator(options) as simulator:
        pages = await follow(simulator, session, options)

    assert [len(page["deviceList"]) for _, page in pages[:-1]] == [1000, 1000]
    assert len(pages) == 3


@pytest.mark.parametrize(
    ("changes", "status"),
    [({"bearer": "expired"}, 401), ({"session": "expired"}, 400)],
)
async def test_the_route_wants_both_tokens_like_the_upgrade_route(session, changes, status):
    async with run_simulator(PAGED) as simulator:
        got, body = await get(session, devices_url(simulator, 0), **changes)
        account, upgrade_id = next(simulator.catalog.ids())
        upgrade = f"{simulator.base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"
        upgrade_status, upgrade_body = await get(session, upgrade, **changes)

    assert got == upgrade_status == status
    assert body == upgrade_body


async def test_an_unknown_account_and_a_bad_start_index_are_answered_400(session):
    async with run_simulator(PAGED) as simulator:
        unknown = await get(session, devices_url(simulator, 0, account="9999999999-00001"))
        bad_start = await get(session, devices_url(simulator, "abc"))

    assert unknown == (
        400,
        {
            "errorCode": "UnifiedWebService.REQUEST_FAILED.AccountNotFound",
            "errorMessage": "Account not found.",
        },
    )
    assert bad_start == (
        400,
        {"errorCode": "INVALID_PARAMETER", "errorMessage": "Invalid startIndex"},
    )


async def test_faults_apply_to_the_route_when_named(session):
    faulty = msgspec.structs.replace(
        PAGED, faults=FaultOptions(mix=(("503", 1.0),), routes=("inventory",))
    )
    upgrade_only = msgspec.structs.replace(PAGED, faults=FaultOptions(mix=(("503", 1.0),)))
    async with run_simulator(faulty) as simulator:
        async with session.get(devices_url(simulator, 0), headers=headers()) as response:
            faulted = response.status
        faults = dict(simulator.stats.faults_by_kind)
    async with run_simulator(upgrade_only) as simulator:
        spared, _ = await get(session, devices_url(simulator, 0))

    assert faulted == 503
    assert faults == {"503": 1}
    assert spared == 200


async def test_a_foreign_fault_relabels_the_device_list_with_another_account(session):
    options = msgspec.structs.replace(
        PAGED, faults=FaultOptions(mix=(("foreign", 1.0),), routes=("inventory",))
    )
    async with run_simulator(options) as simulator:
        status, page = await get(session, devices_url(simulator, 0))

    assert status == 200
    assert page["accountName"] != ACCOUNT
    assert "id" not in page
    assert len(page["deviceList"]) == 7


async def test_an_outage_and_a_rate_limit_apply_to_the_route(session):
    limited = msgspec.structs.replace(
        PAGED, faults=FaultOptions(rate_limit=1, routes=("inventory",))
    )
    down = msgspec.structs.replace(
        PAGED, faults=FaultOptions(outage=(0.0, 600.0), routes=("inventory",))
    )
    async with run_simulator(limited) as simulator:
        first, _ = await get(session, devices_url(simulator, 0))
        async with session.get(devices_url(simulator, 0), headers=headers()) as response:
            second, retry_after = response.status, response.headers.get("Retry-After")
    async with run_simulator(down) as simulator:
        during_outage, _ = await get(session, devices_url(simulator, 0))

    assert (first, second) == (200, 429)
    assert retry_after is not None
    assert during_outage == 503


async def test_the_next_day_serves_the_next_days_list(session):
    options = msgspec.structs.replace(
        PAGED,
        devices_min=40,
        devices_max=60,
        evolve=EvolveOptions(seed=3, share=0.3),
        inventory=InventoryOptions(late_share=0.3, page_size=1000),
    )
    async with run_simulator(options) as simulator:
        [(_, day0)] = await follow(simulator, session, options)
        simulator.catalog.advance_day()
        [(_, day1)] = await follow(simulator, session, options)
        truth = simulator.inventory.truth(ACCOUNT)

    firmware = {device["deviceId"]: device["firmware"] for device in day1["deviceList"]}
    assert firmware == {imei: device.firmware for imei, device in truth.items()}
    assert day1 != day0


def test_the_simulate_flags_offer_every_quirk():
    assert FLAG_QUIRKS == QUIRKS


def pages_of(quirk, options=PAGED):
    """The pages of a quirky list, each asked for after the previous page's last device."""
    inventory = DeviceInventory(Catalog(with_inventory(options, quirk=quirk)))
    pages, start = [], 0
    while len(pages) < 20:
        page = inventory.page(ACCOUNT, start)
        pages.append((start, page))
        if not page.has_more_data or not page.device_list:
            break
        start = int(page.device_list[-1].device_id)
    return inventory, pages


def test_stuck_pages_repeat_the_start_index_they_were_asked_for():
    _, pages = pages_of("stuck")

    (_, first), (second_start, second) = pages[:2]
    assert first.last_seen_device_id == int(first.device_list[-1].device_id)
    assert second.has_more_data
    assert second.last_seen_device_id == second_start == first.last_seen_device_id


def test_backwards_pages_go_back_below_their_start_index():
    _, pages = pages_of("backwards")

    start, second = pages[1]
    assert second.has_more_data
    assert second.last_seen_device_id == start - 1


@pytest.mark.parametrize(("quirk", "last_seen"), [(None, 0), ("null_last", None)])
def test_the_last_page_says_0_or_null(quirk, last_seen):
    _, pages = pages_of(quirk)

    _, last = pages[-1]
    assert not last.has_more_data
    assert last.device_list
    assert last.last_seen_device_id == last_seen
    assert all(isinstance(page.last_seen_device_id, int) for _, page in pages[:-1])


def test_string_last_sends_every_last_seen_device_id_as_a_string():
    _, pages = pages_of("string_last")

    assert all(page.last_seen_device_id == page.device_list[-1].device_id for _, page in pages)
    assert not pages[-1][1].has_more_data


def test_empty_last_ends_with_an_empty_page_that_says_it_has_more():
    inventory, pages = pages_of("empty_last")

    assert all(page.has_more_data for _, page in pages)
    start, last = pages[-1]
    assert last.device_list == []
    assert last.last_seen_device_id == start
    assert sum(len(page.device_list) for _, page in pages) == len(inventory.table(ACCOUNT))


def test_duplicate_lists_each_pages_first_device_twice_the_true_entry_last():
    inventory, pages = pages_of("duplicate")
    truth = inventory.truth(ACCOUNT)

    for _, page in pages:
        stale, true = page.device_list[:2]
        assert stale.device_id == true.device_id
        assert stale.firmware == "VerizonFirmwareVersion-00"
        assert stale.upgrade_time == "01/01/1900 0:0:0"
        assert true.firmware == truth[true.device_id].firmware
        assert len(page.device_list) == len({device.device_id for device in page.device_list}) + 1


def test_foreign_pages_name_another_account():
    _, pages = pages_of("foreign")

    assert {page.account_name for _, page in pages} == {FOREIGN_ACCOUNT}


async def test_the_quirk_reaches_the_route(session):
    options = with_inventory(quirk="null_last")
    async with run_simulator(options) as simulator:
        pages = await follow(simulator, session, options)

    assert pages[-1][1]["lastSeenDeviceId"] is None


def test_the_prerendered_server_holds_every_page_the_route_serves():
    catalog = Catalog(PAGED, body_cache_entries=0)
    responses = render_responses(catalog, inventory=True)
    pages = list(all_pages(DeviceInventory(catalog), ACCOUNT))

    assert len(pages) == math.ceil(len(DeviceInventory(catalog).table(ACCOUNT)) / 7)
    for start, body in pages:
        response = responses[f"/fota/v1/devices/{ACCOUNT}/index/{start}".encode()]
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert response.endswith(b"\r\n\r\n" + body)
    assert not any(b"/devices/" in path for path in render_responses(catalog))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--late-share", "2"], "the late share must be within 0-1"),
        (["--extra-devices=-1"], "extra devices must not be negative"),
        (["--inventory-page-size", "0"], "page size must be at least 1"),
        (["--campaigns=-1"], "campaigns must not be negative"),
    ],
)
def test_simulate_refuses_bad_device_list_values_in_one_line(args, message, capsys):
    code = cli.main(["simulate", "--port", "0", *args])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert message in err


async def test_simulate_serves_the_device_list_its_flags_ask_for(session):
    flags = ["--campaigns=2", "--devices=1-2", "--extra-devices=5", "--inventory-page-size=3"]
    with simulator_process(*flags, "--inventory-quirk=null_last") as base_url:
        simulator = type("Simulator", (), {"base_url": base_url})
        pages = await follow(simulator, session)

    assert sum(len(page["deviceList"]) for _, page in pages) in range(7, 10)
    assert all(len(page["deviceList"]) == 3 for _, page in pages[:-1])
    assert pages[-1][1]["lastSeenDeviceId"] is None
