"""The simulator over loopback: its routes, its answers to bad tokens, its counters."""

import asyncio

import aiohttp
import msgspec
import pytest

from fota_poller.simulator import SimulatorOptions, SimulatorStats, run_simulator, serve_forever

SMALL = SimulatorOptions(campaigns=40, devices_min=1, devices_max=60)


def headers(options=SMALL, bearer=None, session=None):
    return {
        "Authorization": f"Bearer {bearer or options.bearer_token}",
        "VZ-M2M-Token": session or options.session_token,
    }


def upgrade_url(base_url, account, upgrade_id):
    return f"{base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"


@pytest.fixture
async def simulator():
    async with run_simulator(SMALL) as running:
        yield running


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


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
