import random
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from yarl import URL

from fota_poller.api.client import HttpResponse
from fota_poller.config import PollConfig
from fota_poller.errors import RequestFailedError
from fota_poller.model.stop import RunControl, cut_short
from fota_poller.model.tally import AttemptCounter, RunTally
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import (
    RetryPolicy,
    backoff_delay,
    fetch_with_retries,
    is_transient,
    parse_retry_after,
    retry_delay,
)


def policy_of(**poll):
    """The retry policy of a run whose `[poll]` config sets `poll` and leaves the rest default."""
    return RetryPolicy.from_config(PollConfig(**poll))


NOW = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)
FAST = policy_of(max_attempts=5, backoff_initial_s=0.001, backoff_max_s=0.002)
URL_ = URL("http://127.0.0.1:9/fota/v1/upgrades/a/upgrade/b")


def response(status, retry_after=None):
    return HttpResponse(status, b"{}", NOW, 1.0, retry_after=retry_after, sent_at=0.0)


class ScriptedGetter:
    """Answers from a script: an int status, or an exception to raise."""

    def __init__(self, *script):
        self.script = list(script)
        self.urls = []

    @property
    def calls(self):
        return len(self.urls)

    async def get(self, url):
        self.urls.append(url)
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        return response(*step) if isinstance(step, tuple) else response(step)


def backoff(**poll):
    return SharedBackoff(RateLimiter(0), BackoffSettings.from_config(PollConfig(**poll)))


def test_retry_after_in_seconds_is_read_as_seconds():
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 7 ", NOW) == 7.0


def test_retry_after_as_an_http_date_is_the_time_until_that_date():
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, NOW) == 90.0


def test_retry_after_in_the_past_means_now_and_garbage_means_nothing():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_retry_after_is_capped_by_the_policy():
    policy = policy_of(max_retry_after_s=30)
    assert retry_delay(policy, 1, "3600") == 30
    assert retry_delay(policy, 1, "4") == 4


def test_backoff_is_full_jitter_under_an_exponential_bound():
    policy = policy_of(backoff_initial_s=0.5, backoff_max_s=4)
    rng = random.Random(1)
    for failures, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [backoff_delay(policy, failures, rng) for _ in range(300)]
        assert 0 <= min(delays) < bound / 10
        assert bound * 0.9 < max(delays) <= bound


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status):
    assert is_transient(status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 413])
def test_other_statuses_are_final(status):
    assert not is_transient(status)


async def test_transient_failures_are_retried_until_an_answer():
    getter = ScriptedGetter(
        RequestFailedError("network", "reset"), RequestFailedError("timeout", "stall"), 502, 200
    )
    fetched = await fetch_with_retries(getter, URL_, FAST, backoff(), RunControl())
    assert fetched.response.status == 200
    assert fetched.attempts == 4 == getter.calls


async def test_a_permanent_answer_is_returned_after_one_attempt():
    getter = ScriptedGetter(400)
    fetched = await fetch_with_retries(getter, URL_, FAST, backoff(), RunControl())
    assert fetched.response.status == 400
    assert fetched.attempts == 1


async def test_attempts_run_out_on_the_last_transient_answer():
    getter = ScriptedGetter(*[503] * 10)
    fetched = await fetch_with_retries(
        getter, URL_, FAST, backoff(circuit_failures=100), RunControl()
    )
    assert fetched.response.status == 503
    assert fetched.attempts == 5 == getter.calls


async def test_a_body_over_the_cap_is_not_retried():
    getter = ScriptedGetter(RequestFailedError("too_large", "big"))
    fetched = await fetch_with_retries(getter, URL_, FAST, backoff(), RunControl())
    assert fetched.error.kind == "too_large"
    assert fetched.attempts == 1


async def test_the_retry_waits_what_retry_after_asks():
    getter = ScriptedGetter((429, "1"), 200)
    policy = policy_of(max_retry_after_s=0.05)
    started = anyio.current_time()
    fetched = await fetch_with_retries(getter, URL_, policy, backoff(), RunControl())
    assert fetched.response.status == 200
    assert anyio.current_time() - started >= 0.05


async def test_a_stop_during_the_wait_ends_the_fetch_with_no_answer():
    control = RunControl()
    getter = ScriptedGetter((503, "100"), 200)
    policy = policy_of(max_retry_after_s=100)
    results = []

    async def fetch():
        results.append(await fetch_with_retries(getter, URL_, policy, backoff(), control))

    async with anyio.create_task_group() as group:
        group.start_soon(fetch)
        await anyio.wait_all_tasks_blocked()
        control.stop(cut_short("test"))
    [fetched] = results
    assert fetched.response is None
    assert fetched.error is None
    assert fetched.attempts == getter.calls == 1


async def test_failures_while_the_circuit_is_open_are_not_charged():
    # Two failures open the circuit; the probes that fail after it are not the campaign's.
    getter = ScriptedGetter(*[503] * 6, 200)
    shared = backoff(circuit_failures=2, circuit_probe_s=0.001, circuit_probe_max_s=0.002)
    policy = policy_of(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.001)
    fetched = await fetch_with_retries(getter, URL_, policy, shared, RunControl())
    assert fetched.response.status == 200
    assert fetched.attempts == 7
    assert shared.circuit.probes == 5


async def test_every_repeated_request_is_counted_as_a_retry():
    tally = RunTally()
    getter = ScriptedGetter(502, RequestFailedError("network", "reset"), 200)
    fetched = await fetch_with_retries(
        getter, URL_, FAST, backoff(), RunControl(), counter=AttemptCounter(tally)
    )
    assert fetched.response.status == 200
    assert tally.retries == 2
