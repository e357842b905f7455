"""The run's side of the state database: reads for the workers, staged writes for the writer.

The rule it keeps: a change is committed only once the records that report it are durable.
On stdout a campaign's lines are flushed before its changes are staged, so the writer
commits in batches as it goes. An output file is durable only once renamed into place, so
its changes stay in the open transaction until the pipeline commits them after the rename.
A run that dies in between reports the same changes again the next night: at least once.

A state that fails during the run (disk full) is given up, once, with one error line: the
run's records are still written in full (without change fields from then on), nothing
more is staged, and the run ends with exit 74.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import structlog

from fota_poller.errors import StateWriteError
from fota_poller.model.timestamps import format_timestamp
from fota_poller.state.store import CampaignUpdate, Prior, StateStore

log = structlog.get_logger("fota_poller")

# On stdout, a commit per this many campaigns: a few commits a second at full speed, each
# one fsync, so a run killed at any point repeats at most this many campaigns' changes.
COMMIT_EVERY: Final = 500


class RunState:
    """One run's use of a `StateStore`; `commit_as_written` for a sink durable at each write."""

    def __init__(self, store: StateStore, *, commit_as_written: bool) -> None:
        self._store = store
        self._commit_as_written = commit_as_written
        self.failure: StateWriteError | None = None
        self.campaigns_staged = 0

    def previous(self, account_name: str, upgrade_id: str) -> Prior | None:
        """The campaign's last successful poll; None once the state has failed."""
        if self.failure is not None:
            return None
        try:
            return self._store.previous(account_name, upgrade_id)
        except StateWriteError as exc:
            self._fail(exc)
            return None

    def written(self, update: CampaignUpdate) -> None:
        """The campaign's lines are written: stage its changes, and commit if they are durable."""
        if self.failure is not None:
            return
        try:
            self._store.stage(update)
            self.campaigns_staged += 1
            if self._commit_as_written and self._store.staged >= COMMIT_EVERY:
                self._store.commit(_now())
        except StateWriteError as exc:
            self._fail(exc)

    def finish(self, *, records_durable: bool) -> None:
        """The run is over: commit what its durable records report, or roll it all back."""
        if self.failure is not None:
            return
        if not records_durable:
            # Their records may be lost: the next run reports these campaigns' changes again.
            log.warning(
                "state.rolled_back", path=str(self._store.path), campaigns=self._store.staged
            )
            self._store.rollback()
            return
        try:
            self._store.commit(_now())
        except StateWriteError as exc:
            self._fail(exc)
            return
        log.info("state.committed", path=str(self._store.path), campaigns=self.campaigns_staged)

    def _fail(self, exc: StateWriteError) -> None:
        self.failure = exc
        self._store.rollback()
        log.error("state.failed", path=str(self._store.path), error=str(exc))


def _now() -> str:
    return format_timestamp(datetime.now(UTC))
