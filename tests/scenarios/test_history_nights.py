"""Issue 22, acceptance 1 and 6 (first half): seven nights of history through the real CLI.

The evolving simulator serves a week; one campaign is frozen after day 2 (no device moves
after night 3). Every figure the records, the metrics file and the state's history give is
checked against what this test computes itself from the simulator's catalogue: the
succeeded delta, the nights without progress, stalled, the transitions, and the projected
finish, fitted here with the standard library's own least squares.

The nights of a test run seconds apart: before each night the history's times are moved a
day back (an edit of the test's own database), so that the nights are a day apart, as in
production, and a projected date means something.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import statistics
from collections import Counter

from helpers import poll_cli, token_environ

from fota_poller.cli import main
from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import CampaignRecord, RunRecord
from fota_poller.simulator import EvolveOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.catalog import Catalog
from fota_poller.state.history import read_transitions
from fota_poller.state.night_report import transition_totals
from fota_poller.testing import read_records

NIGHTS = 7
FROZEN_AFTER_DAY = 2  # night 3 is day 2: nothing moves after it
STALLED_AFTER = 3  # the config's default
DAY_MS = 86_400_000
BASE = SimulatorOptions(
    campaigns=14, devices_min=30, devices_max=80, seed=22, evolve=EvolveOptions(seed=4, share=0.1)
)
PHASES = PhaseTable()


def frozen_campaign() -> str:
    """The first campaign with pending devices on the day it is frozen: it will stall."""
    catalog = Catalog(BASE)
    for account, upgrade in catalog.ids():
        devices = catalog.campaign_on(account, upgrade, FROZEN_AFTER_DAY).device_list
        if sum(PHASES.phase(d.status) == "pending" for d in devices) >= 5:
            return upgrade
    raise AssertionError("no campaign with pending devices")


FROZEN = frozen_campaign()
OPTIONS = SimulatorOptions(
    campaigns=BASE.campaigns,
    devices_min=BASE.devices_min,
    devices_max=BASE.devices_max,
    seed=BASE.seed,
    evolve=EvolveOptions(seed=4, share=0.1, frozen=((FROZEN, FROZEN_AFTER_DAY),)),
)


class Expected:
    """Per campaign and day, what the catalogue says the history must say."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.statuses: dict[str, list[dict[str, str]]] = {}
        for account, upgrade in catalog.ids():
            self.statuses[upgrade] = [
                {
                    d.device_id: d.status
                    for d in catalog.campaign_on(account, upgrade, day).device_list
                }
                for day in range(NIGHTS)
            ]

    def phases(self, upgrade: str, day: int) -> Counter[str]:
        return Counter(PHASES.phase(s) for s in self.statuses[upgrade][day].values())

    def succeeded_delta(self, upgrade: str, day: int) -> int | None:
        if day == 0:
            return None
        return self.phases(upgrade, day)["succeeded"] - self.phases(upgrade, day - 1)["succeeded"]

    def moved(self, upgrade: str, day: int) -> int:
        before, now = self.statuses[upgrade][day - 1], self.statuses[upgrade][day]
        return sum(
            PHASES.phase(before[d]) != PHASES.phase(now[d]) for d in before.keys() & now.keys()
        )

    def without_progress(self, upgrade: str, day: int) -> int:
        count = 0
        while day > 0 and self.moved(upgrade, day) == 0:
            count += 1
            day -= 1
        return count

    def stalled(self, upgrade: str, day: int) -> bool:
        pending = self.phases(upgrade, day)["pending"]
        return self.without_progress(upgrade, day) >= STALLED_AFTER and pending > 0

    def transitions(self, upgrade: str, day: int) -> Counter[tuple[str | None, str | None]]:
        before, now = self.statuses[upgrade][day - 1], self.statuses[upgrade][day]
        moves: Counter[tuple[str | None, str | None]] = Counter()
        for device, status in now.items():
            if device not in before:
                moves[None, status] += 1
            elif before[device] != status:
                moves[before[device], status] += 1
        for device in before.keys() - now.keys():
            moves[before[device], None] += 1
        return moves

    def finish(self, upgrade: str, times: list[float]) -> str | None:
        """The least-squares date over the last 7 nights (`times`: days since the epoch)."""
        shares = []
        for day in range(len(times)):
            phases = self.phases(upgrade, day)
            shares.append((phases["succeeded"] + phases["failed"]) / phases.total())
        slope, intercept = statistics.linear_regression(times[-7:], shares[-7:])
        if slope <= 0:
            return None
        reached = (1 - intercept) / slope
        return (
            (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=reached)).date().isoformat()
        )


def days_of(polled_at: str) -> float:
    moment = dt.datetime.fromisoformat(polled_at)
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() / 86400


def move_history_a_day_back(db) -> None:
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as connection:
        connection.execute("UPDATE history SET polled_ms = polled_ms - ?", (DAY_MS,))


def stalled_metric(path) -> float:
    for line in path.read_text().splitlines():
        if line.startswith("fota_poller_last_run_campaigns_stalled "):
            return float(line.split()[1])
    raise AssertionError("no fota_poller_last_run_campaigns_stalled in the metrics file")


def check_night(expected, campaigns, day, db, metrics) -> Counter:
    """One night's records, metric and stored transitions against the catalogue: its totals."""
    for upgrade, record in campaigns.items():
        assert record.succeeded_delta == expected.succeeded_delta(upgrade, day), upgrade
        got = record.nights_without_progress
        assert got == expected.without_progress(upgrade, day), (upgrade, day)
        assert record.stalled == expected.stalled(upgrade, day), (upgrade, day)
    assert stalled_metric(metrics) == sum(expected.stalled(u, day) for u in campaigns)
    if not day:
        return Counter()
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        stored = read_transitions(connection)
    assert {upgrade: Counter({(t.from_status, t.to_status): t.count for t in moved})
            for (_, upgrade), moved in stored.items()} == {
        upgrade: expected.transitions(upgrade, day) for upgrade in campaigns
    }  # fmt: skip
    totals = sum((expected.transitions(u, day) for u in campaigns), Counter())
    assert {(t.from_status, t.to_status): t.count for t in transition_totals(stored)} == totals
    return totals


async def test_seven_nights_give_the_catalogue_s_deltas_stalls_transitions_and_finish(
    tmp_path, capsys
):
    ids, db, metrics = tmp_path / "ids.txt", tmp_path / "state.db", tmp_path / "fota.prom"
    nights: list[dict[str, CampaignRecord]] = []
    async with run_simulator(OPTIONS) as sim:
        sim.catalog.write_ids(ids)
        expected = Expected(sim.catalog)
        for day in range(NIGHTS):
            if day:
                sim.catalog.advance_day()
                move_history_a_day_back(db)
            output = tmp_path / f"night{day}.jsonl"
            done = await poll_cli(
                sim, ids, "--state", str(db), "--output", str(output), "--rate", "0",
                "--metrics-file", str(metrics), env=token_environ(sim.options),
            )  # fmt: skip
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            records = read_records(output.read_bytes())
            assert isinstance(records[-1], RunRecord)
            nights.append({r.upgrade_id: r for r in records if isinstance(r, CampaignRecord)})
            totals = check_night(expected, nights[-1], day, db, metrics)

    # The frozen campaign: nothing moves from night 4; stalled from night 6 (day 5) on.
    frozen = [night[FROZEN] for night in nights]
    assert [n.nights_without_progress for n in frozen[3:]] == [1, 2, 3, 4]
    assert [n.stalled for n in frozen] == [False] * 5 + [True, True]
    assert frozen[-1].projected_finish is None
    assert stalled_metric(metrics) >= 1
    # The projected finish: the test's own least squares, over each night's (shifted) time.
    steady = 0
    for upgrade, record in nights[-1].items():
        own = [
            days_of(night[upgrade].polled_at) - (NIGHTS - 1 - day)
            for day, night in enumerate(nights)
        ]
        figure = expected.finish(upgrade, own)
        if record.stalled or figure is None or figure < record.polled_at[:10]:
            assert record.stalled or record.projected_finish in (None, record.polled_at[:10])
            continue
        assert record.projected_finish == figure, upgrade
        steady += 1
    assert steady >= 3
    last_file = tmp_path / f"night{NIGHTS - 1}.jsonl"
    check_views(capsys, db, last_file, nights[-1], totals=totals, metrics=metrics)


TREND_KEYS = ("succeeded_delta", "nights_without_progress", "projected_finish", "stalled")


def check_views(capsys, db, night_file, last, *, totals, metrics) -> None:
    """`state info` and `summary --state` say what the records say, in every format."""
    assert main(["state", "info", "--state", str(db), "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)["history"]
    trends = {c["upgrade_id"]: c for c in history["campaigns"]}
    for upgrade, record in last.items():
        assert {k: trends[upgrade][k] for k in TREND_KEYS} == {
            k: getattr(record, k) for k in TREND_KEYS
        }
    assert history["last_night"]["campaigns_stalled"] == stalled_metric(metrics)
    assert history["last_night"]["new"] == sum(n for (a, _), n in totals.items() if a is None)
    assert main(["state", "info", "--state", str(db), "--format", "text"]) == 0
    shown = capsys.readouterr().out
    assert f"{FROZEN}: succeeded +0, 4 nights without progress, finish (no pace), STALLED" in shown
    assert main(["summary", str(night_file), "--state", str(db), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = {row["upgrade_id"]: row for row in summary["rows"]}
    assert rows[FROZEN]["transitions"] == []
    for upgrade, record in last.items():
        assert {k: rows[upgrade][k] for k in TREND_KEYS} == {
            k: getattr(record, k) for k in TREND_KEYS
        }
    assert summary["last_night"] == history["last_night"]
    for form, marked in (("csv", "True"), ("markdown", "STALLED")):
        assert main(["summary", str(night_file), "--state", str(db), "--format", form]) == 0
        shown = capsys.readouterr().out
        assert "stalled" in shown
        assert marked in shown, form
    # The table's last column, `stalled`, says for how many nights the frozen one stands still.
    assert main(["summary", str(night_file), "--state", str(db), "--format", "table"]) == 0
    shown = capsys.readouterr().out
    assert "stalled" in shown
    assert next(line for line in shown.splitlines() if FROZEN in line).split()[-1] == "4"
