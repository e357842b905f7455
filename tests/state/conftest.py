"""Fixtures of the state database's tests: a database built through `StateStore`, a file made
read-only for root too, another process holding a write transaction, and a file's snapshot."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fota_poller.state.store import CampaignUpdate, StateStore, to_ms

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
ACCOUNT = "0000123456-00001"
OTHER_ACCOUNT = "0000654321-00001"
UPGRADE = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"
OTHER_UPGRADE = "0f5b3e1c-6a8d-4d5e-9b7c-2c1d3e4f5a6b"

# A device as the tests write it: (device id, status, result reason, status_since).
Device = tuple[str, str | None, str | None, datetime]


def _write_campaign(
    path: Path, account: str, upgrade: str, devices: list[Device], run_id: str = "run-1"
) -> None:
    """Commit one campaign's devices through `StateStore`, as a poll run does."""
    with StateStore.open(path) as store:
        store.start_run(run_id, "2026-11-26T02:00:00.000Z")
        prior = store.previous(account, upgrade)
        rows = [
            (device, status, reason, to_ms(since), to_ms(since - timedelta(days=1)))
            for device, status, reason, since in devices
        ]
        update = CampaignUpdate(
            prior.key, account, upgrade, "UpgradeInProgress", len(rows), "2026-11-26T02:00:00Z",
            rows, [],
        )  # fmt: skip
        store.stage(update)
        store.commit("2026-11-26T02:05:00.000Z")


@pytest.fixture
def write_campaign() -> Callable[..., None]:
    """`write_campaign(path, account, upgrade, devices, run_id="run-1")`, committed."""
    return _write_campaign


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A state database of two campaigns (one per account) and 300 devices over many pages."""
    path = tmp_path / "state.db"
    since = NOW - timedelta(days=3)
    pending = [(f"{n:015d}", "RequestPending", None, since) for n in range(200)]
    accepted = [(f"9{n:014d}", "Device Accepted", "ok", since) for n in range(100)]
    _write_campaign(path, ACCOUNT, UPGRADE, pending)
    _write_campaign(path, OTHER_ACCOUNT, UPGRADE, accepted, "run-2")
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
    "newer schema": "schema version 2, newer than this fota-poller understands (1)",
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
            "PRAGMA user_version = 2" if kind == "newer schema" else "DROP TABLE runs"
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
