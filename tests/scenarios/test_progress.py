import os
import re
import subprocess
import sys

import anyio.to_thread
import msgspec
import pytest
from helpers import run_on_a_terminal

from fota_poller.simulator import SimulatorOptions, run_simulator

OPTIONS = SimulatorOptions(campaigns=60, devices_min=1, devices_max=40)


@pytest.fixture
async def simulator():
    async with run_simulator(OPTIONS) as running:
        yield running


def poll_argv(simulator, tmp_path):
    ids = tmp_path / "ids.csv"
    simulator.catalog.write_ids(ids)
    return [
        sys.executable,
        "-m",
        "fota_poller",
        "poll",
        "--ids",
        str(ids),
        "--base-url",
        simulator.base_url,
        "--rate",
        "0",
        "--output",
        str(tmp_path / "out.jsonl"),
    ]


def environment():
    return {
        **os.environ,
        "THINGSPACE_BEARER_TOKEN": OPTIONS.bearer_token,
        "THINGSPACE_SESSION_TOKEN": OPTIONS.session_token,
    }


def run_with_terminal_stderr(argv):
    """Run argv with stderr on a pseudo-terminal; returns (exit code, what it drew)."""
    exit_code, drawn = run_on_a_terminal(argv, environment(), stdout=False)
    return exit_code, drawn.decode("utf-8", errors="replace")


def run_with_piped_stderr(argv):
    finished = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, env=environment(), check=False
    )
    return finished.returncode, finished.stderr.decode("utf-8", errors="replace")


def run_record(tmp_path):
    return msgspec.json.decode((tmp_path / "out.jsonl").read_bytes().splitlines()[-1])


async def test_progress_bar_is_drawn_when_stderr_is_a_terminal(simulator, tmp_path):
    argv = poll_argv(simulator, tmp_path)

    exit_code, drawn = await anyio.to_thread.run_sync(run_with_terminal_stderr, argv)

    assert exit_code == 0
    run = run_record(tmp_path)
    assert "\r" in drawn
    assert "campaigns/s" in drawn
    # The final state: every campaign done of the known total, with devices and failures.
    assert "100%" in drawn
    assert f"{OPTIONS.campaigns}/{OPTIONS.campaigns}" in drawn
    assert f"devices={run['devices_total']}" in drawn
    assert "failed=0" in drawn
    # Log lines are written on a line of their own, never after the bar's text.
    segments = re.split(r"[\r\n]+", drawn)
    logged = [segment for segment in segments if "run.started" in segment]
    assert len(logged) == 1
    assert "campaigns/s" not in logged[0]
    assert "run.finished" in drawn


async def test_no_progress_bar_when_stderr_is_a_pipe(simulator, tmp_path):
    argv = poll_argv(simulator, tmp_path)

    exit_code, stderr = await anyio.to_thread.run_sync(run_with_piped_stderr, argv)

    assert exit_code == 0
    assert run_record(tmp_path)["campaigns_ok"] == OPTIONS.campaigns
    assert "run.finished" in stderr
    assert "\r" not in stderr
    assert "campaigns/s" not in stderr
    assert "%|" not in stderr
    assert "devices=" not in stderr
