"""run/inventories.py: a run stopped while an account's device list is fetched never hangs.

In process, against the simulator behind a proxy that holds the device-list route: the proxy
stops the run as the list is asked for, then either answers 503 (the fetch sees the stop and
ends) or never answers (the stop's grace runs out and the fetch is cancelled). Either way
the account's campaigns are the stop's (`not_polled`, exit 4), every one has its record,
and the request that was sent is counted in `inventory_requests`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import anyio
import pytest
from aiohttp import web
from helpers import ACCOUNT, refs_of, serve_app, simulator_tokens

from fota_poller.config import ApiConfig, Config, apply_overrides
from fota_poller.model.records import CampaignRecord, DeviceRecord
from fota_poller.model.stop import RunControl, cut_short
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import InventoryOptions, SimulatorOptions, run_simulator
from fota_poller.testing import MemorySink

OPTIONS = SimulatorOptions(
    campaigns=12, devices_min=1, devices_max=3, inventory=InventoryOptions(page_size=5)
)


@asynccontextmanager
async def stopping_proxy(
    upstream: str, control: RunControl, *, hang: bool
) -> AsyncIterator[tuple[str, anyio.Event]]:
    """Forwards upgrades; a device-list request stops the run, then hangs or answers 503."""
    release = anyio.Event()
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.StreamResponse:
            if request.path.startswith("/fota/v1/devices/"):
                control.stop(cut_short("stopped while the device list was fetched"))
                if hang:
                    await release.wait()
                return web.json_response({"errorCode": "BUSY"}, status=503)
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with session.get(upstream + str(request.rel_url), headers=headers) as answer:
                body = await answer.read()
                return web.Response(
                    body=body, status=answer.status, content_type="application/json"
                )

        app = web.Application()
        app.router.add_get("/{tail:.*}", forward)
        async with serve_app(app) as base_url:
            try:
                yield base_url, release
            finally:
                release.set()


@pytest.mark.parametrize("hang", [False, True], ids=["answered-after-the-stop", "grace-ran-out"])
@pytest.mark.timeout(30)
async def test_a_stop_while_the_list_is_fetched_leaves_its_campaigns_to_the_stop(hang):
    control = RunControl()
    sink = MemorySink()
    async with run_simulator(OPTIONS) as simulator:
        proxy = stopping_proxy(simulator.base_url, control, hang=hang)
        async with proxy as (base_url, release):
            config = apply_overrides(
                Config(api=ApiConfig(base_url=base_url)),
                poll={"rate": 0, "grace_s": 0.05},
                inventory={"enabled": True},
            )
            run = await run_poll(
                config, refs_of(simulator.catalog), simulator_tokens(OPTIONS), sink, control
            )
            release.set()

    records = sink.records()
    campaigns = [record for record in records if isinstance(record, CampaignRecord)]
    assert len(campaigns) == OPTIONS.campaigns
    assert {(c.account_name, c.outcome, c.error_kind) for c in campaigns} == {
        (ACCOUNT, "failed", "not_polled")
    }
    assert not any(isinstance(record, DeviceRecord) for record in records)
    assert run.exit_code == 4
    assert run.inventory_requests == 1
