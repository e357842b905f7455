"""SIGTERM, a second signal, and the lock file, with the real CLI in a subprocess."""

import asyncio
import signal
import sys
from collections import Counter

from helpers import Tripwire, token_environ

from fota_poller.output.records import CampaignRecord, RunRecord
from fota_poller.run.lock import hold_lock
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.testing import read_records


async def start_poller(simulator, tmp_path, *extra):
    ids = tmp_path / "ids.txt"
    simulator.catalog.write_ids(ids)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fota_poller", "poll", "--ids", str(ids),
        "--base-url", simulator.base_url, "--log-level", "warning", *extra,
        env=token_environ(simulator.options),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def signal_half_way(simulator, process, *signals):
    half_way = asyncio.Event()
    simulator.stats.request_starts = Tripwire(len(simulator.catalog) // 2, half_way)
    await asyncio.wait_for(half_way.wait(), 30)
    for sent in signals:
        process.send_signal(sent)
    await asyncio.wait_for(process.communicate(), 5)
    return process.returncode


async def test_sigterm_half_way_exits_4_with_every_campaign_accounted_for(slow_simulator, tmp_path):
    simulator = slow_simulator
    output = tmp_path / "out.jsonl"
    process = await start_poller(simulator, tmp_path, "--output", str(output), "--rate", "0")

    assert await signal_half_way(simulator, process, signal.SIGTERM) == 4

    records = read_records(output.read_bytes())
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    assert isinstance(records[-1], RunRecord)
    assert records[-1].complete is False
    assert records[-1].exit_code == 4
    assert Counter(c.upgrade_id for c in campaigns) == {i: 1 for _, i in simulator.catalog.ids()}
    outcomes = Counter((c.outcome, c.error_kind) for c in campaigns)
    assert set(outcomes) == {("ok", None), ("failed", "not_polled")}
    assert outcomes[("ok", None)] >= 1000
    assert "SIGTERM" in next(c.error_message for c in campaigns if c.outcome == "failed")


async def test_a_second_signal_exits_at_once_leaving_only_whole_lines(slow_simulator, tmp_path):
    simulator = slow_simulator
    output = tmp_path / "out.jsonl"
    process = await start_poller(simulator, tmp_path, "--output", str(output), "--rate", "0")

    assert await signal_half_way(simulator, process, signal.SIGTERM, signal.SIGINT) == 4

    records = read_records(output.read_bytes())  # every line parses
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    assert isinstance(records[-1], RunRecord)
    assert records[-1].complete is False
    assert len({c.upgrade_id for c in campaigns}) == len(campaigns) <= 2000
    assert list(tmp_path.glob(".out.jsonl.*")) == []


async def test_a_second_run_with_the_same_lock_exits_75_and_touches_no_output(tmp_path):
    options = SimulatorOptions(campaigns=5, devices_min=1, devices_max=2)
    output = tmp_path / "out.jsonl"
    output.write_bytes(b"the first run's output\n")
    lock = tmp_path / "poll.lock"
    async with run_simulator(options) as simulator:
        with hold_lock(str(lock)):
            process = await start_poller(
                simulator, tmp_path, "--output", str(output), "--lock-file", str(lock)
            )
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        requests = simulator.stats.requests_total

    assert process.returncode == 75
    assert stderr.decode().count("\n") == 1
    assert "lock" in stderr.decode()
    assert output.read_bytes() == b"the first run's output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "out.jsonl", "poll.lock"]
    assert requests == 0


async def test_a_run_holding_the_lock_releases_it_when_done(tmp_path):
    options = SimulatorOptions(campaigns=5, devices_min=1, devices_max=2)
    lock = tmp_path / "poll.lock"
    async with run_simulator(options) as simulator:
        process = await start_poller(simulator, tmp_path, "--lock-file", str(lock))
        await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0
    with hold_lock(str(lock)):
        pass
