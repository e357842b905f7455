import asyncio
import datetime as dt

import aiohttp
import msgspec
import pytest

from fota_poller.simulator import (
    Catalog,
    SimulatorOptions,
    SimulatorStats,
    run_simulator,
    serve_forever,
)
from fota_poller.simulator.body_cache import BodyCache

TODAY = dt.date(2026, 1, 15)
SMALL = SimulatorOptions(campaigns=40, devices_min=1, devices_max=60)
PENDING = {"RequestPending", "Request Pending"}


def headers(options=SMALL, bearer=None, session=None):
    return {
        "Authorization": f"Bearer {bearer or options.bearer_token}",
        "VZ-M2M-Token": session or options.session_token,
    }


def upgrade_url(base_url, account, upgrade_id):
    return f"{base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"


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


@pytest.fixture
async def simulator():
    async with run_simulator(SMALL) as running:
        yield running


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


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


async def test_known_campaign_is_served_as_json(simulator, session):
    account, upgrade_id = next(simulator.catalog.ids())

    async with session.get(
        upgrade_url(simulator.base_url, account, upgrade_id), headers=headers()
    ) as response:
        body = await response.read()

    assert response.status == 200
    assert response.content_type == "application/json"
    assert body == simulator.catalog.body(account, upgrade_id)


async def test_unknown_upgrade_id_is_answered_with_invalid_parameter(simulator, session):
    account = SMALL.accounts[0]
    url = upgrade_url(simulator.base_url, account, "e3a8d88a-04c6-4ef3-b039-89b62f91e962")

    async with session.get(url, headers=headers()) as response:
        body = await response.json()

    assert response.status == 400
    assert body == {"errorCode": "INVALID_PARAMETER", "errorMessage": "Invalid upgradeId"}


async def test_unknown_account_is_answered_with_account_not_found(simulator, session):
    _, upgrade_id = next(simulator.catalog.ids())
    url = upgrade_url(simulator.base_url, "9999999999-00001", upgrade_id)

    async with session.get(url, headers=headers()) as response:
        body = await response.json()

    assert response.status == 400
    assert body["errorCode"] == "UnifiedWebService.REQUEST_FAILED.AccountNotFound"


async def test_wrong_bearer_token_is_answered_with_invalid_credentials_fault(simulator, session):
    url = upgrade_url(simulator.base_url, *next(simulator.catalog.ids()))

    async with session.get(url, headers=headers(bearer="expired")) as response:
        body = await response.json()

    assert response.status == 401
    assert body["fault"]["code"] == "900901"
    assert body["fault"]["message"] == "Invalid Credentials"


async def test_missing_bearer_token_is_answered_with_missing_credentials_fault(simulator, session):
    url = upgrade_url(simulator.base_url, *next(simulator.catalog.ids()))

    async with session.get(url, headers={"VZ-M2M-Token": SMALL.session_token}) as response:
        body = await response.json()

    assert response.status == 401
    assert body["fault"]["code"] == "900902"


async def test_wrong_session_token_is_answered_with_session_token_invalid(simulator, session):
    url = upgrade_url(simulator.base_url, *next(simulator.catalog.ids()))

    async with session.get(url, headers=headers(session="stale")) as response:
        body = await response.json()

    assert response.status == 400
    assert body["errorCode"] == "REQUEST_FAILED.SessionToken.Invalid"


async def test_missing_session_token_is_answered_with_session_token_format(simulator, session):
    url = upgrade_url(simulator.base_url, *next(simulator.catalog.ids()))
    bearer_only = {"Authorization": f"Bearer {SMALL.bearer_token}"}

    async with session.get(url, headers=bearer_only) as response:
        body = await response.json()

    assert response.status == 400
    assert body["errorCode"] == "REQUEST_FAILED.SessionToken.Format"


async def test_stats_count_requests_by_status(simulator, session):
    account, upgrade_id = next(simulator.catalog.ids())
    url = upgrade_url(simulator.base_url, account, upgrade_id)

    for request_headers in (headers(), headers(), headers(bearer="wrong")):
        async with session.get(url, headers=request_headers) as response:
            await response.read()

    stats = simulator.stats
    assert stats.requests_total == 3
    assert stats.requests_by_status == {200: 2, 401: 1}
    assert len(stats.request_starts) == 3
    assert stats.in_flight == 0
    assert stats.max_in_flight >= 1


async def test_concurrent_requests_are_counted_in_flight(session):
    options = msgspec.structs.replace(SMALL, latency_ms=300.0)
    async with run_simulator(options) as simulator:
        url = upgrade_url(simulator.base_url, *next(simulator.catalog.ids()))

        async def fetch():
            async with session.get(url, headers=headers(options)) as response:
                return response.status

        statuses = await asyncio.gather(*(fetch() for _ in range(5)))

    assert statuses == [200] * 5
    assert simulator.stats.max_in_flight == 5
    assert simulator.stats.max_starts_in_window(1.0) == 5


def test_max_starts_in_window_counts_half_open_windows():
    stats = SimulatorStats(request_starts=[1.25, 0.0, 0.25, 0.5, 1.0, 1.125, 1.375])

    assert stats.max_starts_in_window(1.0) == 5
    assert stats.max_starts_in_window(0.125) == 1
    assert SimulatorStats(request_starts=[0.0, 1.0]).max_starts_in_window(1.0) == 1
    assert SimulatorStats().max_starts_in_window() == 0


async def test_serve_forever_writes_ids_reports_its_url_and_stops_when_cancelled(tmp_path, session):
    ids_path = tmp_path / "ids.csv"
    base_urls = []
    listening = asyncio.Event()

    def ready(base_url):
        base_urls.append(base_url)
        listening.set()

    server = asyncio.create_task(serve_forever(SMALL, write_ids=ids_path, ready=ready))
    try:
        await listening.wait()
        account, upgrade_id = ids_path.read_text(encoding="utf-8").splitlines()[0].split(",")
        url = upgrade_url(base_urls[0], account, upgrade_id)
        async with session.get(url, headers=headers()) as response:
            assert response.status == 200
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
