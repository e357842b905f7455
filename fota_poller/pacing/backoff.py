"""The run-wide back-off that every worker shares: a slower rate after a 429, a circuit on outages.

Per-request retries (retry.py) decide whether and when one campaign asks again; this module
decides whether any request may go out now. Each request takes a `Attempt`: it waits while the
circuit (circuit.py) is open, and reports back how it went, so a 429 lowers the shared rate
(throttle.py) and consecutive failures open the circuit. Failures the circuit accounts for
are not charged to any campaign, so a long outage costs a few probes, not every campaign's
attempts.

Written here rather than taken from a library: stamina and tenacity retry one call at a time and
keep no state shared across calls, which is the whole job of this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from fota_poller.config import PollConfig, settings_for
from fota_poller.model.stop import RunControl
from fota_poller.pacing.circuit import CircuitBreaker
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.throttle import Throttle


class BackoffSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the run slows down for a 429 and how its circuit opens and probes.

    Each field is the `PollConfig` attribute of the same name (a `[poll]` key, or a fixed
    value of the throttle); the defaults are the config's.
    """

    circuit_failures: int
    circuit_probe_s: float
    circuit_probe_max_s: float
    max_outage_s: float
    max_startup_outage_s: float
    min_rate: float
    recovery_per_s: float
    circuit_reminder_s: float

    @classmethod
    def from_config(cls, poll: PollConfig) -> BackoffSettings:
        """The settings the `[poll]` config asks for."""
        return settings_for(cls, poll)


class Attempt:
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

    def failed(
        self, outcome: str | None = None, *, host: str | None = None, reason: str | None = None
    ) -> bool:
        """No answer, or a transient 5xx/408; True if the campaign should count it."""
        self.reported = True
        return self._backoff.circuit.failed(self.is_probe, outcome, host=host, reason=reason)


class SharedBackoff:
    """The throttle and the circuit breaker of one run, for every request of every worker."""

    def __init__(
        self,
        limiter: RateLimiter,
        settings: BackoffSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.throttle = Throttle(
            limiter,
            min_rate=settings.min_rate,
            recovery_per_s=settings.recovery_per_s,
            clock=clock,
        )
        self.circuit = CircuitBreaker(
            circuit_failures=settings.circuit_failures,
            circuit_probe_s=settings.circuit_probe_s,
            circuit_probe_max_s=settings.circuit_probe_max_s,
            max_outage_s=settings.max_outage_s,
            max_startup_outage_s=settings.max_startup_outage_s,
            circuit_reminder_s=settings.circuit_reminder_s,
            clock=clock,
        )

    def attempt(self, control: RunControl) -> AttemptBlock:
        """Wait for the circuit to let a request out; gives None if the run stopped first."""
        return AttemptBlock(self, control)


class AttemptBlock:
    """The block `SharedBackoff.attempt` gives: an `Attempt` (or None) on entry.

    On exit a probe that reported nothing (cancelled, or an error the caller raised) is
    given up, so another request may probe. A class rather than
    `contextlib.asynccontextmanager`, whose generator costs 1 us more on every request.
    """

    __slots__ = ("_attempt", "_backoff", "_control")

    def __init__(self, backoff: SharedBackoff, control: RunControl) -> None:
        self._backoff = backoff
        self._control = control
        self._attempt: Attempt | None = None

    async def __aenter__(self) -> Attempt | None:
        backoff = self._backoff
        is_probe = await backoff.circuit.enter(self._control)
        if is_probe is None:
            return None
        backoff.throttle.note_start()
        self._attempt = Attempt(backoff, is_probe)
        return self._attempt

    async def __aexit__(self, *exc_info: object) -> None:
        attempt = self._attempt
        if attempt is not None and attempt.is_probe and not attempt.reported:
            self._backoff.circuit.abandon_probe()
