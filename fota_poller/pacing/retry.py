"""How a request is retried: which failures are transient, how long to wait, when to give up.

`fetch_with_retries` wraps the one request path (`UpgradeClient.get`) for any API URL. Each
request first takes an attempt from the run's shared back-off (backoff.py), so the circuit breaker
and the throttle see every request, and a failure the circuit accounts for is not charged to
the campaign.

Written here rather than with stamina or tenacity: both count every attempt against one budget
and sleep on their own clock, while this loop must not charge a campaign for an outage the
circuit caught, must wait out the circuit between attempts, must take Retry-After from the
response, and must wake at once when the run is stopped.
"""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime
from typing import Final, Protocol

import msgspec
from yarl import URL

from fota_poller.api.client import HttpResponse
from fota_poller.api.network_error import where
from fota_poller.config import PollConfig, settings_for
from fota_poller.errors import RequestFailedError
from fota_poller.model.stop import RunControl
from fota_poller.model.tally import AttemptCounter, RunTally
from fota_poller.pacing.backoff import SharedBackoff

TOO_MANY_REQUESTS: Final = 429
# 408 and 429 are the server asking for the same request later; the 5xx are gateways and
# services that are down or overloaded for a moment.
TRANSIENT_STATUSES: Final = frozenset({408, TOO_MANY_REQUESTS, 500, 502, 503, 504})


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Per-campaign limits: attempts, back-off with full jitter, and the Retry-After cap.

    Each field is the `[poll]` key of the same name; the defaults are the config's.
    """

    max_attempts: int
    backoff_initial_s: float
    backoff_max_s: float
    max_retry_after_s: float

    @classmethod
    def from_config(cls, poll: PollConfig) -> RetryPolicy:
        """The policy the `[poll]` config asks for."""
        return settings_for(cls, poll)


class Fetched(msgspec.Struct):
    """How fetching one URL ended: the last response or error, and the requests it took.

    Neither a response nor an error means the run stopped before an answer could be used.
    """

    attempts: int
    response: HttpResponse | None = None
    error: RequestFailedError | None = None


class Getter(Protocol):
    """The one request path: `UpgradeClient.get` or a stand-in."""

    async def get(self, url: URL) -> HttpResponse:
        """GET `url`; raises `RequestFailedError` when there is no usable response."""
        ...


def is_transient(status: int) -> bool:
    """True for an HTTP status worth asking again for."""
    return status in TRANSIENT_STATUSES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header in either form (seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(policy: RetryPolicy, failures: int, rng: random.Random | None = None) -> float:
    """Full jitter: uniform between 0 and the exponential bound for the `failures`-th failure."""
    bound = min(policy.backoff_max_s, policy.backoff_initial_s * 2 ** max(failures - 1, 0))
    return (rng or _jitter).uniform(0, bound)


def retry_delay(policy: RetryPolicy, failures: int, retry_after: str | None) -> float:
    """The server's Retry-After (capped by the policy) when it gave one, else jittered back-off."""
    asked = parse_retry_after(retry_after)
    if asked is not None:
        return min(asked, policy.max_retry_after_s)
    return backoff_delay(policy, failures)


async def fetch_with_retries(
    client: Getter,
    url: URL,
    policy: RetryPolicy,
    backoff: SharedBackoff,
    control: RunControl,
    *,
    counter: AttemptCounter | None = None,
) -> Fetched:
    """GET `url` until an answer that is not transient, the attempts run out, or the run stops.

    Any non-transient answer is returned as it is (the caller decides what a 4xx means); a
    final error (a body over the size cap or unreadable, a redirect) is not retried and, as
    an answer, is not charged to the circuit.
    """
    counter = counter if counter is not None else AttemptCounter()
    charged = 0
    while True:
        async with backoff.attempt(control) as attempt:
            if attempt is None:
                return Fetched(counter.count)
            counter.add()
            retry_after = None
            try:
                response = await client.get(url)
            except RequestFailedError as error:
                if error.final:
                    attempt.answered()
                    return Fetched(counter.count, error=error)
                last = Fetched(counter.count, error=error)
                counts = attempt.failed(
                    f"{error.kind}: {error}", host=where(url), reason=error.reason
                )
            else:
                last = Fetched(counter.count, response=response)
                if not is_transient(response.status):
                    attempt.answered()
                    return last
                retry_after = response.retry_after
                if response.status == TOO_MANY_REQUESTS:
                    attempt.throttled(response.sent_at)
                    counts = True
                else:
                    status = f"HTTP {response.status}"
                    counts = attempt.failed(status, host=where(url), reason=status)
        charged += counts
        if charged >= policy.max_attempts:
            return last
        if not await control.sleep(retry_delay(policy, max(charged, 1), retry_after)):
            return Fetched(counter.count)


# Drawn from the OS so the module keeps no random state of its own.
_jitter = random.SystemRandom()


class RetryingGetter:
    """A `Getter` whose `get` retries transient failures under the run's shared back-off.

    For callers that want one answer per URL and no attempt accounting (discovery pages).
    """

    def __init__(
        self,
        client: Getter,
        policy: RetryPolicy,
        backoff: SharedBackoff,
        control: RunControl,
        tally: RunTally | None = None,
    ) -> None:
        self._client = client
        self._tally = tally
        self._policy = policy
        self._backoff = backoff
        self._control = control

    async def get(self, url: URL) -> HttpResponse:
        """The final answer for `url`; `RequestFailedError` when there is none."""
        fetched = await fetch_with_retries(
            self._client,
            url,
            self._policy,
            self._backoff,
            self._control,
            counter=AttemptCounter(self._tally),
        )
        if fetched.error is not None:
            raise fetched.error
        if fetched.response is None:
            raise RequestFailedError("network", "the run stopped before an answer came")
        return fetched.response
