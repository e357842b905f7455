"""Issue 18: logging never ends a run, and standard streams closed at start, end to end.

The real CLI in a subprocess against the simulator on loopback. stderr closed, full, a pipe
whose reader quits mid-run, a full non-blocking pipe: every campaign is still in the output
and the state, the exit code is the one the night earns, and the metrics file counts the
lines lost. stdin or stdout closed at start (`<&-`, `>&-`): the documented exit codes, never
uvloop's abort (134). Each bad night sits next to a good one.
"""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from helpers import assert_calm, refusal, token_environ

from fota_poller.model.records import CampaignRecord, RunRecord
from fota_poller.testing import read_records

DROPPED = "fota_poller_last_run_log_lines_dropped"
EXIT_CODE = "fota_poller_last_run_exit_code"


def poller(*args, shell=""):
    """`python -m fota_poller ARGS`, through `sh -c 'exec ... SHELL'` when fds are to be closed."""
    command = [sys.executable, "-m", "fota_poller", *args]
    return ["sh", "-c", f'exec "$@" {shell}', "sh", *command] if shell else command


def read_metric(path, name):
    for line in path.read_text().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in {path}")


class Night:
    """One `poll` of the simulator's campaigns into files under `folder`."""

    def __init__(self, simulator, folder):
        folder.mkdir()
        self.simulator = simulator
        self.ids = folder / "ids.txt"
        simulator.catalog.write_ids(self.ids)
        self.output = folder / "out.jsonl"
        self.metrics = folder / "fota.prom"
        self.state = folder / "state.db"

    def flags(self, *, ids=None, output=True):
        flags = ["poll", "--ids", ids or str(self.ids), "--base-url", self.simulator.base_url]
        flags += ["--rate", "0", "--metrics-file", str(self.metrics), "--state", str(self.state)]
        return flags + (["--output", str(self.output)] if output else [])

    async def run(
        self,
        *flags,
        ids=None,
        output=True,
        shell="",
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ):
        process = await asyncio.create_subprocess_exec(
            *poller(*self.flags(ids=ids, output=output), *flags, shell=shell),
            env=token_environ(self.simulator.options),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        stdout, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode, stdout, (err or b"").decode()

    def assert_complete(self, exit_code=0):
        """Every campaign in the output, the run line last, the state holding each one."""
        records = read_records(self.output.read_bytes())
        polled = {r.upgrade_id for r in records if isinstance(r, CampaignRecord)}
        assert polled == {upgrade_id for _, upgrade_id in self.simulator.catalog.ids()}
        assert isinstance(records[-1], RunRecord)
        assert (records[-1].complete, records[-1].exit_code) == (True, exit_code)
        info = subprocess.run(
            poller("state", "info", "--state", str(self.state), "--format", "json"),
            capture_output=True,
            check=True,
        )
        assert json.loads(info.stdout)["campaigns"] == len(polled)
        assert read_metric(self.metrics, EXIT_CODE) == exit_code


def assert_quiet(stderr):
    assert_calm(stderr)
    assert "Exception ignored" not in stderr
    assert "Assertion" not in stderr


# -- stderr that cannot be written -------------------------------------------------------------


async def test_a_good_night_drops_no_log_line(small_simulator, tmp_path):
    night = Night(small_simulator, tmp_path / "night")
    code, _, stderr = await night.run("--log-level", "debug")
    assert code == 0, stderr
    assert_quiet(stderr)
    night.assert_complete()
    assert read_metric(night.metrics, DROPPED) == 0


FULL = pytest.param(
    "2>/dev/full",
    id="full",
    marks=pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here"),
)


@pytest.mark.parametrize("shell", [FULL, pytest.param("2>&-", id="closed")])
async def test_a_stderr_that_takes_no_line_loses_the_lines_not_the_night(
    small_simulator, tmp_path, shell
):
    night = Night(small_simulator, tmp_path / "night")
    code, stdout, _ = await night.run("--log-level", "debug", shell=shell)
    assert code == 0
    assert stdout == b""
    night.assert_complete()
    assert read_metric(night.metrics, DROPPED) > 0


async def test_a_full_non_blocking_log_pipe_loses_lines_not_the_night(small_simulator, tmp_path):
    # A pipe nobody reads, filled to the brim and set non-blocking: every write is EAGAIN.
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)
        filled = 0
        while True:
            try:
                filled += os.write(write_end, b"x" * 4096)
            except BlockingIOError:
                break
        night = Night(small_simulator, tmp_path / "night")
        code, _, _ = await night.run("--log-level", "debug", stderr=write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        left = pipe.read()
    assert code == 0
    assert len(left) == filled  # nothing of the run squeezed in, not half a line
    night.assert_complete()
    assert read_metric(night.metrics, DROPPED) > 0


async def test_a_log_reader_that_quits_mid_run_loses_the_lines_after_it(small_simulator, tmp_path):
    # The night: failures logged (by observe/failure_log.py) after the reader of
    # stderr has gone. The ids come on stdin only once the reader is gone, so every line of
    # the polling meets the broken pipe.
    night = Night(small_simulator, tmp_path / "night")
    ids = night.ids.read_bytes() + b"0000123456-00001,00000000-0000-4000-8000-000000000000\n"
    control = Night(small_simulator, tmp_path / "control")
    control.ids.write_bytes(ids)
    control_code, _, control_stderr = await control.run("--log-level", "debug")
    assert control_code == 1  # the unknown campaign fails: the night's own verdict
    assert "campaign.failed" in control_stderr

    read_end, write_end = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            *poller(*night.flags(ids="-"), "--log-level", "debug"),
            env=token_environ(small_simulator.options),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=write_end,
        )
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as log_reader:
        first = await anyio.to_thread.run_sync(log_reader.readline)
    assert first.startswith(b"{")  # the reader quits after the first line
    process.stdin.write(ids)
    process.stdin.close()
    code = await asyncio.wait_for(process.wait(), 60)

    assert code == control_code
    records = read_records(night.output.read_bytes())
    failed = [r for r in records if isinstance(r, CampaignRecord) and r.outcome == "failed"]
    assert len(failed) == 1
    assert isinstance(records[-1], RunRecord)
    assert records[-1].complete
    assert (
        len([r for r in records if isinstance(r, CampaignRecord)])
        == len(list(small_simulator.catalog.ids())) + 1
    )
    assert read_metric(night.metrics, EXIT_CODE) == control_code
    assert read_metric(night.metrics, DROPPED) >= 2  # campaign.failed, run.failures, ...


def test_usage_error_on_a_broken_stderr_keeps_its_exit_code(tmp_path):
    # argparse writes through Python's buffered stderr; the interpreter's last flush of it
    # must not turn exit 2 into 120 with "Exception ignored".
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            poller("poll", "--no-such-flag"), stderr=write_end, stdout=subprocess.PIPE, check=False
        )
    finally:
        os.close(write_end)
    assert done.returncode == 2


@pytest.mark.parametrize("command", [["--version"], ["schema"], ["completion", "bash"]])
def test_a_command_whose_answer_nobody_reads_exits_141_without_a_traceback(command):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader quit before the answer
    try:
        done = subprocess.run(
            poller(*command), stdout=write_end, stderr=subprocess.PIPE, check=False
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, b"")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize(
    "command",
    [["schema"], ["completion", "bash"], ["summary", "NIGHT"], ["check", "--base-url", "URL"]],
)
def test_a_command_whose_answer_meets_a_full_disk_says_so_in_one_line_exit_74(command, tmp_path):
    night = tmp_path / "night.jsonl"
    night.write_text('{"record":"run","exit_code":0}\n', encoding="utf-8")
    # check's first line (its config step) is the write that fails: nothing is asked.
    args = [{"NIGHT": str(night), "URL": "http://127.0.0.1:9"}.get(arg, arg) for arg in command]
    with Path("/dev/full").open("wb") as full:
        done = subprocess.run(poller(*args), stdout=full, stderr=subprocess.PIPE, check=False)
    assert done.returncode == 74, done.stderr
    assert b"Traceback" not in done.stderr
    assert done.stderr.decode().splitlines()[-1] == (
        "fota-poller: writing stdout: No space left on device"
    )


# -- stdin and stdout closed at start ---------------------------------------------------------


async def test_a_closed_stdout_without_output_is_exit_141_before_any_request(
    small_simulator, tmp_path
):
    night = Night(small_simulator, tmp_path / "night")
    code, _, stderr = await night.run(output=False, shell=">&-")
    assert code == 141, stderr
    assert_quiet(stderr)
    last = refusal(stderr.splitlines()[-1])
    assert last == "fota-poller: cannot write output stdout: stdout is closed"
    assert small_simulator.stats.requests_total == 0
    assert read_metric(night.metrics, EXIT_CODE) == 141


async def test_a_closed_stdout_with_an_output_file_is_a_good_night(small_simulator, tmp_path):
    night = Night(small_simulator, tmp_path / "night")
    code, _, stderr = await night.run(shell=">&-")
    assert code == 0, stderr
    assert_quiet(stderr)
    night.assert_complete()
    assert read_metric(night.metrics, DROPPED) == 0


async def test_a_closed_stdin_for_ids_from_stdin_is_exit_2(small_simulator, tmp_path):
    night = Night(small_simulator, tmp_path / "night")
    code, _, stderr = await night.run(ids="-", shell="<&-")
    assert code == 2, stderr
    assert_quiet(stderr)
    assert refusal(stderr.splitlines()[-1]) == "fota-poller: cannot read id list -: stdin is closed"
    assert small_simulator.stats.requests_total == 0
    assert read_metric(night.metrics, EXIT_CODE) == 2


async def test_every_standard_stream_closed_is_a_good_night_with_an_id_file(
    small_simulator, tmp_path
):
    # uvloop aborted here (exit 134): its sockets took the numbers 0, 1 and 2.
    night = Night(small_simulator, tmp_path / "night")
    code, _, _ = await night.run(shell="<&- >&- 2>&-")
    assert code == 0
    night.assert_complete()
    assert read_metric(night.metrics, DROPPED) > 0


def test_summary_of_a_closed_stdin_is_exit_2():
    done = subprocess.run(poller("summary", "-", shell="<&-"), capture_output=True, check=False)
    assert done.returncode == 2
    lines = done.stderr.decode().splitlines()
    assert lines == ["fota-poller: summary: cannot read -: stdin is closed"]
