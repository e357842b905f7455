"""Acceptance 5: `state stuck --stuck-after 7d` on a database that real runs against the evolving
simulator built over three nights of a fake clock lists exactly the devices whose status
has not changed for over seven days."""

import datetime as dt
import json

import structlog
from helpers import refs_of, simulator_tokens

from fota_poller.api import client
from fota_poller.cli import main
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.model.phases import PhaseTable
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import EvolveOptions, SimulatorOptions, run_simulator
from fota_poller.state import queries
from fota_poller.state.store import StateStore
from fota_poller.testing import MemorySink

T0 = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
# Nights 0, 1 and 2 of the simulator, polled 0, 2 and 5 days after T0; asked on day 10.
NIGHTS = (T0, T0 + dt.timedelta(days=2), T0 + dt.timedelta(days=5))
ASKED_AT = T0 + dt.timedelta(days=10)
OPTIONS = SimulatorOptions(
    campaigns=12, devices_min=5, devices_max=40, seed=4, evolve=EvolveOptions(seed=9, share=0.25)
)


def fake_datetime(moment):
    class FakeDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            assert tz is dt.UTC
            return moment

    return FakeDatetime


def expected_stuck(catalog):
    """Devices whose current status (pending or unknown phase) was set before day 10 - 7."""
    phases = PhaseTable()
    stuck = set()
    for account, upgrade_id in catalog.ids():
        nights = [
            {d.device_id: d.status for d in catalog.campaign_on(account, upgrade_id, n).device_list}
            for n in range(3)
        ]
        for device_id, status in nights[2].items():
            first = 2  # the first night of the unbroken stretch in this status
            while first > 0 and nights[first - 1].get(device_id) == status:
                first -= 1
            since = NIGHTS[first]
            if phases.phase(status) in {"pending", "unknown"} and since < ASKED_AT - dt.timedelta(
                days=7
            ):
                stuck.add((upgrade_id, device_id))
    return stuck


async def test_stuck_lists_exactly_the_devices_unchanged_for_over_seven_days(
    tmp_path, monkeypatch, capsys, restore_logging
):
    path = tmp_path / "state.db"
    async with run_simulator(OPTIONS) as sim:
        config = Config(api=ApiConfig(base_url=sim.base_url), poll=PollConfig(rate=0))
        for night, moment in enumerate(NIGHTS):
            if night:
                sim.catalog.advance_day()
            # The answers arrive at the fake night's time: that is the records' polled_at.
            monkeypatch.setattr(client, "datetime", fake_datetime(moment))
            with StateStore.open(path) as store, structlog.testing.capture_logs():
                run = await run_poll(
                    config, refs_of(sim.catalog), simulator_tokens(OPTIONS), MemorySink(),
                    state=store,
                )  # fmt: skip
            assert run.exit_code == 0
        expected = expected_stuck(sim.catalog)

    monkeypatch.setattr(queries, "utc_now", lambda: ASKED_AT)
    capsys.readouterr()
    assert (
        main(["state", "stuck", "--state", str(path), "--stuck-after", "7d", "--format", "json"])
        == 0
    )
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(d["upgrade_id"], d["device_id"]) for d in listed} == expected
    # Both stretches over seven days are there (since night 0, and since night 1), and the
    # test is not trivially passing on an empty set.
    assert {d["status_since"] for d in listed} == {
        "2026-11-01T02:00:00.000Z",
        "2026-11-03T02:00:00.000Z",
    }
    assert all(d["stuck_for_s"] > 7 * 86400 for d in listed)
    # Exactly five days (night 2) is not "longer than" 5d; four days takes night 2's too.
    assert (
        main(["state", "stuck", "--state", str(path), "--stuck-after", "5d", "--format", "json"])
        == 0
    )
    assert len(capsys.readouterr().out.splitlines()) == len(listed)
    assert (
        main(["state", "stuck", "--state", str(path), "--stuck-after", "4d", "--format", "json"])
        == 0
    )
    assert len(capsys.readouterr().out.splitlines()) > len(listed)
