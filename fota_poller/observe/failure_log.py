"""How failed campaigns reach stderr: each at debug, a few warnings a minute, a summary at the end.

A night on which every campaign fails must not write a line per campaign: a million failures
were 310 MB in a cron log. Each failed record is logged at debug; at most `per_minute` of them
a minute also as a warning, then one line says how many more that minute were not shown; at
the end of the run one line gives the counts by `error_kind` (from the run's tally, which
already counts them) and a few shortened examples of each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

import msgspec
import structlog

from fota_poller.model.records import CampaignRecord
from fota_poller.model.tally import RunTally

WARNINGS_PER_MINUTE: Final = 10
EXAMPLES_PER_KIND: Final = 3
_WINDOW_S: Final = 60.0
_EXAMPLE_CHARS: Final = 100
# Failures a stop causes (a deadline, a rejected login): the stop itself was logged once.
_STOP_KINDS: Final = frozenset({"not_polled", "auth"})


class FailureLog:
    """Logs failed campaign records with a bounded number of warning lines; `finish` sums up."""

    def __init__(
        self,
        *,
        per_minute: int = WARNINGS_PER_MINUTE,
        examples_per_kind: int = EXAMPLES_PER_KIND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Bound once: a call on the module's lazy proxy builds a new bound logger each time,
        # which a million debug calls that print nothing would pay for.
        self._log = structlog.get_logger("fota_poller").bind()
        self._debug = self._log.is_enabled_for(logging.DEBUG)
        self._per_minute = per_minute
        self._examples_per_kind = examples_per_kind
        self._clock = clock
        self._window_started: float | None = None
        self._shown = 0
        self._not_shown = 0
        self._examples: dict[str, list[str]] = {}

    def failed(self, record: CampaignRecord) -> None:
        """One failed campaign record: debug always, a warning while this minute has room."""
        kind = record.error_kind or "unknown"
        if self._debug:
            self._log.debug("campaign.failed", **msgspec.structs.asdict(record))
        examples = self._examples.setdefault(kind, [])
        if len(examples) < self._examples_per_kind:
            examples.append(example(record))
        if kind in _STOP_KINDS:
            return
        now = self._clock()
        if self._window_started is None or now - self._window_started >= _WINDOW_S:
            self._report_not_shown()
            self._window_started = now
            self._shown = 0
        if self._shown < self._per_minute:
            self._shown += 1
            self._log.warning("campaign.failed", **_fields(record))
        else:
            self._not_shown += 1

    def failed_in_bulk(self, first: CampaignRecord) -> None:
        """Many records of a stop written at once: keep the first as an example, log nothing."""
        kind = first.error_kind or "unknown"
        examples = self._examples.setdefault(kind, [])
        if len(examples) < self._examples_per_kind:
            examples.append(example(first))

    def finish(self, tally: RunTally) -> None:
        """The end of the run: what was not shown, then one line of counts and examples."""
        self._report_not_shown()
        counts = tally.failed_by_error_kind
        if not counts:
            return
        self._log.warning(
            "run.failures",
            failed=counts.total(),
            by_error_kind=dict(counts.most_common()),
            examples={kind: self._examples.get(kind, []) for kind, _ in counts.most_common()},
        )

    def _report_not_shown(self) -> None:
        if self._not_shown:
            self._log.warning(
                "campaign.failures_not_shown",
                count=self._not_shown,
                window_s=_WINDOW_S,
                hint="every failure is in the campaign records; --log-level debug logs each",
            )
            self._not_shown = 0


def example(record: CampaignRecord) -> str:
    """`account/upgrade id: code: message`, cut to a length that suits one log line."""
    detail = ": ".join(part for part in (record.error_code, record.error_message) if part)
    text = f"{record.account_name}/{record.upgrade_id}: {detail}"
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def _fields(record: CampaignRecord) -> dict[str, object]:
    return {
        "account_name": record.account_name,
        "upgrade_id": record.upgrade_id,
        "error_kind": record.error_kind,
        "error_code": record.error_code,
        "error_message": record.error_message,
        "http_status": record.http_status,
        "attempts": record.attempts,
    }
