import anyio
from helpers import FakeClock

from fota_poller.config import PollConfig
from fota_poller.model.stop import RunControl, cut_short
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.throttle import Throttle


def throttle(rate, min_rate=PollConfig.min_rate, recovery_per_s=PollConfig.recovery_per_s):
    clock = FakeClock()
    limiter = RateLimiter(rate)
    slow = Throttle(limiter, min_rate=min_rate, recovery_per_s=recovery_per_s, clock=clock)
    return slow, limiter, clock


def circuit(clock, **poll):
    """The circuit of a run whose `[poll]` config sets `poll` and leaves the rest default."""
    return SharedBackoff(
        RateLimiter(0), BackoffSettings.from_config(PollConfig(**poll)), clock
    ).circuit


def test_a_429_halves_the_rate():
    slow, limiter, clock = throttle(50)
    slow.throttled(sent_at=clock.now)
    assert limiter.rate == 25
    assert slow.slowed


def test_a_429_for_a_request_sent_before_the_last_cut_does_not_cut_again():
    slow, limiter, clock = throttle(50)
    sent_before = clock.now
    clock.now += 0.01
    slow.throttled(sent_at=clock.now)
    slow.throttled(sent_at=sent_before)
    assert limiter.rate == 25
    clock.now += 0.01
    slow.throttled(sent_at=clock.now)
    assert limiter.rate == 12.5


def test_the_rate_never_drops_below_the_floor():
    slow, limiter, clock = throttle(2, min_rate=0.5)
    for _ in range(10):
        clock.now += 1
        slow.throttled(sent_at=clock.now)
    assert limiter.rate == 0.5


def test_the_rate_recovers_linearly_back_to_the_configured_rate():
    slow, limiter, clock = throttle(40, recovery_per_s=0.1)
    slow.throttled(sent_at=clock.now)
    rates = []
    for _ in range(6):
        clock.now += 1
        slow.note_start()
        rates.append(limiter.rate)
    assert rates == [24, 28, 32, 36, 40, 40]
    assert not slow.slowed


def test_with_no_configured_rate_the_observed_rate_is_halved_then_the_limit_lifted():
    slow, limiter, clock = throttle(0, recovery_per_s=0.5)
    for _ in range(100):
        clock.now += 0.01
        slow.note_start()
    slow.throttled(sent_at=clock.now)
    assert 45 <= limiter.rate <= 55
    clock.now += 2
    slow.note_start()
    assert limiter.rate == 0


async def test_the_circuit_opens_after_consecutive_failures_and_charges_none_after():
    breaker = circuit(FakeClock(), circuit_failures=3)
    charged = [breaker.failed(is_probe=False) for _ in range(5)]
    assert charged == [True, True, False, False, False]
    assert breaker.is_open


async def test_an_answer_resets_the_count_of_consecutive_failures():
    breaker = circuit(FakeClock(), circuit_failures=2)
    breaker.failed(is_probe=False)
    breaker.answered()
    assert breaker.failed(is_probe=False)
    assert not breaker.is_open


async def test_while_open_only_one_probe_goes_out_and_its_answer_releases_everyone():
    clock = FakeClock()
    breaker = circuit(clock, circuit_failures=1, circuit_probe_s=5)
    control = RunControl()
    breaker.failed(is_probe=False)
    clock.now += 5
    assert await breaker.enter(control) is True
    turns = []

    async def waiter():
        turns.append(await breaker.enter(control))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert turns == []
        breaker.answered()
    assert turns == [False, False, False]
    assert breaker.probes == 1


async def test_a_failed_probe_doubles_the_wait_before_the_next():
    clock = FakeClock()
    breaker = circuit(clock, circuit_failures=1, circuit_probe_s=1, circuit_probe_max_s=3)
    control = RunControl()
    breaker.answered()  # the API has answered once: its outage gets max_outage_s, not less
    breaker.failed(is_probe=False)
    waits = []
    for _ in range(3):
        clock.now += 100
        assert await breaker.enter(control) is True
        opened = clock.now
        assert breaker.failed(is_probe=True) is False
        waits.append(breaker._probe_at - opened)
    assert waits == [2, 3, 3]


async def test_waiting_on_an_open_circuit_ends_when_the_run_stops():
    breaker = circuit(FakeClock(), circuit_failures=1, circuit_probe_s=1000)
    control = RunControl()
    breaker.failed(is_probe=False)
    turns = []

    async def waiter():
        turns.append(await breaker.enter(control))

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        control.stop(cut_short("test"))
    assert turns == [None]


async def test_a_cancelled_probe_lets_another_request_probe():
    clock = FakeClock()
    shared = SharedBackoff(
        RateLimiter(0), BackoffSettings.from_config(PollConfig(circuit_failures=1)), clock
    )
    control = RunControl()
    shared.circuit.failed(is_probe=False)
    clock.now += 10
    with anyio.CancelScope() as scope:
        async with shared.attempt(control) as attempt:
            assert attempt.is_probe
            scope.cancel()
            await anyio.sleep_forever()
    async with shared.attempt(control) as attempt:
        assert attempt.is_probe
    assert shared.circuit.probes == 2


async def test_an_api_silent_since_the_start_stops_the_run_at_max_startup_outage():
    clock = FakeClock()
    breaker = circuit(clock, circuit_failures=1, max_startup_outage_s=5, max_outage_s=1800)
    control = RunControl()
    breaker.failed(
        is_probe=False,
        outcome="network: 127.0.0.1:9 connection refused",
        host="127.0.0.1:9",
        reason="connection refused",
    )
    clock.now += 5
    assert await breaker.enter(control) is None
    assert control.stop_reason is not None
    assert control.stop_reason.exit_code == 4
    assert "127.0.0.1:9 unreachable for 5 s (connection refused)" in control.stop_reason.message
    assert "poll.max_startup_outage_s" in control.stop_reason.message


async def test_an_outage_after_a_first_answer_keeps_max_outage_patience():
    for first in ("answer", "503"):
        clock = FakeClock()
        breaker = circuit(clock, circuit_failures=1, max_startup_outage_s=5, max_outage_s=1800)
        control = RunControl()
        if first == "answer":
            breaker.answered()
        else:  # a 503 is an answer too: a server is there
            breaker.failed(
                is_probe=False, outcome="HTTP 503", host="127.0.0.1:9", reason="HTTP 503"
            )
        breaker.failed(is_probe=False, host="127.0.0.1:9", reason="connection refused")
        clock.now += 60
        assert await breaker.enter(control) is True
        assert control.stop_reason is None
