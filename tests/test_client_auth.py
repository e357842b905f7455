import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from fota_poller.auth import RequestAuth, StaticTokens, rejected_token
from fota_poller.client import UpgradeClient
from fota_poller.errors import AuthenticationError
from fota_poller.ratelimit import RateLimiter

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
        assert sent.bearer_generation == self.generation
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
    assert client.requests_total == 2


async def test_token_rejected_again_after_renewals_fails_the_request_with_an_auth_error():
    tokens = CountingTokens()
    async with aiohttp.ClientSession() as session:
        client = UpgradeClient(session, BASE, tokens, RateLimiter(0))
        with aioresponses() as mocked:
            mocked.get(URL_, status=400, payload=SESSION_EXPIRED, repeat=True)
            with pytest.raises(AuthenticationError, match="renewed session token"):
                await client.get(URL_)

    assert tokens.renewed == ["session", "session"]
    assert client.requests_total == 3


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
