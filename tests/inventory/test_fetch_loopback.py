"""A device list over real loopback sockets, through the run's real client, tokens and rate limit.

The server is this test's own: the simulator's auth routes (token, login, the check every
API call gets) and a device-list route serving pages the test builds, so the paging is
checked against a truth the test holds, not against the poller's own output.
"""

from __future__ import annotations

import time

import anyio
import msgspec
from aiohttp import web
from helpers import FakeClock, serve_app, simulator_credentials
from structlog.testing import capture_logs
from yarl import URL

from fota_poller.api.client import UpgradeClient, open_session
from fota_poller.api.token_provider import TokenProvider
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.inventory.fetch import InventoryFetcher, fetch_inventory
from fota_poller.inventory.upgrade_time import UpgradeTimes
from fota_poller.model.stop import RunControl
from fota_poller.model.tally import RunTally
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import RetryPolicy
from fota_poller.simulator import SimulatorAuthOptions
from fota_poller.simulator.auth_routes import SimulatorAuth
from fota_poller.simulator.counting import max_starts_in_window

ACCOUNT = "0000123456-00001"
AUTH = SimulatorAuthOptions()
RATE = 20.0
PAGES = 12
PAGE_SIZE = 50


class DeviceListServer:
    """Pages of `PAGE_SIZE` devices, IMEI order; the session idles out once, mid-list."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.auth = SimulatorAuth(AUTH, "static-bearer", "static-session", clock=clock)
        self.imeis = [str(351756051000000 + 7 * n) for n in range(PAGES * PAGE_SIZE)]
        self.starts: list[float] = []
        self.indexes: list[str] = []
        self.rejected = 0

    def app(self) -> web.Application:
        app = web.Application()
        self.auth.register(app)
        app.router.add_get("/fota/v1/devices/{account}/index/{index}", self.page)
        app.router.add_get("/other/{n}", self.other)
        return app

    async def page(self, request: web.Request) -> web.Response:
        self.starts.append(time.monotonic())
        refused = self.auth.check(request)
        if refused is not None:
            self.rejected += 1
            return refused
        index = request.match_info["index"]
        self.indexes.append(index)
        if len(self.indexes) == PAGES // 2:
            # The session's idle lifetime passes: the next page needs a new session.
            self.clock.now += AUTH.session_idle_ttl_s + 1
        start = 0 if index == "0" else self.imeis.index(index) + 1
        devices = self.imeis[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(self.imeis)
        body = {
            "accountName": request.match_info["account"],
            "hasMoreData": more,
            "lastSeenDeviceId": int(devices[-1]) if more else 0,
            "deviceList": [
                {
                    "deviceId": imei,
                    "mdn": "1555",
                    "model": f"Model-{int(imei) % 3}",
                    "make": "Acme",
                    "firmware": f"FW-{int(imei) % 2}",
                    "fotaEligible": True,
                    "upgradeTime": "01/01/1900 0:0:0",
                }
                for imei in devices
            ],
        }
        return web.json_response(body)

    async def other(self, request: web.Request) -> web.Response:
        self.starts.append(time.monotonic())
        refused = self.auth.check(request)
        if refused is not None:
            self.rejected += 1
            return refused
        return web.json_response({})


async def test_a_list_through_the_real_client_shares_the_rate_limit_and_renews_its_token() -> None:
    clock = FakeClock()
    server = DeviceListServer(clock)
    tally = RunTally()
    async with serve_app(server.app()) as base_url:
        poll = PollConfig(rate=RATE, max_attempts=3, backoff_initial_s=0)
        config = Config(api=ApiConfig(base_url=base_url), poll=poll)
        limiter = RateLimiter(RATE)
        async with (
            TokenProvider(config, simulator_credentials(AUTH), clock=clock, tally=tally) as tokens,
            open_session(config) as session,
        ):
            client = UpgradeClient(session, base_url, tokens, limiter, tally=tally)
            fetcher = InventoryFetcher(
                client=client,
                base_url=base_url,
                policy=RetryPolicy.from_config(poll),
                backoff=SharedBackoff(limiter, BackoffSettings.from_config(poll)),
                control=RunControl(),
                tally=tally,
                times=UpgradeTimes(),
            )

            async def others() -> None:
                # Upgrade requests of other accounts' campaigns, at the same time.
                for n in range(PAGES):
                    response = await client.get(URL(f"{base_url}/other/{n}"))
                    assert response.status == 200

            with capture_logs() as logs:
                async with anyio.create_task_group() as group:
                    group.start_soon(others)
                    result = await fetch_inventory(fetcher, ACCOUNT)

    assert not result.failed, result.failure
    inventory = result.inventory
    assert inventory is not None
    assert len(inventory) == len(server.imeis)
    for imei in server.imeis:
        entry = inventory.lookup(imei)
        assert entry is not None
        assert (entry.model, entry.firmware) == (f"Model-{int(imei) % 3}", f"FW-{int(imei) % 2}")
        assert entry.upgraded_at is None
    assert inventory.lookup(str(351756051000000 + 1)) is None
    # Each page asked once, from index 0 through each page's last IMEI.
    expected = ["0"] + [server.imeis[PAGE_SIZE * n - 1] for n in range(1, PAGES)]
    assert server.indexes == expected
    # The session idled out mid-list: one login more, and the request it was refused to (a
    # page or another) sent again inside the client, never charged as an attempt.
    assert server.auth.stats.login_requests == 2
    assert tally.tokens_rejected == server.rejected == 1
    assert result.requests == tally.inventory_requests == PAGES
    assert tally.requests_total == 2 * PAGES + 1
    # Inventory pages and the other requests shared the one rate limit.
    assert max_starts_in_window(server.starts) <= RATE
    assert [line["event"] for line in logs if line["event"].startswith("inventory.")] == [
        "inventory.done"
    ]
    assert msgspec.json.encode(result.account) == b'"' + ACCOUNT.encode() + b'"'
