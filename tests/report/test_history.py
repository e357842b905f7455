"""report/history.py: the page's read of the state's history. Nights written by real
commits are read back whole (trends, the fleet's nights, last night's transitions); a
database that keeps none reads as no history; a failure reading it is one line, never a
traceback nor a made-up night."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from helpers import ACCOUNT, UPGRADE, write_campaign

from fota_poller.cli import main
from fota_poller.errors import StateError
from fota_poller.model.records import CampaignRecord, RunRecord
from fota_poller.report import history
from fota_poller.report.history import NO_HISTORY, Transition, read_history
from fota_poller.state.history import HistoryRow
from fota_poller.state.schema import open_database
from fota_poller.state.store import CampaignUpdate, StateStore
from fota_poller.state.times import to_ms

START = datetime(2026, 11, 1, 2, tzinfo=UTC)


def text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def commit_nights(path: Path, nights: int) -> None:
    """`nights` runs a day apart, each committing the campaign's night: one more succeeded."""
    quiet = 0
    for day in range(nights):
        moment = START + day * timedelta(days=1)
        with StateStore.open(path) as store:
            store.start_run(f"run-{day}", text(moment), history_days=180)
            prior = store.previous(ACCOUNT, UPGRADE)
            row = HistoryRow(
                to_ms(moment), 4, day, 1, 3 - day, 0, None, None, 1, quiet, prior.last_run
            )
            store.stage(
                CampaignUpdate(
                    key=prior.key, account_name=ACCOUNT, upgrade_id=UPGRADE, status="InProgress",
                    device_count=4, polled_at=text(moment), upserts=[], deletes=[], night=row,
                    transitions=[("RequestPending", "UpgradeSuccess", 1)],
                    )
            )  # fmt: skip
            store.commit(text(moment))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state database with one campaign and no night of history yet."""
    path = tmp_path / "state.db"
    since = datetime.now(UTC) - timedelta(days=9)
    write_campaign(path, ACCOUNT, UPGRADE, [("d1", "RequestPending", None, since)])
    return path


def read(path: Path, *, nights: int = 30, stalled_after: int = 3) -> history.History:
    connection = open_database(path, read_only=True)
    try:
        return read_history(connection, path, nights=nights, stalled_after=stalled_after)
    finally:
        connection.close()


def test_a_database_that_keeps_no_night_reads_as_no_history(state: Path) -> None:
    assert read(state) is NO_HISTORY
    assert not NO_HISTORY.known


def test_committed_nights_are_read_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    commit_nights(path, 3)

    found = read(path, nights=12, stalled_after=4)

    assert found.known
    assert [night.succeeded for night in found.fleet] == [0, 1, 2]
    (trend,) = found.trends
    assert (trend.account_name, trend.upgrade_id) == (ACCOUNT, UPGRADE)
    assert [night.succeeded for night in trend.nights] == [0, 1, 2]
    assert trend.succeeded_delta == 1
    assert trend.nights_without_progress == 0
    assert found.transitions == {
        (ACCOUNT, UPGRADE): [Transition("RequestPending", "UpgradeSuccess", 1)]
    }
    # `nights` keeps the last ones.
    assert [night.succeeded for night in read(path, nights=2).fleet] == [1, 2]


def test_an_sqlite_error_in_the_history_is_the_state_databases_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    commit_nights(path, 2)

    def broken(connection: sqlite3.Connection, *, nights: int, stalled_after: int) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(history, "read_trends", broken)

    with pytest.raises(StateError, match=r"state database .*state.db is corrupt"):
        read(path)


def test_the_report_draws_the_history_through_the_cli(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    commit_nights(state, 3)
    fields: dict[str, object] = dict.fromkeys(CampaignRecord.__struct_fields__)
    fields.update(
        run_id="r", outcome="ok", attempts=1, account_name=ACCOUNT, upgrade_id=UPGRADE,
        device_count=4, device_status_counts={"RequestPending": 2, "UpgradeSuccess": 2},
        device_phase_counts={"pending": 2, "succeeded": 2}, devices_duplicate=0,
    )  # fmt: skip
    run = RunRecord(
        "r", 2, "2026-11-26T02:00:00.000Z", "2026-11-26T02:05:00.000Z", 300.0, 1, 1, 0, 4, 1, 0,
        complete=True, exit_code=0,
    )  # fmt: skip
    records = tmp_path / "night.jsonl"
    records.write_bytes(
        msgspec.json.encode(CampaignRecord(**fields)) + b"\n" + msgspec.json.encode(run)  # type: ignore[arg-type]
    )
    page = tmp_path / "report.html"

    command = ["report", str(records), "--state", str(state), "-o", str(page), "--nights", "9"]
    assert main(command) == 0

    html = page.read_text()
    assert "3 committed nights" in html
    assert html.count('<svg class="fleet"') == 1
    assert html.count('<svg class="spark"') == 1
    assert '<tr class="moved">' in html
    assert "No history yet" not in html
