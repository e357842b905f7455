"""Nights of history committed through the real store, for the history's tests."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from fota_poller.state.history import HistoryRow, quiet_nights, read_trends
from fota_poller.state.schema import open_database
from fota_poller.state.store import CampaignUpdate, StateStore
from fota_poller.state.times import to_ms

ACCOUNT = "0000123456-00001"
DAY = timedelta(days=1)
START = datetime(2026, 11, 1, 2, tzinfo=UTC)


def text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def night(path, run, moment, *, upgrade="u1", devices=10, succeeded=0, failed=0, moved=0, days=180):
    """One run committing one campaign's night (its devices by phase; no device rows)."""
    with StateStore.open(path) as store:
        store.start_run(run, text(moment), history_days=days)
        stage_night(store, moment, upgrade=upgrade, devices=devices, succeeded=succeeded,
                    failed=failed, moved=moved)  # fmt: skip
        store.commit(text(moment))


def stage_night(store, moment, *, upgrade="u1", devices=10, succeeded=0, failed=0, moved=0):
    """Stage one campaign's night in the store's run (not committed)."""
    prior = store.previous(ACCOUNT, upgrade)
    quiet = quiet_nights(moved, None if prior.recent is None else prior.recent.quiet)
    pending = devices - succeeded - failed
    row = HistoryRow(
        to_ms(moment), devices, succeeded, failed, pending, 0, None, None, moved, quiet,
        prior.last_run,
    )  # fmt: skip
    store.stage(
        CampaignUpdate(
            key=prior.key, account_name=ACCOUNT, upgrade_id=upgrade, status="InProgress",
            device_count=devices, polled_at=text(moment), upserts=[], deletes=[], night=row,
            transitions=[("RequestPending", "UpgradeSuccess", moved)] if moved else [],
        )
    )  # fmt: skip


def trends(path, stalled_after=3):
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        return {
            t.upgrade_id: t for t in read_trends(connection, nights=30, stalled_after=stalled_after)
        }
