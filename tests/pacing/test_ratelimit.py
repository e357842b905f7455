"""The rate limiter on its own: the one-second bound, no burst, and changes of rate."""

from __future__ import annotations

import itertools

import anyio

from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.simulator.counting import max_starts_in_window


async def start_all(limiter: RateLimiter, count: int) -> list[float]:
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        starts.append(anyio.current_time())

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one)
    return starts


async def test_no_one_second_window_holds_more_than_the_rate() -> None:
    starts = await start_all(RateLimiter(20), 45)
    assert len(starts) == 45
    assert max_starts_in_window(starts) == 20


async def test_there_is_no_start_up_burst() -> None:
    starts = sorted(await start_all(RateLimiter(40), 10))
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Evenly spread, one interval apart; the loop may wake a little early but never a
    # whole interval.
    assert min(gaps) > 0.5 / 40


async def test_a_lowered_rate_holds_for_requests_already_waiting() -> None:
    limiter = RateLimiter(100)
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        starts.append(anyio.current_time())
        if len(starts) == 2:
            # The others are queued by now, at the old rate.
            limiter.set_rate(5)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(one)
    starts.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts[1:])]
    assert len(gaps) == 3
    assert min(gaps) > 0.5 / 5


def test_rates_below_one_per_second_allow_one_start_per_period() -> None:
    assert RateLimiter(0.5)._window() == (1, 2.0)
    assert RateLimiter(20)._window() == (20, 1.0)
    assert RateLimiter(2.5)._window() == (2, 1.0)


async def test_zero_means_no_limit() -> None:
    starts = await start_all(RateLimiter(0), 200)
    assert len(starts) == 200
