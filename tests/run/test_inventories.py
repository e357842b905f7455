"""run/inventories.py: one account's slow list holds up none of the other accounts' campaigns,
and a run stopped while a list is fetched never hangs.

In process, against the simulator behind a proxy that holds the device-list route: the proxy
stops the run as the list is asked for, then either answers 503 (the fetch sees the stop and
ends) or never answers (the stop's grace runs out and the fetch is cancelled). Either way
the account's campaigns are the stop's (`not_polled`, exit 4), every one has its record,
and the request that was sent is counted in `inventory_requests`.

A proxy that lets the list go only once every campaign was asked for shows the answers
parked while it is fetched (two workers could not otherwise get there), joined once it is;
with no room to park, the run holds `concurrency - 1` campaigns out, as it did before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import anyio
import pytest
from aiohttp import web
from helpers import ACCOUNT, OTHER_ACCOUNT, proxy_to, refs_of, simulator_tokens

from fota_poller.config import ApiConfig, Config, apply_overrides
from fota_poller.model.records import CampaignRecord, DeviceRecord
from fota_poller.model.refs import CampaignRef
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

    async def device_list(request: web.Request) -> web.StreamResponse | None:
        if not request.path.startswith("/fota/v1/devices/"):
            return None
        control.stop(cut_short("stopped while the device list was fetched"))
        if hang:
            await release.wait()
        return web.json_response({"errorCode": "BUSY"}, status=503)

    async with proxy_to(upstream, device_list) as base_url:
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


class HeldList:
    """A proxy's hold on OTHER_ACCOUNT's list: let go once ACCOUNT's campaigns are written."""

    def __init__(self, campaigns: int) -> None:
        self.release = anyio.Event()
        self.campaigns = campaigns
        self.held = 0  # device-list requests held


class ReleasingSink(MemorySink):
    """Lets OTHER_ACCOUNT's list go once every campaign line of ACCOUNT is written."""

    def __init__(self, hold: HeldList) -> None:
        super().__init__()
        self.hold = hold

    def write(self, data: bytes) -> None:
        super().write(data)
        written = sum(
            1
            for record in self.records()
            if isinstance(record, CampaignRecord) and record.account_name == ACCOUNT
        )
        if written == self.hold.campaigns:
            self.hold.release.set()


@asynccontextmanager
async def holding_proxy(upstream: str, hold: HeldList) -> AsyncIterator[str]:
    held = f"/fota/v1/devices/{OTHER_ACCOUNT}/"

    async def hold_list(request: web.Request) -> web.StreamResponse | None:
        if request.path.startswith(held):
            hold.held += 1
            await hold.release.wait()
        return None  # then forwarded

    async with proxy_to(upstream, hold_list) as base_url:
        try:
            yield base_url
        finally:
            hold.release.set()


# Not 1: the held request takes the run's one connection (`poll.concurrency` bounds them too).
@pytest.mark.parametrize("concurrency", [2, 4])
@pytest.mark.timeout(30)
async def test_an_accounts_list_still_fetched_holds_up_no_other_accounts_campaigns(concurrency):
    options = SimulatorOptions(
        campaigns=40,
        devices_min=1,
        devices_max=3,
        accounts=(ACCOUNT, OTHER_ACCOUNT),
        inventory=InventoryOptions(page_size=5),
    )
    async with run_simulator(options) as simulator:
        ids = list(simulator.catalog.ids())
        # OTHER_ACCOUNT's 20 campaigns first: far more than the workers and the channel hold.
        ordered = [ref for ref in ids if ref[0] == OTHER_ACCOUNT] + [
            ref for ref in ids if ref[0] == ACCOUNT
        ]
        hold = HeldList(campaigns=sum(account == ACCOUNT for account, _ in ids))
        sink = ReleasingSink(hold)

        async def refs() -> AsyncIterator[CampaignRef]:
            for account, upgrade_id in ordered:
                yield CampaignRef(account, upgrade_id)

        async with holding_proxy(simulator.base_url, hold) as base_url:
            config = apply_overrides(
                Config(api=ApiConfig(base_url=base_url)),
                poll={"rate": 0, "concurrency": concurrency},
                inventory={"enabled": True},
            )
            # Were ACCOUNT's campaigns held up behind the held list, nothing would release it.
            with anyio.fail_after(20):
                run = await run_poll(config, refs(), simulator_tokens(options), sink)
        truth = {
            account: simulator.inventory.truth(account) for account in (ACCOUNT, OTHER_ACCOUNT)
        }

    campaigns = [record for record in sink.records() if isinstance(record, CampaignRecord)]
    assert hold.held == -(-len(truth[OTHER_ACCOUNT]) // 5)  # every page of it held
    assert len(campaigns) == len(ids)
    assert all(campaign.outcome == "ok" for campaign in campaigns)
    # ACCOUNT's campaigns were all written before OTHER_ACCOUNT's list was let go.
    first_other = next(i for i, c in enumerate(campaigns) if c.account_name == OTHER_ACCOUNT)
    assert all(c.account_name == ACCOUNT for c in campaigns[:first_other])
    assert run.exit_code == 0
    assert run.inventory_requests == sum(-(-len(t) // 5) for t in truth.values())


class ListGate:
    """A proxy's hold on the device list: counts the upgrades asked for, and when."""

    def __init__(self, open_after: int, stop: RunControl | None = None) -> None:
        self.open_after = open_after  # upgrades asked for before the list is let go
        self.stop = stop  # stopped as the list is let go, if given
        self.opened = anyio.Event()
        self.upgrades = 0
        self.upgrades_before_last_page = 0
        self.last_page_served = False


@asynccontextmanager
async def gated_proxy(upstream: str, gate: ListGate) -> AsyncIterator[str]:
    async def watch(request: web.Request) -> web.StreamResponse | None:
        if request.path.startswith("/fota/v1/upgrades/"):
            gate.upgrades += 1
            gate.upgrades_before_last_page += not gate.last_page_served
            if gate.upgrades >= gate.open_after and not gate.opened.is_set():
                if gate.stop is not None:
                    gate.stop.stop(cut_short("stopped with every answer parked"))
                gate.opened.set()
            return None
        if not request.path.startswith("/fota/v1/devices/"):
            return None
        await gate.opened.wait()
        # The list's pages ask from the last IMEI seen: the simulator's last one ends it.
        async with aiohttp.ClientSession() as session:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with session.get(upstream + str(request.rel_url), headers=headers) as answer:
                body = await answer.read()
        gate.last_page_served = gate.last_page_served or b'"hasMoreData":false' in body
        return web.Response(body=body, status=answer.status, content_type=answer.content_type)

    async with proxy_to(upstream, watch) as base_url:
        try:
            yield base_url
        finally:
            gate.opened.set()


PARKING = SimulatorOptions(
    campaigns=30, devices_min=2, devices_max=4, inventory=InventoryOptions(page_size=5)
)


async def poll_gated(gate: ListGate, concurrency: int) -> tuple[MemorySink, int, dict, list]:
    """A run of PARKING's campaigns behind `gate`: sink, exit code, the list's truth, the ids."""
    sink = MemorySink()
    async with run_simulator(PARKING) as simulator:
        async with gated_proxy(simulator.base_url, gate) as base_url:
            config = apply_overrides(
                Config(api=ApiConfig(base_url=base_url)),
                poll={"rate": 0, "concurrency": concurrency},
                inventory={"enabled": True},
            )
            with anyio.fail_after(20):
                run = await run_poll(
                    config, refs_of(simulator.catalog), simulator_tokens(PARKING), sink, gate.stop
                )
        truth = simulator.inventory.truth(ACCOUNT)
        ids = list(simulator.catalog.ids())
    return sink, run.exit_code, truth, ids


@pytest.mark.timeout(30)
async def test_an_accounts_campaigns_are_polled_while_its_list_is_fetched_and_joined_after():
    # The list is let go only once every campaign was asked for: with two workers, only
    # parked answers get there (a worker waiting for the list would hold the other back).
    gate = ListGate(open_after=PARKING.campaigns)
    sink, exit_code, truth, ids = await poll_gated(gate, concurrency=2)

    records = sink.records()
    campaigns = [record for record in records if isinstance(record, CampaignRecord)]
    devices = [record for record in records if isinstance(record, DeviceRecord)]
    assert gate.upgrades == PARKING.campaigns  # each polled once, none again
    assert sorted(c.upgrade_id for c in campaigns) == sorted(upgrade_id for _, upgrade_id in ids)
    assert {(c.outcome, c.inventory) for c in campaigns} == {("ok", "ok")}
    # Joined after all: every device's fields are the list's.
    assert devices
    for device in devices:
        listed = truth.get(device.device_id)
        assert device.reported_firmware == (None if listed is None else listed.firmware)
        assert device.model == (None if listed is None else listed.model)
    assert exit_code == 0


@pytest.mark.timeout(30)
async def test_answers_that_do_not_fit_the_parking_wait_in_their_workers(monkeypatch):
    # Nothing fits: the run is as it was without parking, `concurrency - 1` campaigns out
    # while the list is fetched, the rest held back until it is there.
    monkeypatch.setattr("fota_poller.run.inventories.PARKED_BYTES", 0)
    gate = ListGate(open_after=2)
    sink, exit_code, _, _ = await poll_gated(gate, concurrency=3)

    campaigns = [record for record in sink.records() if isinstance(record, CampaignRecord)]
    assert gate.upgrades_before_last_page == 2
    assert len(campaigns) == PARKING.campaigns
    assert {(c.outcome, c.inventory) for c in campaigns} == {("ok", "ok")}
    assert exit_code == 0


@pytest.mark.timeout(30)
async def test_a_stop_with_answers_parked_leaves_them_to_the_stop_each_with_its_record():
    # The stop comes as the last campaign is asked for: its answer and every parked one
    # wait for a list the stop cuts short. Each gets the stop's record, none is lost.
    gate = ListGate(open_after=PARKING.campaigns, stop=RunControl())
    sink, exit_code, _, ids = await poll_gated(gate, concurrency=2)

    records = sink.records()
    campaigns = [record for record in records if isinstance(record, CampaignRecord)]
    assert sorted(c.upgrade_id for c in campaigns) == sorted(upgrade_id for _, upgrade_id in ids)
    assert {(c.outcome, c.error_kind) for c in campaigns} == {("failed", "not_polled")}
    # Polled once each before the stop: the attempt is counted on its record.
    assert {c.attempts for c in campaigns} == {1}
    assert not any(isinstance(record, DeviceRecord) for record in records)
    assert exit_code == 4
