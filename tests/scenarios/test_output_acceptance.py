"""Issue 9's output points, end to end: the real CLI in a subprocess, the simulator on loopback.

A full disk, a directory for --output, a SIGKILL, a reader that quits, and line separators
from the server. Each good night sits next to its bad one.
"""

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys

import pytest
from helpers import Tripwire, credentials_environ, parse_output, token_environ

from fota_poller.model.records import DeviceRecord, RunRecord
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions
from fota_poller.testing import read_records

DISK_BYTES = 1024 * 1024


class SmallDisk:
    """A 1 MB filesystem for the output: a real tmpfs where the OS lets the test mount one,
    else a 1 MB file size limit (RLIMIT_FSIZE) on the poller, so writes past it fail (EFBIG)."""

    def __init__(self, folder, mounted):
        self.folder = folder
        self.mounted = mounted
        self.roomy = False

    def file_size_limit(self, previous_bytes):
        """The limit for the poller's process: the room left next to the previous file."""
        return None if self.mounted or self.roomy else DISK_BYTES - previous_bytes

    def make_room(self):
        if self.mounted:
            remount = ["mount", "-o", "remount,size=16m", str(self.folder)]
            subprocess.run(remount, check=True, capture_output=True)
        self.roomy = True

    def make_read_only(self):
        remount = ["mount", "-o", "remount,ro", str(self.folder)]
        subprocess.run(remount, check=True, capture_output=True)

    def error_text(self):
        return "No space left on device" if self.mounted else "File too large"


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)]
        mounted = subprocess.run(mount, capture_output=True, check=False).returncode == 0
    except OSError:  # no mount command
        mounted = False
    try:
        yield SmallDisk(folder, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def poller_command(*args, file_size_limit=None, without_o_tmpfile=False):
    """`fota-poller ARGS` as `python -c`, optionally with a file size limit or no O_TMPFILE."""
    setup = []
    if file_size_limit is not None:
        # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG.
        limit = (file_size_limit, file_size_limit)
        setup.append(f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, {limit})")
    if without_o_tmpfile:  # as on an OS or a filesystem without unnamed temporary files
        setup.append("import os; del os.O_TMPFILE")
    setup.append("import sys; from fota_poller.cli import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-c", "\n".join(setup), *args]


async def start_poller(simulator, ids, *flags, stdout=asyncio.subprocess.PIPE, **setup):
    command = poller_command(
        "poll", "--ids", str(ids), "--base-url", simulator.base_url, "--rate", "0", *flags,
        **setup,
    )  # fmt: skip
    return await asyncio.create_subprocess_exec(
        *command,
        env=token_environ(simulator.options),
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def poll(simulator, ids, *flags, **setup):
    process = await start_poller(simulator, ids, *flags, **setup)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, stdout, stderr.decode()


def read_metric(path, name):
    for line in path.read_text().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in {path}")


def yesterdays_file(path, size):
    """A previous output of `size` bytes that compresses to nothing on no filesystem."""
    path.write_bytes(os.urandom(size // 2).hex().encode())
    return path.read_bytes()


# -- A full disk ------------------------------------------------------------------------------


async def full_disk_night(small_disk, tmp_path, options, previous_bytes):
    """Yesterday's file on the small disk, tonight's run, then a run on a disk with room."""
    output = small_disk.folder / "latest.jsonl"
    yesterday = yesterdays_file(output, previous_bytes)
    metrics = tmp_path / "fota.prom"
    ids = tmp_path / "ids.txt"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(ids)
        flags = ("--output", str(output), "--metrics-file", str(metrics), "--log-level", "warning")
        limit = small_disk.file_size_limit(len(yesterday))
        code, _, stderr = await poll(simulator, ids, *flags, file_size_limit=limit)
        requests = simulator.stats.requests_total
        left = sorted(p.name for p in small_disk.folder.iterdir())
        kept = output.read_bytes()
        exit_code_metric = read_metric(metrics, "fota_poller_last_run_exit_code")

        small_disk.make_room()
        next_code, _, _ = await poll(simulator, ids, *flags)
    night = {"code": code, "stderr": stderr, "requests": requests, "left": left, "kept": kept}
    return night | {
        "yesterday": yesterday,
        "exit_code_metric": exit_code_metric,
        "next_code": next_code,
        "next": read_records(output.read_bytes()),
    }


def assert_output_failed_cleanly(night, small_disk, output):
    assert night["code"] == 74
    assert night["kept"] == night["yesterday"]
    assert night["left"] == ["latest.jsonl"]
    lines = night["stderr"].splitlines()
    assert len(lines) == 1, night["stderr"]
    assert str(output) in lines[0]
    assert small_disk.error_text() in lines[0]
    assert "Traceback" not in night["stderr"]
    assert night["exit_code_metric"] == 74
    # The next run on a disk with room succeeds.
    assert night["next_code"] == 0
    assert isinstance(night["next"][-1], RunRecord)
    assert night["next"][-1].complete


async def test_a_disk_that_fills_mid_run_stops_the_run_and_keeps_yesterdays_file(
    small_disk, tmp_path
):
    # About 3 MB of records against 700 KB free: the first flush of the write buffer fails.
    options = SimulatorOptions(campaigns=200, devices_min=20, devices_max=40, seed=3)

    night = await full_disk_night(small_disk, tmp_path, options, previous_bytes=300_000)

    assert_output_failed_cleanly(night, small_disk, small_disk.folder / "latest.jsonl")
    assert night["requests"] < options.campaigns  # stopped at once, not at the end


async def test_a_disk_that_fills_at_commit_keeps_yesterdays_file_and_no_temporary(
    small_disk, tmp_path
):
    # About 740 KB of records, all held in the 1 MB write buffer until commit, against 400 KB
    # free.
    options = SimulatorOptions(campaigns=60, devices_min=20, devices_max=30, seed=3)

    night = await full_disk_night(small_disk, tmp_path, options, previous_bytes=600_000)

    assert_output_failed_cleanly(night, small_disk, small_disk.folder / "latest.jsonl")
    assert night["requests"] == options.campaigns  # every campaign polled: it failed at commit


async def test_a_run_that_fits_on_the_small_disk_replaces_yesterdays_file(small_disk, tmp_path):
    options = SimulatorOptions(campaigns=20, devices_min=1, devices_max=10, seed=3)
    output = small_disk.folder / "latest.jsonl"
    yesterday = yesterdays_file(output, 300_000)
    ids = tmp_path / "ids.txt"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(ids)
        limit = small_disk.file_size_limit(len(yesterday))
        code, _, stderr = await poll(
            simulator, ids, "--output", str(output), "--log-level", "warning",
            file_size_limit=limit,
        )  # fmt: skip

    assert code == 0, stderr
    assert stderr == ""
    assert read_records(output.read_bytes())[-1].complete
    assert sorted(p.name for p in small_disk.folder.iterdir()) == ["latest.jsonl"]


# -- --output naming a directory --------------------------------------------------------------


async def refused_before_any_request(tmp_path, output):
    """Run with credentials that need a token request and a login; what reached the server."""
    options = SimulatorOptions(campaigns=10, devices_min=1, devices_max=3)
    ids = tmp_path / "ids.txt"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(ids)
        environ = credentials_environ(options.auth)
        command = poller_command(
            "poll", "--ids", str(ids), "--base-url", simulator.base_url, "--output", str(output)
        )
        process = await asyncio.create_subprocess_exec(
            *command, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        auth_stats = simulator.auth.stats
    reached = (simulator.stats.requests_total, auth_stats.token_requests, auth_stats.login_requests)
    return process.returncode, stderr.decode(), reached


async def test_output_naming_a_directory_is_refused_before_any_request_or_login(tmp_path):
    folder = tmp_path / "latest.jsonl"
    folder.mkdir()

    code, stderr, reached = await refused_before_any_request(tmp_path, folder)

    assert code == 2
    assert stderr.count("\n") == 1
    assert "is a directory" in stderr
    assert reached == (0, 0, 0)
    assert list(folder.iterdir()) == []


async def test_output_in_a_missing_folder_is_refused_before_any_request(tmp_path):
    code, stderr, reached = await refused_before_any_request(tmp_path, tmp_path / "no" / "x.jsonl")

    assert code == 2
    assert stderr.count("\n") == 1
    assert "No such file or directory" in stderr
    assert reached == (0, 0, 0)


async def test_output_on_a_read_only_filesystem_is_refused_before_any_request(small_disk, tmp_path):
    if not small_disk.mounted:
        pytest.skip("no tmpfs to mount read-only here")
    small_disk.make_read_only()

    output = small_disk.folder / "latest.jsonl"
    code, stderr, reached = await refused_before_any_request(tmp_path, output)

    assert code == 2
    assert stderr.count("\n") == 1
    assert "Read-only file system" in stderr
    assert reached == (0, 0, 0)


# -- SIGKILL ----------------------------------------------------------------------------------


async def kill_mid_run(simulator, ids, output, **setup):
    mid_run = asyncio.Event()
    simulator.stats.request_starts = Tripwire(len(simulator.catalog) // 10, mid_run)
    process = await start_poller(simulator, ids, "--output", str(output), **setup)
    await asyncio.wait_for(mid_run.wait(), 30)
    process.kill()
    await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == -signal.SIGKILL


def has_unnamed_files(folder):
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY))
    except (AttributeError, OSError):
        return False
    return True


async def test_a_run_killed_mid_run_leaves_no_temporary_file(slow_simulator, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    if not has_unnamed_files(runs):
        pytest.skip("no O_TMPFILE here: the next test covers what the next run removes")
    ids = tmp_path / "ids.txt"
    slow_simulator.catalog.write_ids(ids)

    await kill_mid_run(slow_simulator, ids, runs / "2026-11-25.jsonl")

    assert list(runs.iterdir()) == []


async def test_without_unnamed_files_the_next_run_removes_what_a_killed_run_left(
    slow_simulator, tmp_path
):
    runs = tmp_path / "runs"
    runs.mkdir()
    ids = tmp_path / "ids.txt"
    slow_simulator.catalog.write_ids(ids)
    os.umask(previous_umask := os.umask(0o022))

    await kill_mid_run(slow_simulator, ids, runs / "2026-11-25.jsonl", without_o_tmpfile=True)
    left = [p.name for p in runs.iterdir()]
    # docs/operations.md's crontab writes a dated file a night: the next night's has another name.
    few_ids = tmp_path / "few-ids.txt"
    few_ids.write_text("".join(ids.read_text().splitlines(keepends=True)[:20]))
    try:
        os.umask(0o027)
        code, _, stderr = await poll(
            slow_simulator, few_ids, "--output", str(runs / "2026-11-26.jsonl"),
            without_o_tmpfile=True,
        )  # fmt: skip
    finally:
        os.umask(previous_umask)

    assert len(left) == 1
    assert left[0].startswith(".2026-11-25.jsonl.")
    assert code == 0, stderr
    assert sorted(p.name for p in runs.iterdir()) == ["2026-11-26.jsonl"]
    assert stat.S_IMODE((runs / "2026-11-26.jsonl").stat().st_mode) == 0o640


# -- A reader that quits ----------------------------------------------------------------------


async def test_a_reader_that_quits_ends_the_run_quietly_with_exit_141(slow_simulator, tmp_path):
    ids = tmp_path / "ids.txt"
    slow_simulator.catalog.write_ids(ids)
    metrics = tmp_path / "fota.prom"
    read_end, write_end = os.pipe()
    try:
        poller = await start_poller(
            slow_simulator, ids, "--metrics-file", str(metrics), stdout=write_end
        )
        head = await asyncio.create_subprocess_exec(
            "head", "-n", "1", stdin=read_end, stdout=asyncio.subprocess.PIPE
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    first_line, _ = await asyncio.wait_for(head.communicate(), 30)
    _, stderr = await asyncio.wait_for(poller.communicate(), 30)
    requests = slow_simulator.stats.requests_total

    lines = stderr.decode().splitlines()
    assert poller.returncode == 141
    assert len(lines) <= 3, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert requests < 2000
    assert isinstance(read_records(first_line)[0], DeviceRecord)
    finished = [json.loads(line) for line in lines if "run.finished" in line]
    assert [(f["complete"], f["exit_code"]) for f in finished] == [(False, 141)]
    assert read_metric(metrics, "fota_poller_last_run_exit_code") == 141


# -- Line separators --------------------------------------------------------------------------


async def test_line_separators_from_the_server_are_escaped_and_decode_to_the_same_status(
    tmp_path,
):
    options = SimulatorOptions(
        campaigns=5, devices_min=1, devices_max=5, faults=FaultOptions(mix=(("linesep", 1.0),))
    )
    output = tmp_path / "out.jsonl"
    ids = tmp_path / "ids.txt"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(ids)
        code, _, stderr = await poll(simulator, ids, "--output", str(output))

    data = output.read_bytes()
    text = data.decode()
    devices = parse_output(data).devices
    assert code == 0, stderr
    assert "\u2028" not in text
    assert "\u2029" not in text
    assert len(text.splitlines()) == data.count(b"\n")
    assert devices
    assert all(d.status.startswith("\u2028\u2029") for d in devices)
    assert b'"status":"\\u2028\\u2029' in data
