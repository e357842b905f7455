"""Every wait of a run can be stopped: ids on a pipe or FIFO that never ends, SIGHUP, and a
signal after the run (during the logout), with the real CLI in a subprocess."""

import os
import signal
import subprocess
from pathlib import Path

from helpers import (
    WatchedPoller,
    assert_calm,
    assert_every_campaign_accounted,
    credentials_environ,
    metrics_exit_code,
    parse_output,
    token_environ,
    watched_poller,
)

from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions

# Records of a stopped run within half a second of the grace's end, not two.
GRACE = "[poll]\ngrace_s = 0.5\n"


def poll_args(simulator, tmp_path: Path, ids: str, *extra: str) -> list[str]:
    config = tmp_path / "config.toml"
    config.write_text(GRACE)
    return [
        "poll", "--config", str(config), "--ids", ids, "--base-url", simulator.base_url,
        "--metrics-file", str(tmp_path / "poll.prom"), "--rate", "0", *extra,
    ]  # fmt: skip


def id_lines(simulator) -> tuple[bytes, list[str]]:
    pairs = list(simulator.catalog.ids())
    return b"".join(f"{a},{i}\n".encode() for a, i in pairs), [i for _, i in pairs]


def assert_cut_short(poller: WatchedPoller, code: int, stdout: bytes, ids: list[str]) -> None:
    assert code == 4, poller.log.decode()[-2000:]
    assert_calm(poller.log)
    output = parse_output(stdout)
    assert_every_campaign_accounted(output, ids)
    assert output.run.complete is False
    assert output.run.exit_code == 4


async def test_ids_on_a_pipe_that_never_closes_end_at_the_deadline(tmp_path):
    options = SimulatorOptions(campaigns=12, devices_min=1, devices_max=3, latency_ms=300)
    async with run_simulator(options) as simulator:
        lines, ids = id_lines(simulator)
        args = poll_args(simulator, tmp_path, "-", "--deadline", "1s", "--concurrency", "2")
        env = token_environ(simulator.options)
        async with watched_poller(*args, env=env, stdin=subprocess.PIPE) as poller:
            stdin = poller.process.stdin
            stdin.write(lines)  # and never closed while the run lasts
            await stdin.drain()
            code, stdout = await poller.finish()

    assert_cut_short(poller, code, stdout, ids)
    outcomes = {c.error_kind for c in parse_output(stdout).campaigns}
    assert "not_polled" in outcomes
    assert "input.cut" in poller.events
    assert metrics_exit_code(tmp_path / "poll.prom") == 4


async def test_ids_on_a_pipe_that_never_closes_end_at_sigterm(tmp_path):
    options = SimulatorOptions(campaigns=6, devices_min=1, devices_max=3, latency_ms=200)
    async with run_simulator(options) as simulator:
        lines, ids = id_lines(simulator)
        args = poll_args(simulator, tmp_path, "-", "--concurrency", "1")
        env = token_environ(simulator.options)
        async with watched_poller(*args, env=env, stdin=subprocess.PIPE) as poller:
            poller.process.stdin.write(lines)
            await poller.process.stdin.drain()
            # The first record on stdout: the run is under way, the pipe still open.
            first = await poller.process.stdout.readline()
            poller.signal(signal.SIGTERM)
            code, rest = await poller.finish()

    assert_cut_short(poller, code, first + rest, ids)
    assert "not_polled" in {c.error_kind for c in parse_output(first + rest).campaigns}
    assert metrics_exit_code(tmp_path / "poll.prom") == 4


async def test_ids_on_a_fifo_end_at_sigterm_then_sigint(tmp_path):
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)
    options = SimulatorOptions(campaigns=6, devices_min=1, devices_max=3, latency_ms=200)
    async with run_simulator(options) as simulator:
        lines, ids = id_lines(simulator)
        args = poll_args(simulator, tmp_path, str(fifo), "--concurrency", "1")
        # A writer that never closes it (O_RDWR: open at once, with no reader yet).
        writer = os.open(fifo, os.O_RDWR)
        try:
            os.write(writer, lines)
            async with watched_poller(*args, env=token_environ(simulator.options)) as poller:
                first = await poller.process.stdout.readline()
                poller.signal(signal.SIGTERM)
                await poller.wait_for("run.signal_stop")
                poller.signal(signal.SIGINT)
                code, rest = await poller.finish()
        finally:
            os.close(writer)

    assert_cut_short(poller, code, first + rest, ids)


async def test_a_fifo_no_writer_ever_opens_ends_at_the_deadline(tmp_path):
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)
    async with run_simulator(SimulatorOptions(campaigns=2)) as simulator:
        args = poll_args(simulator, tmp_path, str(fifo), "--deadline", "1s")
        async with watched_poller(*args, env=token_environ(simulator.options)) as poller:
            code, stdout = await poller.finish()
            requests = simulator.stats.requests_total

    assert_cut_short(poller, code, stdout, [])
    assert requests == 0
    assert metrics_exit_code(tmp_path / "poll.prom") == 4


async def test_sighup_mid_run_ends_it_like_sigterm_with_logout_and_metrics(tmp_path):
    options = SimulatorOptions(campaigns=400, devices_min=1, devices_max=3, latency_ms=5)
    async with run_simulator(options) as simulator:
        ids = tmp_path / "ids.txt"
        simulator.catalog.write_ids(ids)
        output = tmp_path / "out.jsonl"
        args = poll_args(simulator, tmp_path, str(ids), "--output", str(output))
        env = credentials_environ(options.auth)
        async with watched_poller(*args, "--log-level", "debug", env=env) as poller:
            await poller.wait_for("auth.session_opened")
            poller.signal(signal.SIGHUP)
            code, _ = await poller.finish()
            logouts = simulator.auth.stats.logout_requests

    every_id = [i for _, i in simulator.catalog.ids()]
    assert_cut_short(poller, code, output.read_bytes(), every_id)
    assert "run.signal_stop" in poller.events
    assert logouts == 1
    assert metrics_exit_code(tmp_path / "poll.prom") == 4


async def test_sigterm_during_the_logout_still_writes_the_metrics(tmp_path):
    # The logout answers half a body and then nothing for a minute.
    stalled_logout = FaultOptions(mix=(("stall", 1.0),), routes=("logout",), stall_s=60)
    options = SimulatorOptions(campaigns=5, devices_min=1, devices_max=3, faults=stalled_logout)
    async with run_simulator(options) as simulator:
        ids = tmp_path / "ids.txt"
        simulator.catalog.write_ids(ids)
        output = tmp_path / "out.jsonl"
        args = poll_args(simulator, tmp_path, str(ids), "--output", str(output))
        async with watched_poller(*args, env=credentials_environ(options.auth)) as poller:
            # The run's last line: the output is committed, the logout comes next.
            await poller.wait_for("run.finished")
            poller.signal(signal.SIGTERM)
            code, _ = await poller.finish()

    assert code == 0, poller.log.decode()[-2000:]
    assert_calm(poller.log)
    assert "run.signal_after_run" in poller.events
    # Cut short by the signal, not given up after the logout's own 10 s.
    assert "auth.unreachable" not in poller.events
    assert parse_output(output.read_bytes()).run.exit_code == 0
    assert metrics_exit_code(tmp_path / "poll.prom") == 0
