"""What a request that got no answer ran into, in words: `127.0.0.1:9 connection refused`.

aiohttp's exceptions say little in their names (`ClientConnectorError`) and much in their
attributes; an operator needs the host and the reason, in the log and in `error_message`.
The host and port come from the URL asked for, never its path or query (which may carry ids).

Three kinds of failure, three words (`down_as`): `unreachable` when no connection could be
made (refused, a name not resolved, TLS, a timeout), `unavailable` when the server answered
that it is down (HTTP 503), `misbehaving` when a server took the connection and broke HTTP:
a bad status line or header, a body cut short, a connection closed instead of an answer.
The first sends the operator to the network, the last to whoever runs that server.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Final

import aiohttp
from yarl import URL

from fota_poller.text import escape_controls

# The reasons an operator recognises, by errno; others fall back to the OS's own words.
_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed",
}

# Checked in order, after TLS: a DNS error is a ClientConnectorError, a timeout may be too.
_CLASS_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (aiohttp.ClientConnectorDNSError, "name not resolved"),
    (socket.gaierror, "name not resolved"),
    (TimeoutError, "timed out"),
    (aiohttp.ServerDisconnectedError, "server disconnected"),
    (aiohttp.ClientPayloadError, "response cut short"),
)

# How the reasons of a server that took the connection and broke HTTP start (`down_as`).
PROTOCOL_REASONS: Final = ("server disconnected", "response cut short", "bad HTTP answer")
# Of aiohttp's parser error: its first line is its reason, in its words (`Invalid status code`).
_PARSER_LINE_CHARS: Final = 80


def where(url: URL | str) -> str:
    """`host:port` of `url`, the port filled in from the scheme when the URL has none."""
    target = URL(url) if isinstance(url, str) else url
    return f"{target.host}:{target.port}"


def network_reason(exc: BaseException) -> str:
    """The reason alone: `connection refused`, `name not resolved`, `TLS: certificate ...`."""
    # The most specific classes first: the DNS and TLS errors are ClientConnectorErrors too.
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS: {_tls_reason(exc.certificate_error)}"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return f"TLS: {_tls_reason(_os_error(exc))}"
    for kind, reason in _CLASS_REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp's parser refused the answer (`Invalid status code:`, then the bytes): its
        # first line, never the URL (ids) nor the server's bytes beyond an excerpt.
        first = str(exc.message).split("\n", 1)[0].rstrip(": ")
        return f"bad HTTP answer: {escape_controls(first[:_PARSER_LINE_CHARS])}"
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return _os_reason(_os_error(exc))
    # Anything else (an invalid URL, a malformed answer): its class says most.
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def down_as(reason: str) -> str:
    """How a failure reads: `unreachable`, `unavailable` (`HTTP 503`) or `misbehaving`.

    `misbehaving`: the server took the connection and broke HTTP; `unreachable`: no connection.
    """
    if reason.startswith("HTTP"):
        return "unavailable"
    if reason.startswith(PROTOCOL_REASONS):
        return "misbehaving"
    return "unreachable"


def unreachable_for(host: str, seconds: float, reason: str) -> str:
    """`127.0.0.1:18080 unreachable for 30 s (connection refused)`: an outage, in words.

    `unavailable` or `misbehaving` instead of `unreachable` when the reason says so (`down_as`).
    """
    return f"{host} {down_as(reason)} for {seconds:g} s ({reason})"


def describe_network_error(exc: BaseException, url: URL | str) -> str:
    """`127.0.0.1:9 connection refused`: the host and port asked, then the reason."""
    return f"{where(url)} {network_reason(exc)}"


def _os_error(exc: BaseException) -> BaseException:
    # A ClientConnectorError keeps the OSError it wraps; plain OSErrors are themselves.
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error
    return exc


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[exc.errno]
        if isinstance(exc.__cause__, OSError):
            # anyio's "all connection attempts failed" wraps the last attempt's own error.
            return network_reason(exc.__cause__)
        if exc.strerror:
            return exc.strerror.lower()
    text = str(exc)
    return text or type(exc).__name__


def _tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        # `verify_message` is OpenSSL's own short reason, e.g. "self-signed certificate".
        # Set by the ssl module on a real handshake; absent on one built by hand.
        detail = getattr(exc, "verify_message", None)
        return f"certificate verify failed ({detail})" if detail else "certificate verify failed"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return _os_reason(exc)
