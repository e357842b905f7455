"""The run-wide back-off that every worker shares: a slower rate after a 429, a circuit on outages.

Per-request retries (retry.py) decide whether and when one campaign asks again; this module
decides whether any request may go out now. Each request takes a `Turn`: it waits while the
circuit (circuit.py) is open, and reports back how it went, so a 429 lowers the shared rate
(throttle.py) and consecutive failures open the circuit. Failures the circuit accounts for
are not charged to any campaign, so a long outage costs a few probes, not every campaign's
attempts.

Written here rather than taken from a library: stamina and tenacity retry one call at a time and
keep no state shared across calls, which is the whole job of this module.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

import msgspec

from fota_poller.config import PollConfig
from fota_poller.pacing.circuit import CircuitBreaker
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.throttle import Throttle
from fota_poller.run.stop import RunControl


class BackoffSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the run slows down for a 429 and how its circuit opens and probes."""

    circuit_failures: int = 5  # consecutive failures that open the circuit
    probe_initial_s: float = 1.0  # first wait before a probe; doubles after each failed probe
    probe_max_s: float = 30.0
    max_outage_s: float = 1800.0  # an outage this long ends the run
    min_rate: float = 0.5  # request starts per second the throttle never goes below
    # Share of the ceiling rate regained per second after a 429: from half the rate back to
    # the full rate takes five seconds.
    recovery_per_s: float = 0.1

    @classmethod
    def from_config(cls, poll: PollConfig) -> BackoffSettings:
        """The settings the `[poll]` config asks for."""
        return cls(
            circuit_failures=poll.circuit_failures,
            probe_initial_s=poll.circuit_probe_s,
            probe_max_s=poll.circuit_probe_max_s,
            max_outage_s=poll.max_outage_s,
        )


class Turn:
    """One request's permission to go out, and how it reports back."""

    def __init__(self, backoff: SharedBackoff, is_probe: bool) -> None:
        self._backoff = backoff
        self.is_probe = is_probe
        self.reported = False

    def answered(self) -> None:
        """The server answered with anything but a transient failure."""
        self.reported = True
        self._backoff.circuit.answered()

    def throttled(self, sent_at: float) -> None:
        """The server answered 429: it is up, and wants fewer requests."""
        self.answered()
        self._backoff.throttle.throttled(sent_at)

    def failed(self) -> bool:
        """No answer, or a transient 5xx/408; True if the campaign should count it."""
        self.reported = True
        return self._backoff.circuit.failed(self.is_probe)


class SharedBackoff:
    """The throttle and the circuit breaker of one run, for every request of every worker."""

    def __init__(
        self,
        limiter: RateLimiter,
        settings: BackoffSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings if settings is not None else BackoffSettings()
        self.throttle = Throttle(
            limiter,
            min_rate=settings.min_rate,
            recovery_per_s=settings.recovery_per_s,
            clock=clock,
        )
        self.circuit = CircuitBreaker(
            failures_to_open=settings.circuit_failures,
            probe_initial_s=settings.probe_initial_s,
            probe_max_s=settings.probe_max_s,
            max_outage_s=settings.max_outage_s,
            clock=clock,
        )

    @contextlib.asynccontextmanager
    async def turn(self, control: RunControl) -> AsyncIterator[Turn | None]:
        """Wait for the circuit to let a request out; yields None if the run stopped first."""
        is_probe = await self.circuit.enter(control)
        if is_probe is None:
            yield None
            return
        self.throttle.note_start()
        turn = Turn(self, is_probe)
        try:
            yield turn
        finally:
            if is_probe and not turn.reported:
                self.circuit.abandon_probe()
