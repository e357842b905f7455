"""The client layer in isolation (aioresponses): URL, headers, and failures without a response."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yarl
from aioresponses import aioresponses

from fota_poller.api.client import UpgradeClient, open_session, upgrade_url
from fota_poller.config import Config
from fota_poller.errors import RequestFailedError
from fota_poller.model.refs import CampaignRef
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.testing import StaticTokens

BASE = "https://api.example.test/api"
REF = CampaignRef("0000123456-00001", "e3a8d88a-04c6-4ef3-b039-89b62f91e962")
URL = f"{BASE}/fota/v1/upgrades/{REF.account_name}/upgrade/{REF.upgrade_id}"


@pytest.fixture
async def client() -> AsyncIterator[UpgradeClient]:
    async with open_session(Config()) as session:
        yield UpgradeClient(session, BASE, StaticTokens("bearer-x", "session-y"), RateLimiter(0))


def test_path_segments_are_quoted_whatever_they_hold() -> None:
    url = upgrade_url("http://h/api/", CampaignRef("a/b?c", "d#e f"))
    assert str(url) == "http://h/api/fota/v1/upgrades/a%2Fb%3Fc/upgrade/d%23e%20f"


async def test_a_get_sends_both_tokens_and_returns_the_body(client: UpgradeClient) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, status=200, body=b'{"id": "x"}')
        response = await client.get(upgrade_url(BASE, REF))
        [(_, calls)] = mocked.requests.items()
    assert response.status == 200
    assert response.body == b'{"id": "x"}'
    headers = calls[0].kwargs["headers"]
    assert headers["Authorization"] == "Bearer bearer-x"
    assert headers["VZ-M2M-Token"] == "session-y"
    assert client.tally.requests_total == 1


async def test_an_error_status_is_a_response_not_an_exception(client: UpgradeClient) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, status=400, payload={"errorCode": "INVALID_PARAMETER"})
        response = await client.get(upgrade_url(BASE, REF))
    assert response.status == 400


async def test_a_refused_connection_is_a_network_failure(client: UpgradeClient) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, exception=aiohttp.ClientConnectionError("connection refused"))
        with pytest.raises(RequestFailedError) as caught:
            await client.get(upgrade_url(BASE, REF))
    assert caught.value.kind == "network"
    assert "connection refused" in str(caught.value)


async def test_a_timeout_is_a_timeout_failure(client: UpgradeClient) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, exception=TimeoutError())
        with pytest.raises(RequestFailedError) as caught:
            await client.get(upgrade_url(BASE, REF))
    assert caught.value.kind == "timeout"


def test_tokens_never_show_in_repr() -> None:
    tokens = StaticTokens("bearer-secret-1", "session-secret-2")
    assert "secret" not in repr(tokens)


async def test_a_redirect_is_a_final_http_failure_naming_only_the_host(
    client: UpgradeClient,
) -> None:
    target = "http://elsewhere.test:8081/steal?token=abc"
    with aioresponses() as mocked:
        mocked.get(URL, status=302, headers={"Location": target})
        mocked.get(target, status=200, body=b"{}")
        with pytest.raises(RequestFailedError) as caught:
            await client.get(upgrade_url(BASE, REF))
        asked = [str(url) for _, url in mocked.requests]
    assert asked == [URL]
    assert (caught.value.kind, caught.value.status, caught.value.final) == ("http", 302, True)
    assert str(caught.value) == "HTTP 302 redirect to host elsewhere.test:8081, not followed"


async def test_a_gzip_body_over_the_cap_is_too_large_whatever_its_length(
    client: UpgradeClient,
) -> None:
    small = UpgradeClient(
        client._session,
        BASE,
        StaticTokens("b", "s"),
        RateLimiter(0),
        max_body_bytes=1024,
    )
    with aioresponses() as mocked:
        body = gzip.compress(b" " * 100_000)
        mocked.get(URL, status=200, body=body, headers={"Content-Encoding": "gzip"})
        with pytest.raises(RequestFailedError) as caught:
            await small.get(upgrade_url(BASE, REF))
    assert len(body) < 1024
    assert (caught.value.kind, caught.value.status, caught.value.final) == ("too_large", 200, True)


async def test_no_request_leaves_the_api_origin(client: UpgradeClient) -> None:
    with (
        aioresponses() as mocked,
        pytest.raises(RequestFailedError, match="off the API's origin") as caught,
    ):
        await client.get(yarl.URL("https://api.example.test:8443/api/x"))
    assert caught.value.final
    assert client.tally.requests_total == 0
    assert not mocked.requests
