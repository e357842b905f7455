"""The run's request rate after a 429: halved at once, then regained linearly.

Only a 429 for a request sent after the last cut cuts again: the answers to requests already
sent at the old rate say nothing about the new one. The rate moves by replacing the limiter's
bucket (ratelimit.py), so every worker slows down together.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import structlog

from fota_poller.pacing.ratelimit import RateLimiter

log = structlog.get_logger("fota_poller")


class Throttle:
    """Lowers the limiter's rate multiplicatively on a 429 and raises it back linearly.

    `min_rate` and `recovery_per_s` are `PollConfig`'s (see `BackoffSettings`).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        min_rate: float,
        recovery_per_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = limiter
        self._min_rate = min_rate
        self._recovery_per_s = recovery_per_s
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
        rate = max(self._min_rate, current / 2)
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
        step = self._ceiling * self._recovery_per_s
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
