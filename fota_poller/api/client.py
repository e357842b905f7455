"""How a request is made: one GET of an API URL, with the auth headers, under the rate limit.

On a request's path: the retry policy (`fota_poller.pacing.retry`) calls `UpgradeClient.get`
once per attempt, for an upgrade or a page of discovery's reports. It takes a turn at
`token_admission` (rate limit, then tokens), sends the GET, reads the body with `response_body`,
and reports the answer to the admission, which renews a rejected token. The caller decodes the
body (`decode`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Final
from urllib.parse import quote

import aiohttp
import msgspec
from yarl import URL

from fota_poller._version import __version__
from fota_poller.api.auth import RequestAuth, TokenSource, rejected_token
from fota_poller.api.network_error import describe_network_error, network_reason, where
from fota_poller.api.response_body import ACCEPT_ENCODING, read_body
from fota_poller.api.token_admission import Limiter, TokenAdmission
from fota_poller.config import Config
from fota_poller.errors import AuthenticationError, RequestFailedError, UnreadableBodyError
from fota_poller.model.refs import CampaignRef
from fota_poller.model.tally import RunTally

USER_AGENT = f"fota-poller/{__version__}"

# One renewal per token: a Bearer and then a session rejection can both happen to one request.
# A token rejected again right after its renewal means the API will not take it at all.
_MAX_RENEWALS_PER_REQUEST: Final = 2
# RFC 3986's unreserved characters: what `quote(..., safe="")` leaves as it is.
_UNRESERVED: Final = re.compile(r"[A-Za-z0-9._~-]+")

__all__ = [
    "USER_AGENT",
    "HttpResponse",
    "TokenSource",  # re-exported: the request path's side of the auth contract
    "UpgradeClient",
    "open_session",
    "upgrade_url",
]


class HttpResponse(msgspec.Struct):
    """A whole response: status, body, and when it arrived."""

    status: int
    body: bytes
    received_at: datetime
    elapsed_ms: float
    retry_after: str | None = None  # the Retry-After header as sent, seconds or an HTTP-date
    sent_at: float = 0.0  # time.monotonic() when the request left, after the rate limit

    def take_body(self) -> bytes:
        """The body, handed over: the response no longer holds it, so it is freed once decoded."""
        body, self.body = self.body, b""
        return body


def refused_redirect(status: int, location: str | None) -> str:
    """`HTTP 302 redirect to host evil.example:8443, not followed`: the host, never the URL.

    The rest of `Location` may carry a query with anything in it.
    """
    try:
        target = URL(location) if location else None
    except ValueError:
        return f"HTTP {status} redirect to an unreadable Location, not followed"
    if target is None:
        where = "nowhere (no Location)"
    elif not target.is_absolute():
        where = "a path on the same host"
    else:
        port = target.explicit_port
        where = f"host {target.host}" if port is None else f"host {target.host}:{port}"
    return f"HTTP {status} redirect to {where}, not followed"


def upgrade_url(base_url: str, ref: CampaignRef) -> URL:
    """`{base}/fota/v1/upgrades/{account}/upgrade/{id}` with both segments URL-quoted."""
    account, upgrade = ref.account_name, ref.upgrade_id
    # Ids are almost always made of unreserved characters only, which quoting leaves as they
    # are: one match instead of two quotes (a campaign each).
    if _UNRESERVED.fullmatch(account) is None:
        account = quote(account, safe="")
    if _UNRESERVED.fullmatch(upgrade) is None:
        upgrade = quote(upgrade, safe="")
    return URL(f"{base_url.rstrip('/')}/fota/v1/upgrades/{account}/upgrade/{upgrade}", encoded=True)


def open_session(config: Config) -> aiohttp.ClientSession:
    """An HTTP session sized to the worker pool, with the configured timeouts."""
    poll = config.poll
    # No redirect is ever followed (aiohttp has no session-wide switch: each request passes
    # allow_redirects=False), and bodies are decompressed by `read_body`, under the cap.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=poll.concurrency),
        timeout=aiohttp.ClientTimeout(
            total=poll.timeout_s, connect=poll.connect_timeout_s, sock_read=poll.read_timeout_s
        ),
        headers={
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": USER_AGENT,
        },
        auto_decompress=False,
        raise_for_status=False,
        # The API authenticates by header and needs no cookies; a jar would parse and
        # filter them on every request and answer.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class UpgradeClient:
    """Fetches upgrades; counts every request it starts, 429 and token rejection in `tally`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        tokens: TokenSource,
        limiter: Limiter,
        *,
        tally: RunTally | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        self._session = session
        # Defence in depth: every URL asked for must be on the base URL's origin, so no
        # header or token can go elsewhere even if a URL were ever built wrong.
        self._origin = _origin(URL(base_url))
        self._admission = TokenAdmission(tokens, limiter)
        self._max_body_bytes = max_body_bytes
        self.tally = tally if tally is not None else RunTally()

    async def get(self, url: URL) -> HttpResponse:
        """GET any API URL under the rate limit with the auth headers; the one request path.

        A rejected token (any 401 or 403) is renewed and the request sent again, inside this
        one call, so the renewal never counts as an attempt of the caller's. Raises
        `RequestFailedError` when there is no response, `AuthenticationError` when no token the
        API accepts can be had (its `requests_sent` says how many requests this call made).
        """
        sent = 0
        try:
            while True:
                # Admission: the rate limit first, then the tokens to send.
                async with self._admission.admit() as auth:
                    sent += 1
                    response = await self._send(url, auth)
                    rejected = rejected_token(response.status, response.body)
                    if rejected is None:
                        self._admission.accepted(auth, response.status)
                        return response
                    self.tally.tokens_rejected += 1
                    # Renews the token or raises; it always raises once this request has
                    # had its renewals.
                    await self._admission.rejected(
                        rejected,
                        auth,
                        response.status,
                        response.body,
                        renew=sent <= _MAX_RENEWALS_PER_REQUEST,
                    )
        except AuthenticationError as exc:
            raise AuthenticationError(
                str(exc), error_code=exc.error_code, requests_sent=sent, exit_code=exc.exit_code
            ) from None

    async def _send(self, url: URL, auth: RequestAuth) -> HttpResponse:
        if _origin(url) != self._origin:
            # Final, like a refused redirect: a failed record rather than a crash.
            raise RequestFailedError(
                "http", f"refused to send a request off the API's origin ({url.host}:{url.port})"
            )
        self.tally.requests_total += 1
        started = time.monotonic()
        try:
            # A redirect is an answer, never followed: custom headers such as VZ-M2M-Token
            # would go along to whatever host it names.
            async with self._session.get(
                url, headers=auth.headers, allow_redirects=False
            ) as response:
                if HTTPStatus.MULTIPLE_CHOICES <= response.status < HTTPStatus.BAD_REQUEST:
                    location = response.headers.get("Location")
                    raise RequestFailedError(
                        "http", refused_redirect(response.status, location), response.status
                    )
                body = await read_body(response, self._max_body_bytes)
        except UnreadableBodyError as exc:
            raise RequestFailedError(exc.kind, str(exc), response.status) from None
        except TimeoutError as exc:
            raise RequestFailedError(
                "timeout",
                f"{where(url)} timed out: no complete response within the timeout "
                f"({_elapsed(started):.0f} ms)",
                reason=network_reason(exc),
            ) from None
        except aiohttp.ClientError as exc:
            raise RequestFailedError(
                "network", describe_network_error(exc, url), reason=network_reason(exc)
            ) from None
        if response.status == HTTPStatus.TOO_MANY_REQUESTS:
            self.tally.rate_limited += 1
        return HttpResponse(
            status=response.status,
            body=body,
            received_at=datetime.now(UTC),
            elapsed_ms=_elapsed(started),
            retry_after=response.headers.get("Retry-After"),
            sent_at=started,
        )


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.host, url.port


def _elapsed(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
