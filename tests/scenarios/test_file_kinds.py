"""Issue 18, files are what they claim to be: the real CLI in a subprocess, a simulator on loopback.

The lock file, the metrics file, the output and the state database given as a symbolic link,
a FIFO, a device, a directory or a socket: exit 2, one line naming the path and what it is,
no traceback, no request (not even a token request), and whatever was there left as it was.
Next to them, the good nights: a lock file left by an earlier run is reused.
"""

import asyncio
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import assert_calm, credentials_environ

from fota_poller.model.records import CampaignRecord
from fota_poller.regular_files import hold_lock
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.testing import read_records

SMALL = SimulatorOptions(campaigns=5, devices_min=1, devices_max=2)
KNOWN = b"a file that is not fota-poller's\x00\xff\n"
DEV_NULL = Path("/dev/null")
SAFETY_NET_S = 30  # only for a regression that hangs: a run refused at start takes about 1 s


class Run(NamedTuple):
    code: int
    pid: int
    stdout: bytes
    stderr: str
    reached: int  # requests of any kind the simulator saw: API, token, login


async def run_cli_against_simulator(tmp_path, *args, env=None):
    """`fota-poller ARGS --base-url SIM` (poll gets `--ids`) with credentials that need a token
    request and a login, so a refusal that comes too late shows in `reached`."""
    async with run_simulator(SMALL) as simulator:
        command = [sys.executable, "-m", "fota_poller", *args, "--base-url", simulator.base_url]
        if args[0] == "poll":
            ids = tmp_path / "ids.txt"
            simulator.catalog.write_ids(ids)
            command += ["--ids", str(ids)]
        process = await asyncio.create_subprocess_exec(
            *command,
            env=credentials_environ(SMALL.auth) if env is None else env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), SAFETY_NET_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail(f"fota-poller {' '.join(args)} hung")
        auth = simulator.auth.stats
        reached = simulator.stats.requests_total + auth.token_requests + auth.login_requests
    return Run(process.returncode, process.pid, stdout, stderr.decode(), reached)


def assert_refused(run: Run, path, kind: str) -> None:
    assert run.code == 2, run.stderr
    assert_calm(run.stderr)
    assert run.stderr.count("\n") == 1, run.stderr
    assert str(path) in run.stderr
    assert kind in run.stderr
    assert run.reached == 0
    assert run.stdout == b""


def dev_null() -> os.stat_result:
    return DEV_NULL.stat()


def names_besides_the_ids(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "ids.txt")


# -- what may be found under a name, and how to tell it was left alone ------------------------


class Planted(NamedTuple):
    kind: str  # as the refusal names it
    unchanged: Callable[[], bool]


def link_to_a_file(path: Path) -> Planted:
    target = path.with_name(path.name + ".target")
    target.write_bytes(KNOWN)
    path.symlink_to(target)
    return Planted("symbolic link", lambda: path.is_symlink() and target.read_bytes() == KNOWN)


def dangling_link(path: Path) -> Planted:
    # O_CREAT through a link to nothing would create the file it names.
    target = path.with_name(path.name + ".target")
    path.symlink_to(target)
    return Planted("symbolic link", lambda: path.is_symlink() and not target.exists())


def fifo(path: Path) -> Planted:
    os.mkfifo(path)
    return Planted("FIFO", lambda: stat.S_ISFIFO(path.lstat().st_mode))


def directory(path: Path) -> Planted:
    path.mkdir()
    return Planted("directory", lambda: path.is_dir() and not any(path.iterdir()))


def device(path: Path) -> Planted:
    """A node like /dev/null (1, 3) under the name; root may make one, others are skipped."""
    null = DEV_NULL.stat().st_rdev
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, null)
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    return Planted(
        "character device",
        lambda: stat.S_ISCHR(path.lstat().st_mode) and path.lstat().st_rdev == null,
    )


def unix_socket(path: Path) -> Planted:
    # A socket's path is limited to 108 bytes: bound from a short folder, then moved.
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(f"{short}/s")
        listener.close()
        Path(f"{short}/s").rename(path)
    return Planted("socket", lambda: stat.S_ISSOCK(path.lstat().st_mode))


ANYTHING_BUT_A_FILE = [link_to_a_file, dangling_link, fifo, directory, device, unix_socket]


# -- the lock file ----------------------------------------------------------------------------


@pytest.mark.parametrize("plant", ANYTHING_BUT_A_FILE, ids=lambda plant: plant.__name__)
async def test_a_lock_file_that_is_not_a_regular_file_is_refused_before_any_request(
    tmp_path, plant
):
    lock = tmp_path / "fota-poller.lock"
    planted = plant(lock)

    run = await run_cli_against_simulator(tmp_path, "poll", "--lock-file", str(lock))

    assert_refused(run, lock, planted.kind)
    assert planted.unchanged()


async def test_the_lock_file_dev_null_is_refused_and_left_a_device(tmp_path):
    before = dev_null()

    run = await run_cli_against_simulator(tmp_path, "poll", "--lock-file", "/dev/null")

    assert_refused(run, "/dev/null", "character device")
    after = dev_null()
    assert stat.S_ISCHR(after.st_mode)
    assert after.st_rdev == before.st_rdev


async def test_a_link_in_place_of_the_state_lock_is_refused(tmp_path):
    state = tmp_path / "state.db"
    planted = link_to_a_file(Path(f"{state}.lock"))

    run = await run_cli_against_simulator(tmp_path, "poll", "--state", str(state))

    assert_refused(run, f"{state}.lock", planted.kind)
    assert planted.unchanged()
    assert not state.exists()


async def test_a_lock_file_left_by_an_earlier_run_is_reused_and_holds_our_pid(tmp_path):
    lock = tmp_path / "fota-poller.lock"
    lock.write_bytes(b"4242424242\nand more than a pid: an earlier version's leftovers\n")

    run = await run_cli_against_simulator(tmp_path, "poll", "--lock-file", str(lock))

    assert run.code == 0, run.stderr
    records = read_records(run.stdout)
    assert len([r for r in records if isinstance(r, CampaignRecord)]) == SMALL.campaigns
    assert lock.read_bytes() == f"{run.pid}\n".encode()


async def test_a_run_refused_by_the_lock_leaves_the_holders_pid(tmp_path):
    lock = tmp_path / "fota-poller.lock"
    with hold_lock(str(lock)):
        run = await run_cli_against_simulator(tmp_path, "poll", "--lock-file", str(lock))
        held = lock.read_bytes()

    assert run.code == 75
    assert f"(pid {os.getpid()})" in run.stderr
    assert held == f"{os.getpid()}\n".encode()
    assert run.reached == 0


# -- the metrics file -------------------------------------------------------------------------


@pytest.mark.parametrize("plant", [link_to_a_file, fifo, device], ids=lambda p: p.__name__)
async def test_a_metrics_file_that_is_not_a_regular_file_is_refused_and_left_as_it_was(
    tmp_path, plant
):
    metrics = tmp_path / "fota_poller.prom"
    planted = plant(metrics)
    before = names_besides_the_ids(tmp_path)

    run = await run_cli_against_simulator(tmp_path, "poll", "--metrics-file", str(metrics))

    assert_refused(run, metrics, planted.kind)
    assert planted.unchanged()
    assert names_besides_the_ids(tmp_path) == before  # no temporary file left either


async def test_a_fifo_metrics_file_does_not_hang_a_run_refused_for_its_credentials(tmp_path):
    # The refusal's own metrics write (refusal_metrics) must not wait on the FIFO either.
    metrics = tmp_path / "fota_poller.prom"
    os.mkfifo(metrics)
    no_credentials = {k: v for k, v in os.environ.items() if not k.startswith("THINGSPACE_")}

    run = await run_cli_against_simulator(
        tmp_path, "poll", "--metrics-file", str(metrics), env=no_credentials
    )

    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert stat.S_ISFIFO(metrics.lstat().st_mode)
    assert run.reached == 0


# -- the output and the state database --------------------------------------------------------


@pytest.mark.parametrize("plant", [link_to_a_file, fifo, device], ids=lambda p: p.__name__)
async def test_an_output_that_is_not_a_regular_file_is_refused_and_left_as_it_was(tmp_path, plant):
    output = tmp_path / "latest.jsonl"
    planted = plant(output)
    before = names_besides_the_ids(tmp_path)

    run = await run_cli_against_simulator(tmp_path, "poll", "--output", str(output))

    assert_refused(run, output, planted.kind)
    assert planted.unchanged()
    assert names_besides_the_ids(tmp_path) == before  # no temporary file left either


@pytest.mark.parametrize("plant", [link_to_a_file, fifo], ids=lambda p: p.__name__)
async def test_a_state_database_that_is_not_a_regular_file_is_refused(tmp_path, plant):
    state = tmp_path / "state.db"
    planted = plant(state)

    run = await run_cli_against_simulator(tmp_path, "poll", "--state", str(state))

    assert_refused(run, state, planted.kind)
    assert planted.unchanged()
    assert not state.with_name("state.db-wal").exists()


async def test_a_link_in_place_of_the_state_wal_is_refused(tmp_path):
    # SQLite opens the -wal by name: through a link it would truncate the file linked to.
    state = tmp_path / "state.db"
    wal = state.with_name("state.db-wal")
    planted = link_to_a_file(wal)

    run = await run_cli_against_simulator(tmp_path, "poll", "--state", str(state))

    assert_refused(run, wal, planted.kind)
    assert planted.unchanged()
    assert not state.exists()


# -- check says the same ----------------------------------------------------------------------


async def test_check_refuses_the_files_a_run_would_refuse_before_any_request(tmp_path):
    lock = tmp_path / "fota-poller.lock"
    planted = link_to_a_file(lock)
    config = tmp_path / "config.toml"
    config.write_text(f'[poll]\nlock_file = "{lock}"\n', encoding="utf-8")

    run = await run_cli_against_simulator(tmp_path, "check", "--config", str(config))

    assert run.code == 2
    # The step lines; the config's own lines under `ok config` are indented.
    lines = [line for line in run.stdout.decode().splitlines() if not line.startswith(" ")]
    assert lines[0].startswith("ok   config")
    assert lines[1].startswith(f"FAIL files       lock file {lock}: it is a symbolic link")
    assert len(lines) == 2
    assert run.reached == 0
    assert planted.unchanged()


async def test_check_passes_files_that_are_regular_or_absent(tmp_path):
    lock = tmp_path / "fota-poller.lock"
    lock.write_bytes(b"4242424242\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[poll]\nlock_file = "{lock}"\n[output]\nmetrics_file = "{tmp_path / "m.prom"}"\n',
        encoding="utf-8",
    )

    run = await run_cli_against_simulator(tmp_path, "check", "--config", str(config))

    assert run.code == 0, run.stdout
    assert "ok   files       lock file, metrics file" in run.stdout.decode().splitlines()
    assert lock.read_bytes() == b"4242424242\n"  # check looks, it takes no lock
