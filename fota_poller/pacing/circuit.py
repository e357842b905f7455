"""The circuit breaker: consecutive failures pause every worker until one probe gets an answer.

While the circuit is open, one probe request goes out after a wait that doubles with each
failed probe; the first answer (from the probe or a request still in flight) closes it.
Failures while it is open, and the one that opens it, are the outage's, not a campaign's.
While it stays open, a warning every `circuit_reminder_s` (a minute) says since when and
what the last probe got, so a long outage is never silent in the logs.

Until the API has answered anything (an HTTP status, even a 503), the run's patience is
`max_startup_outage_s`, counted from the start: a host name that does not resolve or a
port that refuses at the very start is a wrong base URL far more often than an outage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import structlog

from fota_poller.api.network_error import down_as, unreachable_for
from fota_poller.model.stop import RunControl, cut_short

log = structlog.get_logger("fota_poller")


class CircuitBreaker:
    """Closed, or open with one probe at a time; every worker waits while it is open.

    The values are the `[poll]` keys of the same names (see `BackoffSettings`):
    `circuit_failures` consecutive failures open it, the first probe goes out
    `circuit_probe_s` after that, the wait doubles up to `circuit_probe_max_s`, and an
    outage of `max_outage_s` stops the run. While it is open, `backoff.circuit_still_open`
    is logged every `circuit_reminder_s`.
    """

    def __init__(
        self,
        *,
        circuit_failures: int,
        circuit_probe_s: float,
        circuit_probe_max_s: float,
        max_outage_s: float,
        max_startup_outage_s: float,
        circuit_reminder_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._circuit_failures = circuit_failures
        self._max_outage_s = max_outage_s
        self._max_startup_outage_s = max_startup_outage_s
        self._started_at = clock()
        # Whether a server has answered anything yet, and whether anything has failed.
        self._heard = False
        self._failed_once = False
        self._opened_at = 0.0
        self._opened_wall = datetime.now(UTC)  # when it opened, for the reminder's `since`
        self._circuit_probe_s = circuit_probe_s
        self._circuit_probe_max_s = circuit_probe_max_s
        self._clock = clock
        self._consecutive_failures = 0
        self.is_open = False
        self._probing = False
        self._probe_wait = circuit_probe_s
        self._probe_at = 0.0
        self._changed: anyio.Event | None = None
        self.probes = 0
        self._circuit_reminder_s = circuit_reminder_s
        self._remind_at = math.inf
        # What the last failure (the probe's, once one went out) got, for the reminder; and
        # its host and reason apart, for the records of campaigns an outage leaves unpolled.
        self._last_failure = "no answer"
        self._last_cause: tuple[str, str] | None = None

    async def enter(self, control: RunControl) -> bool | None:
        """Wait for a turn: False for a normal request, True for the probe, None if stopped."""
        while control.stop_reason is None:
            now = self._clock()
            if self._silent_since_start(now):
                log.error(
                    "backoff.outage_too_long",
                    seconds=round(now - self._started_at),
                    last=self._last_failure,
                    setting="poll.max_startup_outage_s",
                )
                control.stop(cut_short(self._startup_outage_message()))
                break
            if not self.is_open:
                return False
            if now - self._opened_at >= self._max_outage_s:
                log.error(
                    "backoff.outage_too_long",
                    seconds=round(now - self._opened_at),
                    last=self._last_failure,
                )
                control.stop(cut_short(self._outage_message()))
                break
            self.remind_if_due()
            if not self._probing and now >= self._probe_at:
                self._probing = True
                self.probes += 1
                return True
            wait_s = math.inf if self._probing else self._probe_at - now
            # Wake for the reminder too: a waiting worker is the one that says it.
            wait_s = max(min(wait_s, self._remind_at - now), 0.0)
            if not self._heard:
                startup_left = self._started_at + self._max_startup_outage_s - now
                wait_s = max(min(wait_s, startup_left), 0.0)
            await _wait_for_change(self._event(), control, wait_s)
        return None

    def _silent_since_start(self, now: float) -> bool:
        """True once nothing has answered since the start for `max_startup_outage_s`."""
        return (
            not self._heard
            and self._failed_once
            and now - self._started_at >= self._max_startup_outage_s
        )

    def _startup_outage_message(self) -> str:
        limit = self._max_startup_outage_s
        if self._last_cause is None:
            outage = f"the API answered nothing for {limit:g} s"
        else:
            host, reason = self._last_cause
            outage = unreachable_for(host, limit, reason)
        return (
            f"not polled: {outage} from the start of the run, the longest "
            "poll.max_startup_outage_s allows before a first answer (is api.base_url right?)"
        )

    def _outage_message(self) -> str:
        """Why the campaigns left are not polled: the host, for how long, the last reason."""
        if self._last_cause is None:
            return (
                f"the API answered nothing for {self._max_outage_s:g} s "
                "(poll.max_outage_s) before this campaign"
            )
        host, reason = self._last_cause
        outage = unreachable_for(host, self._max_outage_s, reason)
        return f"not polled: {outage}, the longest outage poll.max_outage_s allows"

    def remind_if_due(self) -> None:
        """Log `backoff.circuit_still_open` if the circuit is open and a reminder is due."""
        now = self._clock()
        if not self.is_open or now < self._remind_at:
            return
        self._remind_at = now + self._circuit_reminder_s
        log.warning(
            "backoff.circuit_still_open",
            since=self._opened_wall.isoformat(timespec="seconds").replace("+00:00", "Z"),
            open_s=round(now - self._opened_at),
            probes=self.probes,
            last_probe=self._last_failure if self.probes else "no probe yet",
            next_probe_in_s=None if self._probing else max(round(self._probe_at - now), 0),
        )

    def answered(self) -> None:
        """The server answered: the circuit closes."""
        self._consecutive_failures = 0
        self._probing = False
        self._heard = True
        if self.is_open:
            self.is_open = False
            self._probe_wait = self._circuit_probe_s
            self._remind_at = math.inf
            log.info("backoff.circuit_closed", open_s=round(self._clock() - self._opened_at))
            self._notify()

    def failed(
        self,
        is_probe: bool,
        outcome: str | None = None,
        *,
        host: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """A failure; True if it is the campaign's to count (the circuit did not account for it).

        `outcome` says what the request got (`HTTP 503`, `127.0.0.1:9 connection refused`);
        `host` and `reason` say it apart (`127.0.0.1:9`, `connection refused`).
        """
        self._failed_once = True
        if reason is not None and down_as(reason) == "unavailable":
            self._heard = True  # an HTTP status (a 503): a server is there, the URL is right
        if is_probe or not self.is_open:
            if outcome is not None:
                self._last_failure = outcome
            if host is not None and reason is not None:
                self._last_cause = (host, reason)
        if self.is_open:
            if is_probe:
                self._probing = False
                self._probe_wait = min(self._probe_wait * 2, self._circuit_probe_max_s)
                self._probe_at = self._clock() + self._probe_wait
                self._notify()
            return False
        self._consecutive_failures += 1
        if self._consecutive_failures < self._circuit_failures:
            return True
        self.is_open = True
        self._opened_at = self._clock()
        self._opened_wall = datetime.now(UTC)
        self._probe_at = self._opened_at + self._probe_wait
        self._remind_at = self._opened_at + self._circuit_reminder_s
        log.warning(
            "backoff.circuit_opened", failures=self._consecutive_failures, last=self._last_failure
        )
        return False

    def abandon_probe(self) -> None:
        """The probe ended with no verdict (cancelled): let another request probe now."""
        if self._probing:
            self._probing = False
            self._probe_at = self._clock()
            self._notify()

    def _event(self) -> anyio.Event:
        if self._changed is None:
            self._changed = anyio.Event()
        return self._changed

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


async def _wait_for_change(event: anyio.Event, control: RunControl, wait_s: float) -> None:
    """Wait until `event` is set, the run stops, or `wait_s` seconds pass."""
    with anyio.move_on_after(wait_s):
        async with anyio.create_task_group() as group:

            async def until_stopped() -> None:
                await control.wait_stopped()
                group.cancel_scope.cancel()

            group.start_soon(until_stopped)
            await event.wait()
            group.cancel_scope.cancel()
