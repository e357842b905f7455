"""What "no answer" means for an auth request: the host, the reason, and whether it was sent.

A token request or login that gets no HTTP answer is a network failure, not a refusal: the
run treats it as any outage (the circuit in `fota_poller.pacing`), and `check` ends at once
with exit 4. Both name the host and the reason, so that an operator looks at the network,
not at the credentials.
"""

from __future__ import annotations

from typing import Literal

import aiohttp

from fota_poller.api.network_error import down_as, network_reason, where
from fota_poller.errors import NoAuthAnswerError


def reason_of(
    exc: BaseException,
    *,
    connect_limit_s: float | None = None,
    answer_limit_s: float | None = None,
    read_limit_s: float | None = None,
) -> str:
    """A short reason for a request that got no answer: `connection refused`, `name not resolved`.

    The words are network_error.py's, the ones a polled campaign's error gets too; only a
    timeout says which limit ran out (connect, socket read, or the whole answer), and a
    dropped connection that nothing was answered on. Never the request's URL or headers.
    """
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected without an answer"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return _timed_out("connection", connect_limit_s)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        # Nothing came for the socket read limit: a silent server, whatever the total limit.
        return _timed_out("answer", read_limit_s if read_limit_s is not None else answer_limit_s)
    if isinstance(exc, TimeoutError):
        return _timed_out("answer", answer_limit_s)
    return network_reason(exc)


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server: no connection was ever made."""
    return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def auth_unreachable(what: str, url: str, reason: str, *, sent: bool) -> NoAuthAnswerError:
    """The network failure of an auth request: `auth endpoint unreachable (login): host: why`."""
    kind: Literal["network", "timeout"] = "timeout" if reason.startswith("no ") else "network"
    message = f"auth endpoint {down_as(reason)} ({what}): {where(url)}: {reason}"
    return NoAuthAnswerError(kind, message, sent=sent, reason=reason)


def _timed_out(step: str, timeout_s: float | None) -> str:
    return f"no {step} within {timeout_s:g} s" if timeout_s is not None else f"no {step} in time"
