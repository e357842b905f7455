"""The request rate limit, shared by every worker."""

from __future__ import annotations

from aiolimiter import AsyncLimiter

# aiolimiter's AsyncLimiter(R, 1) starts with an empty bucket and lets nearly 2R
# requests through in the first second; a bucket of one refilled every 1/R seconds
# never bursts. The interval is stretched by 10 ms per second of requests so that
# network jitter cannot push R + 1 starts into one second as the server sees them;
# that costs 1% of the rate.
_JITTER_HEADROOM = 1.01


class RateLimiter:
    """At most `rate` request starts in any one-second window, with no start-up burst.

    A rate of 0 means no limit. `set_rate` changes the effective rate while the run goes on
    (the shared back-off lowers it after a 429 and raises it again as the server recovers).
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._limiter = _bucket(rate)
        self._unprimed = False

    async def acquire(self) -> None:
        """Wait until one more request may start."""
        while True:
            limiter = self._limiter
            if limiter is None:
                return
            if self._unprimed:
                # A new bucket starts empty and would let one request out at once: fill it,
                # so the first start at a changed rate comes one interval after the change.
                self._unprimed = False
                await limiter.acquire()
            await limiter.acquire()
            # Let through by a bucket replaced while waiting: queue again on the current
            # one, so a lowered rate holds for the requests already waiting too.
            if limiter is self._limiter:
                return

    def set_rate(self, rate: float) -> None:
        """Change the effective rate from now on; 0 lifts the limit."""
        if rate != self.rate:
            self.rate = rate
            self._limiter = _bucket(rate)
            self._unprimed = True

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate})"


def _bucket(rate: float) -> AsyncLimiter | None:
    return AsyncLimiter(1, _JITTER_HEADROOM / rate) if rate > 0 else None
