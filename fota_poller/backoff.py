"""The run-wide back-off that every worker shares: a slower rate after a 429, a circuit on outages.

Per-request retries (retry.py) decide whether and when one campaign asks again; this module
decides how fast the whole run may ask. A 429 halves the effective request rate, which then
climbs back linearly; a run of consecutive connection errors, timeouts or 5xx opens a circuit:
all workers wait, one probe request goes out at growing intervals, and the first answer closes
the circuit again. Failures the circuit accounts for are not charged to any campaign, so a long
outage costs a few probes instead of every campaign's attempts.

Written here rather than taken from a library: stamina and tenacity retry one call at a time and
have no state shared across calls, which is the whole job of this module.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

import anyio
import msgspec
import structlog

from fota_poller.config import PollConfig
from fota_poller.control import RunControl
from fota_poller.ratelimit import RateLimiter

log = structlog.get_logger("fota_poller")

Clock = Callable[[], float]


class BackoffSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the run slows down for a 429 and how its circuit opens and probes."""

    circuit_failures: int = 5  # consecutive failures that open the circuit
    probe_initial_s: float = 1.0  # first wait before a probe; doubles after each failed probe
    probe_max_s: float = 30.0
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
        )


class Throttle:
    """Lowers the limiter's rate multiplicatively on a 429 and raises it back linearly."""

    def __init__(self, limiter: RateLimiter, settings: BackoffSettings, clock: Clock) -> None:
        self._limiter = limiter
        self._settings = settings
        self._clock = clock
        self._configured = limiter.rate  # 0 means no limit
        self._ceiling = limiter.rate
        self._slowed_to: float | None = None
        self._slowed_at = -math.inf
        # Request starts of the last second: with no configured rate, the rate seen when the
        # first 429 arrives is the one to halve.
        self._recent_starts: deque[float] = deque()
        self._first_start: float | None = None

    @property
    def slowed(self) -> bool:
        """True while the rate is below the configured one."""
        return self._slowed_to is not None

    def note_start(self) -> None:
        """Count one request start, and regain rate as time passes since the last 429."""
        now = self._clock()
        if self._first_start is None:
            self._first_start = now
        if self._configured == 0 and self._slowed_to is None:
            self._recent_starts.append(now)
            while self._recent_starts and self._recent_starts[0] <= now - 1.0:
                self._recent_starts.popleft()
        self._recover(now)

    def throttled(self, sent_at: float) -> None:
        """A 429 answered a request sent at `sent_at` (time.monotonic())."""
        if sent_at < self._slowed_at:
            # Sent at the rate already given up: that rate has been halved once for it.
            return
        now = self._clock()
        current = self._limiter.rate
        if current == 0:
            current = self._observed_rate(now)
            self._ceiling = current
        rate = max(self._settings.min_rate, current / 2)
        self._slowed_to = rate
        self._slowed_at = now
        self._limiter.set_rate(rate)
        log.info("backoff.rate_lowered", rate=round(rate, 2))

    def _observed_rate(self, now: float) -> float:
        # Starts in the last second, scaled up when the run is younger than a second.
        span = min(1.0, now - (self._first_start if self._first_start is not None else now))
        return max(len(self._recent_starts) / max(span, 0.05), 1.0)

    def _recover(self, now: float) -> None:
        if self._slowed_to is None:
            return
        step = self._ceiling * self._settings.recovery_per_s
        rate = self._slowed_to + step * (now - self._slowed_at)
        if rate >= self._ceiling:
            self._slowed_to = None
            self._recent_starts.clear()
            self._limiter.set_rate(self._configured)
            log.info("backoff.rate_restored", rate=self._configured)
        elif rate - self._limiter.rate >= step / 4:
            # A new bucket starts empty, so the rate moves in quarter-second steps, not on
            # every request.
            self._limiter.set_rate(rate)


class CircuitBreaker:
    """Closed, or open with one probe at a time; every worker waits while it is open."""

    def __init__(self, settings: BackoffSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._consecutive_failures = 0
        self.is_open = False
        self._probing = False
        self._probe_wait = settings.probe_initial_s
        self._probe_at = 0.0
        self._changed: anyio.Event | None = None
        self.probes = 0

    async def enter(self, control: RunControl) -> bool | None:
        """Wait for a turn: False for a normal request, True for the probe, None if stopped."""
        while control.stop_reason is None:
            if not self.is_open:
                return False
            now = self._clock()
            if not self._probing and now >= self._probe_at:
                self._probing = True
                self.probes += 1
                return True
            wait_s = math.inf if self._probing else self._probe_at - now
            await _wait_for_change(self._event(), control, wait_s)
        return None

    def answered(self) -> None:
        """The server answered: the circuit closes."""
        self._consecutive_failures = 0
        self._probing = False
        if self.is_open:
            self.is_open = False
            self._probe_wait = self._settings.probe_initial_s
            log.info("backoff.circuit_closed")
            self._notify()

    def failed(self, is_probe: bool) -> bool:
        """A failure; True if it is the campaign's to count (the circuit did not account for it)."""
        if self.is_open:
            if is_probe:
                self._probing = False
                self._probe_wait = min(self._probe_wait * 2, self._settings.probe_max_s)
                self._probe_at = self._clock() + self._probe_wait
                self._notify()
            return False
        self._consecutive_failures += 1
        if self._consecutive_failures < self._settings.circuit_failures:
            return True
        self.is_open = True
        self._probe_at = self._clock() + self._probe_wait
        log.warning("backoff.circuit_opened", failures=self._consecutive_failures)
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
        clock: Clock = time.monotonic,
    ) -> None:
        settings = settings if settings is not None else BackoffSettings()
        self.throttle = Throttle(limiter, settings, clock)
        self.circuit = CircuitBreaker(settings, clock)

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
