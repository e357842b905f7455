"""The open circuit's reminder: a warning every minute, timed by a clock moved by hand."""

import anyio
import structlog
from helpers import FakeClock

from fota_poller.config import PollConfig
from fota_poller.model.stop import RunControl
from fota_poller.pacing.circuit import CircuitBreaker


def _open_circuit(clock: FakeClock) -> CircuitBreaker:
    """An open circuit with the run's reminder interval (`PollConfig`: a minute)."""
    breaker = CircuitBreaker(
        circuit_failures=2,
        circuit_probe_s=1.0,
        circuit_probe_max_s=30.0,
        max_outage_s=1800.0,
        max_startup_outage_s=1800.0,
        clock=clock,
        circuit_reminder_s=PollConfig.circuit_reminder_s,
    )
    breaker.failed(is_probe=False, outcome="HTTP 503")
    breaker.failed(is_probe=False, outcome="network: 127.0.0.1:9 connection refused")
    assert breaker.is_open
    return breaker


def _reminders(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == "backoff.circuit_still_open"]


async def test_an_open_circuit_says_every_minute_since_when_and_what_the_last_probe_got():
    clock = FakeClock()
    with structlog.testing.capture_logs() as logs:
        breaker = _open_circuit(clock)
        opened = [entry for entry in logs if entry["event"] == "backoff.circuit_opened"]
        assert opened[0]["last"] == "network: 127.0.0.1:9 connection refused"
        clock.now += 59
        breaker.remind_if_due()
        assert _reminders(logs) == []
        clock.now += 1
        breaker.remind_if_due()
        breaker.remind_if_due()  # many waiting workers wake: one line, not one each
        assert len(_reminders(logs)) == 1
        assert _reminders(logs)[0]["last_probe"] == "no probe yet"
        assert _reminders(logs)[0]["open_s"] == 60
        # A probe fails with another answer; the next reminder says what it got.
        assert await breaker.enter(RunControl()) is True
        breaker.failed(is_probe=True, outcome="HTTP 502")
        clock.now += 60
        breaker.remind_if_due()
    reminders = _reminders(logs)
    assert len(reminders) == 2
    assert reminders[1]["open_s"] == 120
    assert reminders[1]["last_probe"] == "HTTP 502"
    assert str(reminders[1]["since"]).endswith("Z")
    assert reminders[0]["since"] == reminders[1]["since"]
    assert reminders[1]["log_level"] == "warning"


async def test_a_failure_of_a_request_that_is_not_the_probe_does_not_change_the_last_probe():
    clock = FakeClock()
    with structlog.testing.capture_logs() as logs:
        breaker = _open_circuit(clock)
        clock.now += 1
        assert await breaker.enter(RunControl()) is True
        breaker.failed(is_probe=True, outcome="HTTP 504")
        breaker.failed(is_probe=False, outcome="HTTP 500")  # one still in flight when it opened
        clock.now += 60
        breaker.remind_if_due()
    assert _reminders(logs)[0]["last_probe"] == "HTTP 504"


def test_a_closed_circuit_never_reminds_and_a_new_outage_starts_its_own_minute():
    clock = FakeClock()
    with structlog.testing.capture_logs() as logs:
        breaker = _open_circuit(clock)
        clock.now += 30
        breaker.answered()
        clock.now += 600
        breaker.remind_if_due()
        assert _reminders(logs) == []
        breaker.failed(is_probe=False, outcome="HTTP 503")
        breaker.failed(is_probe=False, outcome="HTTP 503")
        clock.now += 59
        breaker.remind_if_due()
        assert _reminders(logs) == []
        clock.now += 1
        breaker.remind_if_due()
    assert len(_reminders(logs)) == 1
    closed = [entry for entry in logs if entry["event"] == "backoff.circuit_closed"]
    assert closed[0]["open_s"] == 30


async def test_workers_waiting_on_an_open_circuit_wake_to_say_it_is_still_open(restore_logging):
    # The real clock, a reminder every 20 ms, and a probe in flight that never ends: only the
    # reminder can wake the waiting worker. The test waits on the log line, never on time.
    breaker = CircuitBreaker(
        circuit_failures=1,
        circuit_probe_s=0.0,
        circuit_probe_max_s=30.0,
        max_outage_s=1800.0,
        max_startup_outage_s=1800.0,
        circuit_reminder_s=0.02,
    )
    reminded = anyio.Event()
    seen: list[str] = []

    def hook(_logger: object, _method: str, event: dict[str, object]) -> dict[str, object]:
        seen.append(str(event["event"]))
        if seen.count("backoff.circuit_still_open") == 2:
            reminded.set()
        return event

    structlog.configure(processors=[hook, structlog.testing.LogCapture()])
    breaker.failed(is_probe=False, outcome="HTTP 503")
    control = RunControl()
    assert await breaker.enter(control) is True  # the probe goes out, and stays out
    async with anyio.create_task_group() as group:
        group.start_soon(breaker.enter, control)
        with anyio.fail_after(10):
            await reminded.wait()
        breaker.answered()  # the probe's answer lets the waiting worker through
    assert seen.count("backoff.circuit_still_open") == 2
    assert seen[-1] == "backoff.circuit_closed"
