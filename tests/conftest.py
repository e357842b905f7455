"""Shared fixtures: a clock moved by hand, a simulator on loopback, and the state database's
(a database built through `StateStore`, a file made read-only for root too, another process
holding a write transaction, a file's snapshot, every way a state file is spoiled).
Helpers: helpers.py."""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from fota_poller.run.stop import STOP_SIGNALS
from fota_poller.simulator import RunningSimulator, SimulatorOptions, run_simulator
from fota_poller.state.schema import SCHEMA_VERSION

# Before the import, so that a failed assert in a helper shows its values as in a test.
pytest.register_assert_rewrite("helpers")

from helpers import (  # noqa: E402
    ACCOUNT,
    OTHER_ACCOUNT,
    UPGRADE,
    FakeClock,
    SimulatorFactory,
    write_campaign,
)

# For the whole session, before any test module is read: an environment a module captures
# when it is read (`TOKENS = token_environ(...)`, a parametrize list) must not send a child
# process's failed-login memory to the user's ~/.local/state. Each test still gets its own
# folder (`own_login_memory`).
_SESSION_STATE = tempfile.mkdtemp(prefix="fota-poller-tests-state-")
atexit.register(shutil.rmtree, _SESSION_STATE, ignore_errors=True)
os.environ["XDG_STATE_HOME"] = _SESSION_STATE
os.environ.pop("STATE_DIRECTORY", None)


@pytest.fixture(autouse=True)
def own_login_memory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test its own failed-login memory folder: a wrong password in one test (or in the
    user's own runs) must not bar another test's logins, nor reach ~/.local/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


@pytest.fixture(autouse=True)
def restore_stop_signals() -> Iterator[None]:
    """A run in this process ignores SIGINT, SIGTERM and SIGHUP once over; later tests must not."""
    saved = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator() -> SimulatorFactory:
    """`async with simulator(campaigns=..) as sim:` starts a simulator on a free loopback port."""

    def start(**options: object) -> AbstractAsyncContextManager[RunningSimulator]:
        return run_simulator(SimulatorOptions(**options))  # type: ignore[arg-type]

    return start


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Every test starts with structlog's defaults, and leaves them.

    main() and the commands run in-process point structlog at this test's captured stderr,
    at their own level: a later test must not log there, nor miss its own events
    (`structlog.testing.capture_logs` keeps the level filter of whoever configured last).
    """
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
async def slow_simulator() -> AsyncIterator[RunningSimulator]:
    """2,000 campaigns answered after 5 ms each: a CLI run lasts long enough to interrupt."""
    options = SimulatorOptions(campaigns=2000, devices_min=1, devices_max=5, latency_ms=5)
    async with run_simulator(options) as simulator:
        yield simulator


@pytest.fixture
async def small_simulator(simulator: SimulatorFactory) -> AsyncIterator[RunningSimulator]:
    async with simulator(campaigns=30, devices_min=1, devices_max=50, seed=7) as sim:
        yield sim


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A state database of two campaigns (one per account) and 300 devices over many pages."""
    path = tmp_path / "state.db"
    since = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # three days before the runs
    pending = [(f"{n:015d}", "RequestPending", None, since) for n in range(200)]
    accepted = [(f"9{n:014d}", "Device Accepted", "ok", since) for n in range(100)]
    write_campaign(path, ACCOUNT, UPGRADE, pending)
    write_campaign(path, OTHER_ACCOUNT, UPGRADE, accepted, "run-2")
    return path


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A file's bytes (by digest) and mtime, and the names in its folder: equal, untouched."""

    size: int | None
    sha256: str | None
    mtime_ns: int | None
    names: list[str]


def _snapshot(path: Path) -> Snapshot:
    data = path.read_bytes() if path.exists() else None
    return Snapshot(
        size=None if data is None else len(data),
        sha256=None if data is None else hashlib.sha256(data).hexdigest(),
        mtime_ns=path.stat().st_mtime_ns if path.exists() else None,
        names=sorted(entry.name for entry in path.parent.iterdir()),
    )


@pytest.fixture
def snapshot() -> Callable[[Path], Snapshot]:
    """`snapshot(path)`: what must not change when a file is refused or only read."""
    return _snapshot


def _run(*command: str) -> bool:
    if shutil.which(command[0]) is None:
        return False
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture
def make_read_only() -> Iterator[Callable[[Path], str]]:
    """`make_read_only(path)`: a file or folder read-only for root too; gives how.

    Mode bits do not stop root (the tests run as root): a read-only bind mount of the path
    onto itself does, as would `chattr +i` (the fallback); with neither the test is skipped.
    """
    undo: list[tuple[str, ...]] = []

    def make(path: Path) -> str:
        if _run("mount", "--bind", str(path), str(path)):
            undo.append(("umount", str(path)))
            if _run("mount", "-o", "remount,ro,bind", str(path)):
                return "read-only bind mount"
        if _run("chattr", "+i", str(path)):
            undo.append(("chattr", "-i", str(path)))
            return "chattr +i"
        pytest.skip("neither a read-only bind mount nor chattr +i works here: as root, "
                    "nothing else makes a file read-only")  # fmt: skip

    yield make
    for command in reversed(undo):
        _run(*command)


# Holds a write transaction on the database named in argv[1] until its stdin closes.
_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
connection.close()
"""


@pytest.fixture
def write_transaction() -> Iterator[Callable[[Path], None]]:
    """`write_transaction(path)`: another process holds `BEGIN IMMEDIATE` on it until the end."""
    holders: list[subprocess.Popen[bytes]] = []

    def hold(path: Path) -> None:
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        holders.append(holder)
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"holding\n"  # it holds the transaction now

    yield hold
    for holder in holders:
        holder.communicate(timeout=10)


def _foreign(path: Path, application_id: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    connection.executemany("INSERT INTO notes (text) VALUES (?)", [("x" * 500,)] * 50)
    connection.execute(f"PRAGMA application_id = {application_id}")
    connection.close()


# Every way a state file can be unusable, each refused with exit 2, and what the error says.
SPOILED = {
    "newer schema": (
        f"schema version {SCHEMA_VERSION + 1}, newer than this fota-poller understands "
        f"({SCHEMA_VERSION})"
    ),
    "random bytes": "is not an SQLite database",
    "a few bytes": "is not an SQLite database",
    "cut in half": "is cut short",
    "damaged page": "is corrupt",
    "another program's": "is not a fota-poller state database",
    "another program's, no id": "is not a fota-poller state database",
    "a table dropped": "lacks its table runs",
}


@pytest.fixture(params=list(SPOILED))
def spoiled(request: pytest.FixtureRequest, database: Path) -> tuple[Path, str]:
    """A state file spoiled in each of the ways of `SPOILED`, and what its refusal says."""
    kind = request.param
    data = database.read_bytes()
    page = 4096
    if kind in {"newer schema", "a table dropped"}:
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute(
            f"PRAGMA user_version = {SCHEMA_VERSION + 1}"
            if kind == "newer schema"
            else "DROP TABLE runs"
        )
        connection.close()
    elif kind == "random bytes":
        database.write_bytes(random.Random(11).randbytes(len(data)))
    elif kind == "a few bytes":
        database.write_bytes(b"SQLite")
    elif kind == "cut in half":
        database.write_bytes(data[: len(data) // 2])
    elif kind == "damaged page":  # the last page: a leaf of the devices' table
        database.write_bytes(data[:-page] + random.Random(5).randbytes(page))
    else:
        database.unlink()
        _foreign(database, 0x12345678 if kind == "another program's" else 0)
    return database, SPOILED[kind]
