"""What a request with no answer ran into: the host and port, then a reason an operator reads."""

from __future__ import annotations

import errno
import socket
import ssl

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from fota_poller.api.client import UpgradeClient, open_session, upgrade_url
from fota_poller.api.network_error import describe_network_error, network_reason, where
from fota_poller.config import Config
from fota_poller.errors import RequestFailedError
from fota_poller.model.refs import CampaignRef
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.testing import StaticTokens

REF = CampaignRef("0000123456-00001", "e3a8d88a-04c6-4ef3-b039-89b62f91e962")


def _key(host: str, port: int) -> ConnectionKey:
    return ConnectionKey(
        host=host,
        port=port,
        is_ssl=True,
        ssl=True,
        proxy=None,
        proxy_auth=None,
        proxy_headers_hash=None,
    )


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_closed_port_fails_the_request_naming_the_host_and_connection_refused():
    port = closed_port()
    base = f"http://127.0.0.1:{port}/api"
    async with open_session(Config()) as session:
        client = UpgradeClient(session, base, StaticTokens("b", "s"), RateLimiter(0))
        with pytest.raises(RequestFailedError) as caught:
            await client.get(upgrade_url(base, REF))
    assert caught.value.kind == "network"
    assert str(caught.value) == f"127.0.0.1:{port} connection refused"
    # The path (with its account and upgrade id) is not part of it.
    assert REF.upgrade_id not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            aiohttp.ClientConnectorDNSError(
                _key("api.example.invalid", 443), OSError(-2, "Name or service not known")
            ),
            "name not resolved",
        ),
        (
            aiohttp.ClientConnectorCertificateError(
                _key("api.example.test", 443),
                ssl.SSLCertVerificationError(1, "certificate verify failed"),
            ),
            "TLS: certificate verify failed",
        ),
        (
            aiohttp.ClientConnectorError(
                _key("api.example.test", 443), ConnectionRefusedError(errno.ECONNREFUSED, "x")
            ),
            "connection refused",
        ),
        (
            aiohttp.ClientConnectorError(
                _key("api.example.test", 443), OSError(errno.EHOSTUNREACH, "No route to host")
            ),
            "host unreachable",
        ),
        (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), "timed out"),
        (aiohttp.ServerDisconnectedError(), "server disconnected"),
        (aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"), "connection reset"),
        (aiohttp.ClientPayloadError("Response payload is not completed"), "response cut short"),
    ],
)
def test_each_failure_gets_the_reason_an_operator_recognises(error, reason):
    assert network_reason(error) == reason


def test_a_certificate_error_keeps_openssls_short_reason():
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "self-signed certificate"
    error = aiohttp.ClientConnectorCertificateError(_key("h", 443), cause)
    assert network_reason(error) == "TLS: certificate verify failed (self-signed certificate)"


def test_the_host_and_port_come_from_the_url_with_the_schemes_default_port():
    assert where("https://thingspace.verizon.com/api/x?secret=1") == "thingspace.verizon.com:443"
    assert where("http://127.0.0.1:9/api") == "127.0.0.1:9"
    message = describe_network_error(aiohttp.ServerDisconnectedError(), "http://h:8080/a?b=c")
    assert message == "h:8080 server disconnected"


def test_an_unknown_client_error_keeps_its_class_name():
    assert network_reason(aiohttp.InvalidURL("x")) == "InvalidURL: x"
