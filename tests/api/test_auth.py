import aiohttp
import anyio
import anyio.lowlevel
import pytest
from aioresponses import aioresponses
from yarl import URL

from fota_poller.api.auth import RequestAuth, rejected_token
from fota_poller.api.client import UpgradeClient
from fota_poller.api.token_admission import TokenAdmission
from fota_poller.errors import AuthenticationError
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.testing import StaticTokens

BASE = "http://api.test"
URL_ = URL(f"{BASE}/fota/v1/upgrades/0000123456-00001/upgrade/x")
BEARER_FAULT = {"fault": {"code": "900901", "message": "Invalid Credentials"}}
SESSION_EXPIRED = {
    "errorCode": "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired",
    "errorMessage": "The Session has expired.",
}


class CountingTokens:
    """Renews on request; counts what it was asked to renew."""

    def __init__(self):
        self.generation = 1
        self.renewed = []

    async def headers(self):
        return self.ready()

    def ready(self):
        return RequestAuth(
            headers={"Authorization": f"Bearer b{self.generation}", "VZ-M2M-Token": "s"},
            bearer_generation=self.generation,
        )

    async def renew_after_rejection(self, rejected, sent):
        if sent.bearer_generation != self.generation:
            return  # renewed since that request was sent
        self.renewed.append(rejected)
        self.generation += 1


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b'{"fault": {"code": "900901"}}', "bearer"),
        (401, b'{"fault": {"code": 900902}}', "bearer"),
        (400, b'{"errorCode": "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired"}', "session"),
        (401, b'{"errorCode": "INPUT_INVALID.SessionToken.Invalid"}', "session"),
        (400, b'{"errorCode": "REQUEST_FAILED.SessionToken.Format"}', "session"),
        (400, b'{"fault": {"code": "900901"}}', None),
        (400, b'{"errorCode": "INVALID_PARAMETER", "errorMessage": "Invalid upgradeId"}', None),
        # Any 401 or 403 is a rejection, whatever its body (issue 9).
        (401, b"<html>proxy</html>", "bearer"),
        (403, b"", "bearer"),
        (403, b'{"errorCode": "FORBIDDEN", "errorMessage": "No access"}', "bearer"),
        (403, b'{"errorCode": "REQUEST_FAILED.SessionToken.Expired"}', "session"),
        (400, b"<html>bad request</html>", None),
        (200, b'{"errorCode": "REQUEST_FAILED.SessionToken.Expired"}', None),
    ],
)
def test_rejected_token_reads_the_documented_answers(status, body, expected):
    assert rejected_token(status, body) == expected


async def test_rejected_bearer_is_renewed_and_the_request_sent_again():
    tokens = CountingTokens()
    async with aiohttp.ClientSession() as session:
        client = UpgradeClient(session, BASE, tokens, RateLimiter(0))
        with aioresponses() as mocked:
            mocked.get(URL_, status=401, payload=BEARER_FAULT)
            mocked.get(URL_, status=200, body=b"{}")
            response = await client.get(URL_)
            sent = [
                call.kwargs["headers"]["Authorization"] for call in mocked.requests["GET", URL_]
            ]

    assert response.status == 200
    assert tokens.renewed == ["bearer"]
    assert sent == ["Bearer b1", "Bearer b2"]
    assert client.tally.requests_total == 2


async def test_token_rejected_again_after_renewals_fails_the_request_with_an_auth_error():
    tokens = CountingTokens()
    async with aiohttp.ClientSession() as session:
        client = UpgradeClient(session, BASE, tokens, RateLimiter(0))
        with aioresponses() as mocked:
            mocked.get(URL_, status=400, payload=SESSION_EXPIRED, repeat=True)
            with pytest.raises(AuthenticationError, match="renewed session token"):
                await client.get(URL_)

    assert tokens.renewed == ["session", "session"]
    assert client.tally.requests_total == 3


async def test_static_tokens_cannot_renew_and_say_so_without_the_token():
    tokens = StaticTokens("bearer-value-1", "session-value-1")
    async with aiohttp.ClientSession() as session:
        client = UpgradeClient(session, BASE, tokens, RateLimiter(0))
        with aioresponses() as mocked:
            mocked.get(URL_, status=401, payload=BEARER_FAULT)
            with pytest.raises(AuthenticationError) as caught:
                await client.get(URL_)

    assert "pre-issued bearer token was rejected" in str(caught.value)
    assert "bearer-value-1" not in str(caught.value)
    assert "bearer-value-1" not in repr(tokens)


async def test_a_rejection_from_before_a_renewal_the_api_accepted_counts_for_nothing():
    tokens = CountingTokens()
    admission = TokenAdmission(tokens, RateLimiter(0))
    old = tokens.ready()
    await admission.rejected("bearer", old, 401, b"<html>proxy</html>", renew=True)
    new = tokens.ready()
    admission.accepted(new, 200)

    # A request sent with the old token before the renewal, answered only now.
    await admission.rejected("bearer", old, 401, b"<html>proxy</html>", renew=True)
    # The accepted token expires later: a first rejection again, renewed, not the end.
    await admission.rejected("bearer", new, 401, b"<html>proxy</html>", renew=True)

    assert tokens.renewed == ["bearer", "bearer"]
    # The token renewed after that rejection is refused too, with nothing accepted between.
    fault = b'{"fault": {"code": "900901"}}'
    with pytest.raises(AuthenticationError, match=r"renewed bearer token \(HTTP 403, 900901\)"):
        await admission.rejected("bearer", tokens.ready(), 403, fault, renew=True)


async def test_one_request_at_a_time_carries_a_token_until_the_api_has_accepted_it():
    tokens = CountingTokens()
    in_flight = []
    most = 0

    async def send_one(admission):
        nonlocal most
        async with admission.admit() as auth:
            in_flight.append(auth)
            most = max(most, len(in_flight))
            await anyio.lowlevel.checkpoint()  # the request is out
            in_flight.remove(auth)
            admission.accepted(auth, 200)

    admission = TokenAdmission(tokens, RateLimiter(0))
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(send_one, admission)
    first_wave = most
    most = 0
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(send_one, admission)

    assert first_wave < 20
    assert most == 20
    assert admission.probes == 1
