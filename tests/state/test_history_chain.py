"""A campaign's nights walked back along the chain each night keeps (state/recent.py): its own
nights, not the runs', whatever other campaigns did; a version 3 file read as it is and
upgraded in place, its nights linked; a damaged chain read to its end and no further; and
the report's nights, the last runs'.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from history_nights import ACCOUNT, DAY, START, night, trends

from fota_poller.state.history import read_trends
from fota_poller.state.recent import FIT_NIGHTS, read_recent
from fota_poller.state.schema import SCHEMA_VERSION, open_database
from fota_poller.state.store import StateStore


def _last_run(connection: sqlite3.Connection) -> int:
    return connection.execute("SELECT last_run FROM campaigns WHERE campaign = 1").fetchone()[0]


def _indexes(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'history'"
        return {name for (name,) in db.execute(query) if not name.startswith("sqlite_")}


def _as_version_3(path: Path) -> None:
    """The file as fota-poller of schema version 3 left it: no chain, two indexes."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("ALTER TABLE history DROP COLUMN prior_run")
        db.execute("CREATE INDEX history_by_campaign ON history (campaign, run)")
        db.execute("CREATE INDEX history_by_time ON history (polled_ms)")
        db.execute("PRAGMA user_version = 3")


def _two_campaigns(path: Path) -> None:
    """u1 polled every night; u2 every other night, its own pace."""
    for day in range(8):
        night(path, f"r{day}", START + day * DAY, devices=100, succeeded=5 * day, moved=5)
        if day % 2 == 0:
            succeeded = 10 * (day // 2)
            night(
                path, f"s{day}", START + day * DAY, upgrade="u2", devices=100,
                succeeded=succeeded, moved=1,
            )  # fmt: skip


def test_a_campaign_s_trend_is_its_own_nights_not_the_runs(tmp_path):
    path = tmp_path / "state.db"
    _two_campaigns(path)

    found = trends(path)
    # u2's nights are every other run: its delta is its own last two nights'.
    assert found["u2"].succeeded_delta == 10
    assert found["u1"].succeeded_delta == 5
    # Both gain 5% a day: u1 from 35% on day 7, u2 from 30% on day 6; both done on day 20.
    assert found["u1"].projected_finish == found["u2"].projected_finish == "2026-11-21"
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        u1 = read_recent(connection, 1, _last_run(connection))
    assert u1 is not None
    assert [p.succeeded for p in u1.points] == [5 * day for day in range(1, 8)]
    assert len(u1.points) == FIT_NIGHTS


def test_a_version_3_file_is_read_as_it_is_then_upgraded_with_every_night_linked(tmp_path):
    path = tmp_path / "state.db"
    _two_campaigns(path)
    before = trends(path)
    _as_version_3(path)

    assert trends(path) == before  # a reader reads version 3 through its index
    with StateStore.open(path):
        pass  # a writer upgrades it
    with contextlib.closing(sqlite3.connect(path)) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        chains = db.execute(
            """SELECT campaign, run, prior_run, lag(run) OVER (PARTITION BY campaign ORDER BY run)
            FROM history"""
        ).fetchall()
    assert version == SCHEMA_VERSION == 4
    assert _indexes(path) == set()
    assert all(prior == expected for _, _, prior, expected in chains)
    assert trends(path) == before
    # The next night follows on from the linked ones.
    night(path, "r8", START + 8 * DAY, devices=100, succeeded=40, moved=5)
    assert trends(path)["u1"].succeeded_delta == 5


def test_a_new_file_has_no_index_on_its_history(tmp_path):
    path = tmp_path / "state.db"
    night(path, "r0", START)
    assert _indexes(path) == set()


def test_a_chain_that_loops_is_read_to_its_depth_and_no_further(tmp_path):
    path = tmp_path / "state.db"
    for day in range(3):
        night(path, f"r{day}", START + day * DAY, succeeded=day, moved=1)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE history SET prior_run = run")  # each night its own night before
        db.commit()

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        recent = read_recent(connection, 1, _last_run(connection))
    assert recent is not None
    assert len(recent.points) == FIT_NIGHTS  # bounded, not a hang
    assert trends(path)["u1"].succeeded_delta == 0


def test_retention_ends_the_chain_where_it_pruned(tmp_path):
    path = tmp_path / "state.db"
    for day in range(5):
        night(path, f"r{day}", START + day * DAY, succeeded=day, moved=1, days=2)

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        recent = read_recent(connection, 1, _last_run(connection))
    assert recent is not None
    # Days 2, 3 and 4 are within two days of day 4; the walk stops at the pruned day 1.
    assert [p.succeeded for p in recent.points] == [2, 3, 4]


def test_the_report_s_nights_are_the_last_runs(tmp_path):
    path = tmp_path / "state.db"
    _two_campaigns(path)

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        found = {t.upgrade_id: t for t in read_trends(connection, nights=4, stalled_after=3)}
    # The last 4 runs are r5, r6, s6 and r7: u1 has three of them, u2 one.
    assert [n.run_id for n in found["u1"].nights] == ["r5", "r6", "r7"]
    assert [n.run_id for n in found["u2"].nights] == ["s6"]
    assert found["u1"].account_name == ACCOUNT


def test_a_link_to_a_night_that_is_not_there_ends_the_walk(tmp_path):
    path = tmp_path / "state.db"
    for day in range(3):
        night(path, f"r{day}", START + day * DAY, succeeded=day, moved=1)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE history SET prior_run = 999 WHERE run = 3")  # a hand-edited file
        db.commit()

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        recent = read_recent(connection, 1, _last_run(connection))
    assert recent is not None
    assert [p.succeeded for p in recent.points] == [2]  # the last night alone
    assert trends(path)["u1"].succeeded_delta is None
