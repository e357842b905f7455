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

    A rate of 0 means no limit.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._limiter = AsyncLimiter(1, _JITTER_HEADROOM / rate) if rate > 0 else None

    async def acquire(self) -> None:
        """Wait until one more request may start."""
        if self._limiter is not None:
            await self._limiter.acquire()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate})"
