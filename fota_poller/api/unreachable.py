"""What "no answer" means for an auth request: the host, the reason, and whether it was sent.

A token request or login that gets no HTTP answer is a network failure, not a refusal: the
run treats it as any outage (the circuit in `fota_poller.pacing`), and `check` ends at once
with exit 4. Both name the host and the reason, so that an operator looks at the network,
not at the credentials.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Literal

import aiohttp
from yarl import URL

from fota_poller.errors import NoAuthAnswerError

# What an operator can act on, for the errnos a connect commonly ends with.
_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connect timed out",
}

_KIND_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (aiohttp.ClientConnectorDNSError, "name not resolved"),
    (socket.gaierror, "name not resolved"),
    (aiohttp.ClientConnectorCertificateError, "TLS: certificate verify failed"),
    (aiohttp.ClientSSLError, "TLS: handshake failed"),
    (ssl.SSLError, "TLS: handshake failed"),
    (aiohttp.ServerDisconnectedError, "server disconnected without an answer"),
)


def host_of(url: str | URL) -> str:
    """`host:port` of a URL, the port always written (the default of its scheme if left out)."""
    parsed = URL(url) if isinstance(url, str) else url
    return f"{parsed.host}:{parsed.port}"


def reason_of(
    exc: BaseException, *, connect_limit_s: float | None = None, answer_limit_s: float | None = None
) -> str:
    """A short reason for a request that got no answer: `connection refused`, `name not resolved`.

    Never the request's URL or headers: only the kind of failure and the OS's word for it.
    """
    # Most specific first: a DNS or certificate error is also a connector (OS) error.
    for kind, reason in _KIND_REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return _timed_out("connection", connect_limit_s)
    if isinstance(exc, TimeoutError):
        return _timed_out("answer", answer_limit_s)
    if isinstance(exc, OSError):
        return _os_reason(exc)
    return str(exc) or type(exc).__name__


def _os_reason(exc: OSError) -> str:
    if exc.errno in _ERRNO_REASONS:
        return _ERRNO_REASONS[exc.errno]
    if isinstance(exc.__cause__, OSError):
        # anyio's "all connection attempts failed" wraps the last attempt's own error.
        return reason_of(exc.__cause__)
    return exc.strerror.lower() if exc.strerror else str(exc) or type(exc).__name__


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server: no connection was ever made."""
    return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def auth_unreachable(what: str, url: str, reason: str, *, sent: bool) -> NoAuthAnswerError:
    """The network failure of an auth request: `auth endpoint unreachable (login): host: why`."""
    kind: Literal["network", "timeout"] = "timeout" if reason.startswith("no ") else "network"
    state = "unavailable" if reason.startswith("HTTP") else "unreachable"
    message = f"auth endpoint {state} ({what}): {host_of(url)}: {reason}"
    return NoAuthAnswerError(kind, message, sent=sent)


def _timed_out(step: str, timeout_s: float | None) -> str:
    return f"no {step} within {timeout_s:g} s" if timeout_s is not None else f"no {step} in time"
