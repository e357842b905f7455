"""The history's worst nights: an old database, a campaign of no devices, a clock set back,
retention, forgetting; and the projected finish's estimator on lines whose answer is known.
"""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from history_nights import ACCOUNT, DAY, START, night, stage_night, text, trends

from fota_poller.errors import StateWriteError
from fota_poller.state import queries
from fota_poller.state.finish import projected_finish
from fota_poller.state.history import (
    HistoryRow,
    read_fleet_nights,
    read_transitions,
    read_trends,
)
from fota_poller.state.schema import open_database
from fota_poller.state.store import CampaignUpdate, StateStore
from fota_poller.state.times import to_ms


def test_a_steady_campaign_s_trend_and_its_finish_date(tmp_path):
    path = tmp_path / "state.db"
    for day in range(5):  # 10 more of 100 resolved each day: done on day 9
        night(path, f"r{day}", START + day * DAY, devices=100, succeeded=10 * day, moved=10)

    trend = trends(path)["u1"]
    assert trend.succeeded_delta == 10
    assert trend.nights_without_progress == 0
    assert trend.projected_finish == (START + 10 * DAY).date().isoformat()
    assert not trend.stalled
    assert [n.succeeded for n in trend.nights] == [0, 10, 20, 30, 40]


def test_quiet_nights_stall_a_pending_campaign_and_take_its_finish_away(tmp_path):
    path = tmp_path / "state.db"
    for day, moved in enumerate([5, 5, 0, 0, 0]):
        night(path, f"r{day}", START + day * DAY, succeeded=min(day, 2), moved=moved)

    trend = trends(path)["u1"]
    assert (trend.nights_without_progress, trend.stalled, trend.projected_finish) == (3, True, None)
    assert not trends(path, stalled_after=4)["u1"].stalled


def test_a_campaign_of_no_devices_has_no_share_and_no_division_by_zero(tmp_path):
    path = tmp_path / "state.db"
    for day in range(4):
        night(path, f"r{day}", START + day * DAY, devices=0)

    trend = trends(path)["u1"]
    assert (trend.succeeded_delta, trend.projected_finish, trend.stalled) == (0, None, False)
    assert trend.nights_without_progress == 3


def test_a_clock_set_back_keeps_the_order_of_runs_and_trusts_the_latest_clock(tmp_path):
    path = tmp_path / "state.db"
    # Three nights with a clock 10 days ahead, then set right: the fit takes the last three.
    days = [10, 11, 12, 3, 4, 5]
    for run, day in enumerate(days):
        night(path, f"r{run}", START + day * DAY, devices=100, succeeded=10 * (run + 1), moved=10)

    trend = trends(path)["u1"]
    assert [n.run_id for n in trend.nights] == [f"r{run}" for run in range(6)]
    assert trend.succeeded_delta == 10
    # 40, 50, 60 % on days 3, 4, 5: 100 % on day 9 (November 10).
    assert trend.projected_finish == "2026-11-10"
    # Retention counted from the newest night staged: nothing is pruned by a clock set back.
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        assert len(read_fleet_nights(connection, nights=10)) == 6


def test_retention_prunes_older_nights_in_the_run_s_own_commit(tmp_path):
    path = tmp_path / "state.db"
    night(path, "old", START - 200 * DAY, moved=1)
    night(path, "middle", START - 100 * DAY, moved=1)
    night(path, "now", START, moved=1)
    assert [n.run_id for n in trends(path)["u1"].nights] == ["middle", "now"]

    night(path, "next", START + DAY, days=1)
    trend = trends(path)["u1"]
    assert [n.run_id for n in trend.nights] == ["now", "next"]
    # The quiet count is the row's, not a count over what retention left.
    assert trend.nights_without_progress == 1


def _runs_kept(path) -> list[str]:
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        rows = connection.execute(
            "SELECT DISTINCT run_id FROM history JOIN runs USING (run) ORDER BY run"
        )
        return [run_id for (run_id,) in rows]


def test_a_run_that_commits_as_it_goes_prunes_once_in_its_first_commit(tmp_path):
    path = tmp_path / "state.db"
    night(path, "old", START - 200 * DAY, upgrade="u0")
    statements: list[str] = []
    with StateStore.open(path) as store:
        store._db.set_trace_callback(statements.append)
        store.start_run("now", text(START), history_days=180)
        for upgrade in ("u1", "u2", "u3"):  # a commit per campaign, as a run to stdout does
            stage_night(store, START, upgrade=upgrade)
            store.commit(text(START))
    assert _runs_kept(path) == ["now"]
    # Retention reads the oldest run's nights in the first commit, not in every commit.
    assert sum("min(run)" in statement for statement in statements) == 2  # "old", then "now"


@pytest.mark.parametrize("refused", ["the nights' insert", "the COMMIT"])
def test_a_run_whose_first_commit_fails_prunes_in_the_next_one(tmp_path, refused):
    path = tmp_path / "state.db"
    night(path, "old", START - 200 * DAY, upgrade="u0")
    denied = []

    def refuse_once(action, what, *_):
        if denied:
            return sqlite3.SQLITE_OK
        if refused == "the COMMIT":  # after the nights and the prune were written
            hit = action == sqlite3.SQLITE_TRANSACTION and what == "COMMIT"
        else:
            hit = action == sqlite3.SQLITE_INSERT and what == "history"
        if hit:
            denied.append(what)
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    with StateStore.open(path) as store:
        store.start_run("now", text(START), history_days=180)
        store._db.set_authorizer(refuse_once)
        stage_night(store, START, upgrade="u1")
        with pytest.raises(StateWriteError):
            store.commit(text(START))
        assert _runs_kept(path) == ["old"]  # rolled back: nothing pruned
        stage_night(store, START, upgrade="u2")
        store.commit(text(START))
    assert len(denied) == 1
    assert _runs_kept(path) == ["now"]


@pytest.mark.parametrize("campaigns", [1, 31, 32, 70])
def test_a_commit_writes_every_night_as_staged_none_apart_from_zero(tmp_path, campaigns):
    # Whole statements of 32 nights and the rest one by one, nights that know neither on
    # target nor late apart from those that know either: a 0 must stay 0 and a none none.
    path = tmp_path / "state.db"
    night(path, "first", START - DAY, upgrade="u0")
    staged = {}
    with StateStore.open(path) as store:
        store.start_run("now", text(START), history_days=180)
        for index in range(campaigns):
            upgrade = "u0" if index == 0 else f"u{index}"
            prior = store.previous(ACCOUNT, upgrade)
            target = (None, 0, index)[index % 3]
            row = HistoryRow(
                to_ms(START) + index, 10 + index, 1, 2, 7 + index, 0, target,
                None if index % 5 == 0 else index % 2, index % 4, 0, prior.last_run,
            )  # fmt: skip
            store.stage(
                CampaignUpdate(
                    key=prior.key, account_name=ACCOUNT, upgrade_id=upgrade, status=None,
                    device_count=row.devices, polled_at=text(START), upserts=[], deletes=[],
                    night=row,
                )
            )  # fmt: skip
            staged[upgrade] = row
        store.commit(text(START))
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        rows = connection.execute(
            """SELECT c.upgrade_id, h.polled_ms, h.devices, h.succeeded, h.failed, h.pending,
            h.unknown, h.on_target, h.late, h.moved, h.quiet, h.prior_run FROM history AS h
            JOIN campaigns AS c USING (campaign) JOIN runs AS r ON r.run = h.run
            WHERE r.run_id = 'now'"""
        ).fetchall()
        first = connection.execute("SELECT run FROM runs WHERE run_id = 'first'").fetchone()[0]
    assert {upgrade: HistoryRow(*values) for upgrade, *values in rows} == staged
    assert staged["u0"].prior_run == first
    assert all(row.prior_run is None for upgrade, row in staged.items() if upgrade != "u0")


# Values a file edited by hand (or by another program) may hold in a night: another type,
# a count below 0 or past what a sum can hold, a time past year 9999 or before year 1.
SPOILED_NIGHTS = [
    ("succeeded", "x"),
    ("polled_ms", "yesterday"),
    ("polled_ms", 10**18),
    ("polled_ms", -(10**18)),
    ("devices", 2**62),
    ("pending", -1),
    ("quiet", 1.5),
    ("on_target", "yes"),
]


@pytest.mark.parametrize(("column", "value"), SPOILED_NIGHTS)
def test_a_night_edited_by_hand_is_no_night_to_its_readers(tmp_path, column, value):
    path = tmp_path / "state.db"
    for day in range(4):
        night(path, f"r{day}", START + day * DAY, devices=100, succeeded=10 * day, moved=10)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(f"UPDATE history SET {column} = ? WHERE run = 2", (value,))  # night 2 of 4

    # The walk back from the last night ends at the spoiled one; the fleet's and the
    # report's nights leave it out; nothing raises.
    trend = trends(path)["u1"]
    assert [n.run_id for n in trend.nights] == ["r0", "r2", "r3"]
    assert (trend.succeeded_delta, trend.projected_finish) == (10, None)  # 2 nights: no fit
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        fleet = read_fleet_nights(connection, nights=10)
    assert [(n.run_id, n.succeeded) for n in fleet] == [("r0", 0), ("r2", 20), ("r3", 30)]


def test_the_last_night_edited_by_hand_leaves_no_trend_and_a_run_goes_on(tmp_path):
    path = tmp_path / "state.db"
    for day in range(3):
        night(path, f"r{day}", START + day * DAY, succeeded=day, moved=1)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE history SET polled_ms = 'yesterday' WHERE run = 3")

    assert "u1" not in trends(path)
    night(path, "r3", START + 3 * DAY, succeeded=3, moved=1)  # links to it, as a run does
    assert [n.run_id for n in trends(path)["u1"].nights] == ["r0", "r1", "r3"]


def test_retention_keeps_a_run_of_which_one_night_is_young_enough(tmp_path):
    # A run's nights go together: one night young enough keeps all of them, wherever it
    # lies among the run's campaigns, and the runs after it with it.
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.start_run("long", text(START - 200 * DAY), history_days=180)
        for upgrade, age in (("u1", 200), ("u2", 200), ("u3", 100), ("u4", 200)):
            stage_night(store, START - age * DAY, upgrade=upgrade)
        store.commit(text(START))
    night(path, "later", START - 150 * DAY, upgrade="u1")

    night(path, "now", START, upgrade="u5")
    assert _runs_kept(path) == ["long", "later", "now"]
    night(path, "next", START + 81 * DAY, upgrade="u5")
    assert _runs_kept(path) == ["now", "next"]


def test_retention_is_not_stopped_by_a_run_whose_times_are_no_times(tmp_path):
    path = tmp_path / "state.db"
    night(path, "garbled", START - 300 * DAY)
    night(path, "old", START - 200 * DAY)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE history SET polled_ms = 'long ago' WHERE run = 1")

    night(path, "now", START)
    assert _runs_kept(path) == ["now"]


@pytest.mark.parametrize(
    "transitions", ["{not json", '[[1, 2, "x"]]', '[["a", "b", -4]]', 5, b"[]", "[" * 10_000]
)
def test_transitions_edited_by_hand_are_unknown_not_a_crash(tmp_path, transitions):
    path = tmp_path / "state.db"
    night(path, "r0", START, upgrade="u1", moved=2)
    night(path, "r0b", START, upgrade="u2", moved=3)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE campaigns SET last_run = 2")  # both polled by the last run
        db.execute("UPDATE campaigns SET transitions = ? WHERE upgrade_id = 'u1'", (transitions,))
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        found = read_transitions(connection)
    assert list(found) == [(ACCOUNT, "u2")]


def test_forget_removes_a_campaign_s_history_and_transitions(tmp_path):
    path = tmp_path / "state.db"
    night(path, "r0", START, upgrade="u1", moved=2)
    night(path, "r1", START + DAY, upgrade="u2", moved=3)
    with contextlib.closing(open_database(path)) as connection:
        queries.forget_campaigns(connection, path, [(ACCOUNT, "u1")])
        assert connection.execute("SELECT count(*) FROM history").fetchone()[0] == 1
        left = connection.execute("SELECT count(*) FROM campaigns").fetchone()[0]
    assert left == 1
    assert set(trends(path)) == {"u2"}


def test_transitions_are_the_last_run_s_only(tmp_path):
    path = tmp_path / "state.db"
    night(path, "r0", START, upgrade="u1", moved=2)
    night(path, "r1", START + DAY, upgrade="u2", moved=3)
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        found = read_transitions(connection)
    # u1 was not polled by the last run: its transitions are an older night's.
    assert list(found) == [(ACCOUNT, "u2")]
    assert [(t.from_status, t.to_status, t.count) for t in found[ACCOUNT, "u2"]] == [
        ("RequestPending", "UpgradeSuccess", 3)
    ]


def test_a_version_2_database_is_read_as_having_no_history_and_upgraded_by_a_run(tmp_path):
    path = tmp_path / "state.db"
    night(path, "r0", START)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("DROP TABLE history")
        db.execute("ALTER TABLE campaigns DROP COLUMN transitions")
        db.execute("PRAGMA user_version = 2")

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        assert read_trends(connection, nights=7, stalled_after=3) == []
        assert read_transitions(connection) == {}
        assert read_fleet_nights(connection, nights=7) == []
    night(path, "r1", START + DAY, moved=1)  # a writer upgrades it: the history starts
    trend = trends(path)["u1"]
    assert [n.run_id for n in trend.nights] == ["r1"]
    assert trend.succeeded_delta is None


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ([0.1, 0.2, 0.3, 0.4], "2026-11-10"),  # 10 points a day from 10 %: day 9
        ([0.5, 0.5, 0.5, 0.5], None),  # no pace
        ([0.6, 0.5, 0.4], None),  # going back
        ([0.1, 0.2], None),  # too few nights
        ([0.5, 0.5000000001, 0.5000000002], None),  # past year 9999
        ([0.1, 0.5, 0.9, 0.95], "2026-11-04"),  # crossed 1 before the last night
    ],
)
def test_the_projected_finish_on_lines_whose_answer_is_known(shares, expected):
    devices = 10**15
    nights = [
        (to_ms(START + day * DAY), devices, round(share * devices))
        for day, share in enumerate(shares)
    ]
    assert projected_finish(nights) == expected


def test_fleet_nights_sum_each_committed_run_over_its_campaigns(tmp_path):
    path = tmp_path / "state.db"
    night(path, "r0", START, upgrade="u1", devices=10, succeeded=2, failed=1)
    with StateStore.open(path) as store:  # one run, two campaigns
        store.start_run("r1", text(START + DAY), history_days=180)
        for upgrade, (devices, succeeded) in {"u1": (10, 4), "u2": (20, 5)}.items():
            prior = store.previous(ACCOUNT, upgrade)
            row = HistoryRow(
                to_ms(START + DAY),
                devices,
                succeeded,
                1,
                devices - succeeded - 1,
                0,
                3,
                1,
                2,
                0,
                prior.last_run,
            )
            store.stage(
                CampaignUpdate(
                    key=prior.key, account_name=ACCOUNT, upgrade_id=upgrade, status=None,
                    device_count=devices, polled_at=text(START + DAY), upserts=[], deletes=[],
                    night=row,
                )
            )  # fmt: skip
        store.commit(text(START + DAY))

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        fleet = read_fleet_nights(connection, nights=7)
        assert read_fleet_nights(connection, nights=1) == fleet[-1:]
    assert [(f.run_id, f.devices, f.succeeded, f.failed, f.pending) for f in fleet] == [
        ("r0", 10, 2, 1, 7),
        ("r1", 30, 9, 2, 19),
    ]
    # Without --inventory on target and late are unknown (null), not 0.
    assert [(f.on_target, f.late) for f in fleet] == [(None, None), (6, 2)]
    assert fleet[1].polled_at == text(START + DAY)
