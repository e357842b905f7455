"""The request rate limit, shared by every worker.

Written here rather than taken from aiolimiter: `AsyncLimiter(1, 1/R)` never bursts, but
each waiter wakes a little late (0.5-1 ms here) and the bucket never makes that time up, so
at R = 20 a run measured 19.5/s, and the interval has to be stretched further still before
a server's one-second window is safe from network jitter. This limiter keeps starts on a
grid one interval apart that a late start catches up with, and checks every start against
the actual starts of the last second, so the bound holds whatever the event loop does.
"""

from __future__ import annotations

import math
from collections import deque

import anyio

# The starts of any one-second window are kept this much further apart than one second, so
# that jitter between here and the server cannot put one start too many into its window.
_WINDOW_MARGIN_S = 0.01


class RateLimiter:
    """At most `rate` request starts in any one-second window, with no start-up burst.

    A rate of 0 means no limit. `set_rate` changes the rate while the run goes on (the
    shared back-off lowers it after a 429 and raises it again as the server recovers).
    Waiters start in the order they arrived.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._starts: deque[float] = deque()
        self._next_slot = -math.inf
        self._turn = anyio.Lock()
        self._changed: anyio.Event | None = None
        self._regrid = False

    async def acquire(self) -> None:
        """Wait until one more request may start."""
        if self.rate <= 0:
            return
        async with self._turn:
            while (wait := self._wait(anyio.current_time())) > 0:
                self._changed = changed = anyio.Event()
                with anyio.move_on_after(wait):
                    await changed.wait()
            self._record_start(anyio.current_time())

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on, for the waiting requests too; 0 lifts the limit."""
        if rate == self.rate:
            return
        self.rate = rate
        # A start at the new rate comes one new interval after the change, not at once.
        self._regrid = True
        if self._changed is not None:
            self._changed.set()

    def _window(self) -> tuple[int, float]:
        """How many starts fit in how long: R per second, or one per 1/R s below 1/s."""
        if self.rate >= 1:
            return math.floor(self.rate), 1.0
        return 1, 1 / self.rate

    def _wait(self, now: float) -> float:
        if self.rate <= 0:
            return 0.0
        if self._regrid:
            self._regrid = False
            self._next_slot = now + 1 / self.rate
        earliest = self._next_slot
        count, window = self._window()
        if len(self._starts) >= count:
            earliest = max(earliest, self._starts[-count] + window + _WINDOW_MARGIN_S)
        return earliest - now

    def _record_start(self, now: float) -> None:
        if self.rate <= 0:
            return
        interval = 1 / self.rate
        slot = self._next_slot
        # Within an interval of its slot, a late start keeps the grid (the next one catches
        # up); a start after an idle spell begins a new grid, so idle time is never banked.
        self._next_slot = (slot if now - slot < interval else now) + interval
        count, _ = self._window()
        self._starts.append(now)
        while len(self._starts) > count:
            self._starts.popleft()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate})"
