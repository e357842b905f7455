"""Issue 11, acceptance point 2: no transition lost, none invented, whatever kills a run.

The real CLI in a subprocess against the evolving simulator on loopback. A night-0 run
commits the state (once per module; each test copies its database). Then, on day 1, a run
is killed with SIGKILL at a chosen point (tests/state_crash_runner.py patches the package
from outside to kill itself there), or fails, or is cut short; then a normal run. Across the
two runs every transition since the last committed state is reported at least once with the
right previous status, none is invented, and the state ends equal to the simulator's truth.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from helpers import Tripwire, token_environ

from fota_poller.model.records import CampaignRecord, DeviceRecord, Record, RunRecord
from fota_poller.simulator import EvolveOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions
from fota_poller.testing import read_records

# 24 campaigns of 5-25 devices; a fifth of the devices move a day, about 2% leave and join.
OPTIONS = SimulatorOptions(
    campaigns=24, devices_min=5, devices_max=25, seed=11, evolve=EvolveOptions(seed=5, share=0.2)
)
RUNNER = Path(__file__).resolve().parent.parent / "state_crash_runner.py"

Campaign = tuple[str, str]  # (account name, upgrade id)
# device id -> (status, result reason, status_since ms, first_seen ms), as the state has it.
StateDevices = dict[str, tuple[str | None, str | None, int, int]]
# What a record reports: campaign, device id, change, previous status, status, result reason.
Transition = tuple[Campaign, str, str, str | None, str | None, str | None]


class Night(msgspec.Struct):
    """One run: how it ended, what it wrote that survived, and the marker it left."""

    returncode: int
    records: list[Record]
    stderr: str
    marker: str | None = None
    left: list[str] = []  # the files beside the output once the run was over
    # Every row of every table of the state once the run was over (kill_then_recover).
    tables: dict[str, list[tuple[object, ...]]] = {}

    @property
    def campaigns(self) -> list[CampaignRecord]:
        return [r for r in self.records if isinstance(r, CampaignRecord)]

    def ok_campaigns(self) -> set[Campaign]:
        return {(c.account_name, c.upgrade_id) for c in self.campaigns if c.outcome == "ok"}

    def reported(self) -> list[Transition]:
        """Every device record whose change is not `same`, in the order written."""
        return [
            ((d.account_name, d.upgrade_id), d.device_id, d.change, *_shown(d))
            for d in self.records
            if isinstance(d, DeviceRecord) and d.change != "same"
        ]

    def polled_at(self) -> dict[Campaign, str | None]:
        return {(c.account_name, c.upgrade_id): c.polled_at for c in self.campaigns}


def _shown(device: DeviceRecord) -> tuple[str | None, str | None, str | None]:
    return device.previous_status, device.status, device.result_reason


# -- The state database and the simulator's truth -------------------------------------------


def read_only(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def state_devices(db: Path) -> dict[Campaign, StateDevices]:
    """Every campaign in the state with its devices (read-only: the file is left as it is)."""
    connection = read_only(db)
    try:
        state: dict[Campaign, StateDevices] = {
            (account, upgrade): {}
            for account, upgrade in connection.execute(
                "SELECT account_name, upgrade_id FROM campaigns"
            )
        }
        rows = connection.execute(
            "SELECT c.account_name, c.upgrade_id, d.device_id, d.status, d.result_reason,"
            " d.status_since, d.first_seen FROM devices d JOIN campaigns c USING (campaign)"
        )
        for account, upgrade, device, status, reason, since, first in rows:
            state[account, upgrade][device] = (status, reason, since, first)
    finally:
        connection.close()
    return state


def state_tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, for comparing a whole database before and after."""
    connection = read_only(db)
    try:
        query = "SELECT name FROM sqlite_schema WHERE type = 'table'"
        tables = [name for (name,) in connection.execute(query)]
        return {
            name: sorted(connection.execute(f"SELECT * FROM {name}"), key=repr)
            for name in tables
            if not name.startswith("sqlite_")
        }
    finally:
        connection.close()


def history_nights(db: Path) -> dict[Campaign, int]:
    """Nights of history per campaign."""
    connection = read_only(db)
    try:
        rows = connection.execute(
            "SELECT c.account_name, c.upgrade_id, count(*) FROM history h"
            " JOIN campaigns c USING (campaign) GROUP BY h.campaign"
        )
        return {(account, upgrade): nights for account, upgrade, nights in rows}
    finally:
        connection.close()


def last_polled(db: Path) -> dict[Campaign, str]:
    connection = read_only(db)
    try:
        rows = connection.execute("SELECT account_name, upgrade_id, last_polled_at FROM campaigns")
        return {(account, upgrade): polled for account, upgrade, polled in rows}
    finally:
        connection.close()


def truth(simulator) -> dict[Campaign, dict[str, tuple[str, str | None]]]:
    """Every campaign's devices as the simulator serves them today: (status, result reason)."""
    catalog = simulator.catalog
    served = {}
    for account, upgrade in catalog.ids():
        campaign = catalog.campaign_on(account, upgrade, catalog.day)
        served[account, upgrade] = {
            d.device_id: (d.status, d.result_reason) for d in campaign.device_list
        }
    return served


def transitions(before, now, campaigns) -> Counter[Transition]:
    """What a run must report for `campaigns`: `now` against the state `before` it."""
    expected: Counter[Transition] = Counter()
    for campaign in campaigns:
        last = before.get(campaign, {})
        for device, (status, reason) in now[campaign].items():
            if device not in last:
                expected[campaign, device, "new", None, status, reason] += 1
            elif last[device][:2] != (status, reason):
                expected[campaign, device, "changed", last[device][0], status, reason] += 1
        for device in last.keys() - now[campaign].keys():
            expected[campaign, device, "gone", last[device][0], None, None] += 1
    return expected


def as_served(state: dict[Campaign, StateDevices]):
    return {c: {d: row[:2] for d, row in devices.items()} for c, devices in state.items()}


# -- Running the CLI ----------------------------------------------------------------------------


class Poller:
    """How one test runs the CLI: against which simulator, ids, state and output."""

    def __init__(self, simulator, tmp_path: Path, db: Path, output: Path | None) -> None:
        self.simulator = simulator
        self.ids = tmp_path / "ids.txt"
        simulator.catalog.write_ids(self.ids)
        self.db = db
        self.output = output
        self.marker = tmp_path / "marker.txt"

    def command(self, *flags: str, output: Path | None = None) -> list[str]:
        out = output or self.output
        return [
            "poll", "--ids", str(self.ids), "--base-url", self.simulator.base_url, "--rate", "0",
            "--state", str(self.db), "--log-level", "warning",
            *(() if out is None else ("--output", str(out))), *flags,
        ]  # fmt: skip

    async def start(self, *flags: str, point: str | None = None, **runner: object):
        if point is None:
            head = [sys.executable, "-m", "fota_poller"]
        else:
            head = [sys.executable, str(RUNNER), "--point", point, "--marker", str(self.marker)]
            for name, value in runner.items():
                head += [f"--{name.replace('_', '-')}", str(value)]
            head.append("--")
        return await asyncio.create_subprocess_exec(
            *head,
            *self.command(*flags),
            env=token_environ(self.simulator.options),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def finish(self, process) -> Night:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        if self.output is None:
            # A killed run may not have ended its last line: only whole lines were written.
            data = stdout[: stdout.rfind(b"\n") + 1]
        else:
            data = self.output.read_bytes() if self.output.exists() else b""
        marker = self.marker.read_text().strip() if self.marker.exists() else None
        return Night(process.returncode, read_records(data), stderr.decode(), marker)

    async def run(self, *flags: str, point: str | None = None, **runner: object) -> Night:
        return await self.finish(await self.start(*flags, point=point, **runner))


def has_unnamed_files(folder: Path) -> bool:
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY))
    except (AttributeError, OSError):
        return False
    return True


def day(number: int, **changes: object) -> SimulatorOptions:
    return msgspec.structs.replace(OPTIONS, day=number, **changes)


@pytest.fixture(scope="module")
def night_zero(tmp_path_factory):
    """The state after a normal run on day 0: the database's bytes and the run's records."""
    folder = tmp_path_factory.mktemp("night-zero")
    db = folder / "state.db"

    async def first_night():
        async with run_simulator(day(0)) as simulator:
            poller = Poller(simulator, folder, db, folder / "night0.jsonl")
            return await poller.run()

    night = asyncio.run(first_night())
    assert night.returncode == 0, night.stderr
    assert not db.with_name("state.db-wal").exists()  # checkpointed: one file holds it all
    return db.read_bytes(), night


def committed_state(tmp_path: Path, night_zero) -> Path:
    db = tmp_path / "state.db"
    db.write_bytes(night_zero[0])
    return db


# -- What every recovery must show --------------------------------------------------------------


def assert_recovered(cut: Night, normal: Night, *, before, middle, after, now) -> None:
    """`cut` (what survived of the first run) then `normal`, from the state `before`.

    `middle` is the state between the two runs, `after` the state at the end, `now` the
    simulator's truth for both runs.
    """
    everything = transitions(before, now, now.keys())
    # The cut run's surviving records report exactly the changes of the campaigns it wrote.
    assert Counter(cut.reported()) == transitions(before, now, cut.ok_campaigns())
    # No campaign's state is half written, and none is committed unreported.
    for campaign, devices in now.items():
        if middle.get(campaign, {}) != before.get(campaign, {}):
            assert as_served(middle)[campaign] == devices, campaign
            assert campaign in cut.ok_campaigns(), campaign
    # The normal run reports exactly what changed since the state it found, each once.
    assert normal.returncode == 0, normal.stderr
    assert normal.ok_campaigns() == set(now)
    assert Counter(normal.reported()) == transitions(middle, now, now.keys())
    # So across the two runs every transition is reported at least once, none invented.
    assert set(everything) <= set(cut.reported()) | set(normal.reported())
    assert set(cut.reported()) | set(normal.reported()) <= set(everything)
    # And the state is the simulator's truth: statuses, reasons, gone devices absent.
    assert as_served(after) == now


def assert_every_kind(expected: Counter[Transition]) -> None:
    """The night has new, changed and gone devices: a test over it would see any kind lost."""
    kinds = Counter(change for _, _, change, *_ in expected)
    assert kinds["new"] > 0
    assert kinds["changed"] > 20
    assert kinds["gone"] > 0


async def kill_then_recover(tmp_path, db, *, output, point, nth=1, commit_every=None):
    runner = {"nth": nth} | ({} if commit_every is None else {"commit_every": commit_every})
    async with run_simulator(day(1)) as simulator:
        poller = Poller(simulator, tmp_path, db, output)
        before = state_devices(db) if db.exists() else {}
        killed = await poller.run(point=point, **runner)
        killed.left = sorted(p.name for p in tmp_path.iterdir() if "latest.jsonl" in p.name)
        killed.tables = state_tables(db) if db.exists() else {}
        middle = state_devices(db)
        middle_polled = last_polled(db)
        normal = await poller.run()
        now = truth(simulator)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert killed.marker == f"{point}:{nth}"
    assert_recovered(killed, normal, before=before, middle=middle, after=state_devices(db), now=now)
    return killed, normal, before, middle, middle_polled, now


# -- SIGKILL with a file output ---------------------------------------------------------------


@pytest.mark.parametrize(
    "point", ["before_rename", "linked_before_rename", "after_rename", "at_commit"]
)
async def test_a_run_killed_before_its_state_commit_is_reported_again_in_full(
    tmp_path, night_zero, point
):
    if point == "linked_before_rename" and not has_unnamed_files(tmp_path):
        pytest.skip("no O_TMPFILE here: the output file is named from the start")
    db = committed_state(tmp_path, night_zero)
    output = tmp_path / "latest.jsonl"
    tables = state_tables(db)

    killed, normal, before, middle, _, now = await kill_then_recover(
        tmp_path, db, output=output, point=point
    )

    expected = transitions(before, now, now.keys())
    assert_every_kind(expected)
    assert middle == before  # nothing committed: every device row as night 0 left it
    # One transaction: the history, the transitions and the runs are as night 0 left them too.
    assert killed.tables == tables
    assert len(tables["history"]) == len(now)
    assert history_nights(db) == dict.fromkeys(now, 2)  # the next run added its night
    assert Counter(normal.reported()) == expected  # so the next run reports it all again
    left = [p.name for p in tmp_path.iterdir() if "latest.jsonl" in p.name]
    if point == "before_rename":
        assert killed.records == []  # nothing durable, and no temporary file left behind
        assert killed.left == []
    elif point == "linked_before_rename":
        # The file had its temporary name, not the output's: the next run removed it.
        assert killed.records == []
        assert len(killed.left) == 1
        assert killed.left[0].startswith(".latest.jsonl.fota-poller-")
        assert left == ["latest.jsonl"]
    else:
        # Renamed: the whole night is out there, and will be reported a second time.
        assert isinstance(killed.records[-1], RunRecord)
        assert Counter(killed.reported()) == expected


async def test_a_run_killed_after_its_state_commit_leaves_nothing_to_report_again(
    tmp_path, night_zero
):
    db = committed_state(tmp_path, night_zero)

    killed, normal, before, middle, _, now = await kill_then_recover(
        tmp_path, db, output=tmp_path / "latest.jsonl", point="after_commit"
    )

    assert_every_kind(transitions(before, now, now.keys()))
    assert as_served(middle) == now
    # The killed run's night is in the history with its devices; the next run adds its own.
    assert len(killed.tables["history"]) == 2 * len(now)
    assert history_nights(db) == dict.fromkeys(now, 3)
    assert Counter(killed.reported()) == transitions(before, now, now.keys())
    assert normal.reported() == []


# -- SIGKILL with stdout: the state commits in batches as lines are flushed ------------------


# (point, nth commit, campaigns committed, campaigns written) with batches of 4 campaigns.
@pytest.mark.parametrize(
    "case",
    [("after_commit", 2, 8, 8), ("at_commit", 3, 8, 12)],
    ids=["after-the-2nd-commit", "in-the-3rd-commit"],
)
async def test_a_run_killed_mid_run_on_stdout_keeps_the_batches_it_committed(
    tmp_path, night_zero, case
):
    point, nth, committed, written = case
    db = committed_state(tmp_path, night_zero)

    killed, normal, before, middle, middle_polled, now = await kill_then_recover(
        tmp_path, db, output=None, point=point, nth=nth, commit_every=4
    )

    assert_every_kind(transitions(before, now, now.keys()))
    # Whole batches of 4 campaigns were committed, each after its lines were flushed.
    killed_polled = killed.polled_at()
    kept = {c for c, polled in middle_polled.items() if polled == killed_polled.get(c)}
    assert len(kept) == committed
    assert len(killed.ok_campaigns()) == written
    assert kept <= killed.ok_campaigns()
    assert {c: as_served(middle)[c] for c in kept} == {c: now[c] for c in kept}
    unkept = now.keys() - kept
    assert {c: middle[c] for c in unkept} == {c: before[c] for c in unkept}
    # The next run reports exactly the changes of the campaigns not committed.
    assert Counter(normal.reported()) == transitions(before, now, unkept)


async def test_a_first_night_killed_mid_run_reports_every_device_new_at_least_once(tmp_path):
    db = tmp_path / "state.db"

    killed, normal, _, middle, _, now = await kill_then_recover(
        tmp_path, db, output=None, point="at_commit", nth=2, commit_every=4
    )

    # The first run's only transitions are new devices; its first batch of 4 was committed.
    assert {change for _, _, change, *_ in killed.reported()} == {"new"}
    assert len(middle) == 4
    assert Counter(normal.reported()) == transitions({}, now, now.keys() - middle.keys())


# -- A campaign that failed -------------------------------------------------------------------


async def test_a_failed_campaign_keeps_its_state_and_status_since(tmp_path, night_zero):
    db = committed_state(tmp_path, night_zero)
    before = state_devices(db)
    tables = state_tables(db)
    quick = tmp_path / "quick-retries.toml"
    # Short back-offs, and no circuit breaker: each campaign fails on its own 500s.
    quick.write_text(
        "[poll]\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.01\ncircuit_failures = 1000\n"
    )
    failing = day(1, faults=FaultOptions(mix=(("500", 1.0),)))

    async with run_simulator(failing) as simulator:
        poller = Poller(simulator, tmp_path, db, tmp_path / "night1.jsonl")
        failed = await poller.run("--max-attempts", "2", "--config", str(quick))
    after_failure = state_tables(db)
    async with run_simulator(day(1)) as simulator:
        poller = Poller(simulator, tmp_path, db, tmp_path / "night1-again.jsonl")
        normal = await poller.run()
        now = truth(simulator)

    assert failed.returncode == 1, failed.stderr
    assert {(c.outcome, c.http_status, c.attempts) for c in failed.campaigns} == {
        ("failed", 500, 2)
    }
    assert len(failed.campaigns) == len(now)
    assert failed.reported() == []
    assert after_failure == tables  # every row of every table as night 0 left it
    # The next good night measures day 1 against night 0, not against the failure.
    assert normal.returncode == 0, normal.stderr
    expected = transitions(before, now, now.keys())
    assert_every_kind(expected)
    assert Counter(normal.reported()) == expected
    zero_polled = night_zero[1].polled_at()
    one_polled = normal.polled_at()
    for device in normal.records:
        if not isinstance(device, DeviceRecord) or device.change == "gone":
            continue
        campaign = (device.account_name, device.upgrade_id)
        moved = device.change == "new" or device.previous_status != device.status
        since = one_polled[campaign] if moved else zero_polled[campaign]
        assert device.status_since == since, device
    assert as_served(state_devices(db)) == now


# -- A run cut short ------------------------------------------------------------------------


async def test_a_run_stopped_by_sigterm_commits_what_it_wrote_and_no_more(tmp_path, night_zero):
    db = committed_state(tmp_path, night_zero)
    before = state_devices(db)
    output = tmp_path / "latest.jsonl"

    async with run_simulator(day(1, latency_ms=40)) as simulator:
        poller = Poller(simulator, tmp_path, db, output)
        started = asyncio.Event()
        simulator.stats.request_starts = Tripwire(5, started)
        process = await poller.start("--concurrency", "2")
        await asyncio.wait_for(started.wait(), 30)
        process.send_signal(signal.SIGTERM)
        stopped = await poller.finish(process)
        middle = state_devices(db)
        normal = await poller.run()
        now = truth(simulator)

    not_polled = {
        (c.account_name, c.upgrade_id) for c in stopped.campaigns if c.error_kind == "not_polled"
    }
    assert stopped.returncode == 4, stopped.stderr
    assert len(stopped.ok_campaigns()) >= 4
    assert not_polled
    assert stopped.ok_campaigns() | not_polled == set(now)
    assert {c: as_served(middle)[c] for c in stopped.ok_campaigns()} == {
        c: now[c] for c in stopped.ok_campaigns()
    }
    assert {c: middle[c] for c in not_polled} == {c: before[c] for c in not_polled}
    assert_recovered(
        stopped, normal, before=before, middle=middle, after=state_devices(db), now=now
    )
    assert Counter(normal.reported()) == transitions(before, now, not_polled)


async def test_a_run_cut_by_its_deadline_on_stdout_commits_what_it_wrote(tmp_path, night_zero):
    db = committed_state(tmp_path, night_zero)
    before = state_devices(db)

    async with run_simulator(day(1, latency_ms=100)) as simulator:
        poller = Poller(simulator, tmp_path, db, None)
        # One at a time, 100 ms each: 2.4 s of polling cut at 1 s. The state commits in
        # batches of 3 on the way and the rest at the end: both must hold.
        cut = await poller.run(
            "--concurrency", "1", "--deadline", "1s", point="none", commit_every=3
        )  # fmt: skip
        middle = state_devices(db)
        normal = await poller.run()
        now = truth(simulator)

    not_polled = {
        (c.account_name, c.upgrade_id) for c in cut.campaigns if c.error_kind == "not_polled"
    }
    assert cut.returncode == 4, cut.stderr
    assert cut.ok_campaigns()
    assert not_polled
    assert {c: middle[c] for c in not_polled} == {c: before[c] for c in not_polled}
    assert_recovered(cut, normal, before=before, middle=middle, after=state_devices(db), now=now)
    assert Counter(normal.reported()) == transitions(before, now, not_polled)


# -- An output that fails ---------------------------------------------------------------------


async def test_an_output_that_fails_commits_nothing_to_the_state(tmp_path, night_zero):
    db = committed_state(tmp_path, night_zero)
    before = state_devices(db)
    tables = state_tables(db)
    folder = tmp_path / "out"
    folder.mkdir()

    async with run_simulator(day(1)) as simulator:
        poller = Poller(simulator, tmp_path, db, folder / "latest.jsonl")
        failed = await poller.run(point="vanish_before_rename")
        after_failure = state_tables(db)
        folder.mkdir()
        normal = await poller.run()
        now = truth(simulator)

    assert failed.marker == "vanish_before_rename:1"
    assert failed.returncode == 74, failed.stderr
    assert "Traceback" not in failed.stderr
    assert after_failure == tables
    assert_recovered(failed, normal, before=before, middle=before, after=state_devices(db), now=now)
    assert Counter(normal.reported()) == transitions(before, now, now.keys())
