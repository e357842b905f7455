"""SIGTERM, a second signal, and the lock file, with the real CLI in a subprocess."""

import asyncio
import random
import signal
import sys
import uuid
from collections import Counter

import anyio
import msgspec
from helpers import (
    Tripwire,
    assert_calm,
    assert_every_campaign_accounted,
    metrics_exit_code,
    parse_output,
    token_environ,
    watched_poller,
    write_unknown_ids,
)

from fota_poller.model.records import CampaignRecord, RunRecord
from fota_poller.regular_files import hold_lock
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


async def test_a_second_signal_cancels_requests_and_still_accounts_for_every_campaign(
    slow_simulator, tmp_path
):
    simulator = slow_simulator
    output = tmp_path / "out.jsonl"
    process = await start_poller(simulator, tmp_path, "--output", str(output), "--rate", "0")

    assert await signal_half_way(simulator, process, signal.SIGTERM, signal.SIGINT) == 4

    output = parse_output(output.read_bytes())  # every line parses
    assert_every_campaign_accounted(output, [i for _, i in simulator.catalog.ids()])
    assert output.run.complete is False
    assert list(tmp_path.glob(".out.jsonl.*")) == []


async def test_a_second_signal_whose_records_are_not_in_time_leaves_the_previous_file(
    simulator, tmp_path
):
    ids = tmp_path / "ids.txt"
    # 100,000 ids to account for once stopped: far more than a grace of 0 s allows.
    write_unknown_ids(ids, "0000123456-00001", 100_000)
    config = tmp_path / "config.toml"
    config.write_text("[poll]\ngrace_s = 0\n")
    output = tmp_path / "out.jsonl"
    output.write_bytes(PREVIOUS)
    metrics = tmp_path / "poll.prom"
    async with simulator(campaigns=1) as sim:
        args = ["poll", "--config", str(config), "--ids", str(ids), "--base-url", sim.base_url]
        args += ["--output", str(output), "--metrics-file", str(metrics), "--log-level", "info"]
        async with watched_poller(*args, env=token_environ(sim.options)) as poller:
            await poller.wait_for("run.started")
            poller.signal(signal.SIGINT)
            await poller.wait_for("run.signal_stop")
            poller.signal(signal.SIGINT)
            code, _ = await poller.finish()

    assert code == 130, poller.log.decode()[-2000:]
    assert_calm(poller.log)
    assert output.read_bytes() == PREVIOUS
    assert "output.not_committed" in poller.events
    assert metrics_exit_code(metrics) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.toml", "ids.txt", "out.jsonl", "poll.prom"
    ]  # fmt: skip


# -- acceptance 7: a second SIGINT at random points -------------------------------------------

PREVIOUS = b'{"the previous night": "every campaign of it"}\n' * 50
SEED = 18
RUNS = 20
AT_ONCE = 4  # runs at a time: 20 one after the other would take half a minute
# Where the first SIGINT goes: after the k-th event of that name on stderr.
FIRST_POINTS = (("run.started", 1), ("campaign.failed", 1), ("campaign.failed", 2))
# Where the second goes: at once, or after the event (the end of stderr if it never comes).
SECOND_POINTS = ((None, 0), ("run.signal_stop", 1), ("campaign.failed", 1), ("run.finished", 1))


class SignalledRun(msgspec.Struct):
    first: tuple[str, int]
    second: tuple[str | None, int]
    code: int = -1
    events: list[str] = msgspec.field(default_factory=list)
    log: bytes = b""
    output: bytes = b""
    metrics_code: int = -1


async def test_a_second_sigint_at_random_points_never_commits_an_incomplete_output(tmp_path):
    generator = random.Random(SEED)
    options = SimulatorOptions(campaigns=12, devices_min=1, devices_max=30, latency_ms=60)
    async with run_simulator(options) as simulator:
        # A third of the ids unknown to the simulator: each is a failed campaign, and a
        # `campaign.failed` line on stderr to choose a point by.
        ids = [i for _, i in simulator.catalog.ids()]
        ids += [str(uuid.UUID(int=generator.getrandbits(128), version=4)) for _ in range(6)]
        generator.shuffle(ids)
        id_file = tmp_path / "ids.txt"
        id_file.write_text("".join(f"0000123456-00001,{i}\n" for i in ids))
        runs = [
            SignalledRun(generator.choice(FIRST_POINTS), generator.choice(SECOND_POINTS))
            for _ in range(RUNS)
        ]
        limit = anyio.CapacityLimiter(AT_ONCE)
        async with anyio.create_task_group() as group:
            for number, run in enumerate(runs):
                group.start_soon(
                    signal_twice, simulator, id_file, tmp_path / str(number), run, limit
                )

    for run in runs:
        assert_calm(run.log)
        assert run.metrics_code == run.code, run
        if run.output == PREVIOUS:
            assert run.code == 130, run
            assert "output.not_committed" in run.events, run
            continue
        output = parse_output(run.output)
        assert_every_campaign_accounted(output, ids)
        assert output.run.exit_code == run.code, run
        assert run.code in {1, 4}, run  # 1: both signals came after the run
        assert output.run.complete is (run.code == 1), run
    # The seed puts a first signal in the middle of a run, and its output is still whole.
    assert any(run.code == 4 and run.output != PREVIOUS for run in runs)


async def signal_twice(simulator, id_file, folder, run, limit):
    async with limit:
        folder.mkdir()
        output = folder / "out.jsonl"
        output.write_bytes(PREVIOUS)
        args = ["poll", "--ids", str(id_file), "--base-url", simulator.base_url]
        args += ["--output", str(output), "--metrics-file", str(folder / "poll.prom")]
        args += ["--concurrency", "2", "--rate", "0", "--log-level", "info"]
        async with watched_poller(*args, env=token_environ(simulator.options)) as poller:
            await poller.wait_for(*run.first)
            poller.signal(signal.SIGINT)
            event, count = run.second
            if event is not None:
                await poller.wait_for(event, poller.events.count(event) + count)
            poller.signal(signal.SIGINT)
            try:
                run.code, _ = await poller.finish()
            except TimeoutError:
                raise AssertionError((run.first, run.second, poller.log.decode()[-3000:])) from None
        run.events, run.log = poller.events, bytes(poller.log)
        run.output, run.metrics_code = output.read_bytes(), metrics_exit_code(folder / "poll.prom")


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
