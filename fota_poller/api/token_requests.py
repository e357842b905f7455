"""The auth requests to the gateway: one Bearer token request, one session login, one logout.

Each is a single `POST`, counted, that never follows a redirect (it would carry the
credentials to the host it names). Bearer: `POST /ts/v1/oauth2/token` with the app key and
secret as Basic auth (client credentials). Session: `POST /m2m/v1/session/login` with the
username and password, `POST /m2m/v1/session/logout` at the end of a run.

Five failed logins lock a ThingSpace account: a rejection is never retried, it raises
`AuthenticationError` (exit 3). A request that got no HTTP answer is not a refusal: it raises
`RequestFailedError` naming the host and the reason (`fota_poller.api.unreachable`), which the
run treats as any outage. Nothing is retried here: when to ask, and sharing the answer between
workers, is `fota_poller.api.token_provider`'s job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Final

import aiohttp
import structlog
from yarl import URL

from fota_poller.api.auth import rejected_token
from fota_poller.api.client import open_session, refused_redirect
from fota_poller.api.credentials import Secret
from fota_poller.api.decode import decode_error
from fota_poller.api.network_error import down_as, where
from fota_poller.api.redact import Redactor
from fota_poller.api.response_body import read_body
from fota_poller.api.token_answers import (
    LOGIN_ANSWER,
    TOKEN_ANSWER,
    IssuedToken,
    LoginOutcome,
    read_answer,
    refuse_unsendable,
)
from fota_poller.api.unreachable import auth_unreachable, never_sent, reason_of
from fota_poller.config import Config
from fota_poller.errors import (
    AuthenticationError,
    ExitCode,
    LoginRejectedError,
    NoAuthAnswerError,
    UnreadableBodyError,
)
from fota_poller.model.tally import RunTally

log = structlog.get_logger("fota_poller")

_OK: Final = 200
# A gateway or service down or overloaded for a moment, or throttling: no verdict on the
# credentials, so a network failure (the run's outage handling), never a refusal.
_UNAVAILABLE: Final = frozenset({408, 429, 500, 502, 503, 504})
# No such route: the base URL is wrong (a path segment too many or too few), not the
# credentials; an exit 2 that names the URL, and no failed login.
_NOT_FOUND: Final = 404


class TokenRequests:
    """Makes the gateway's auth requests over its own HTTP session; `open` before, `close` after.

    Every token it is handed is added to the redactor before anything can log it.
    """

    def __init__(
        self,
        config: Config,
        redactor: Redactor,
        *,
        clock: Callable[[], float] = time.monotonic,
        tally: RunTally,
    ) -> None:
        self._config = config
        base = config.api.base_url.rstrip("/")
        self._token_url = f"{base}/ts/v1/oauth2/token"
        self._login_url = f"{base}/m2m/v1/session/login"
        self._logout_url = f"{base}/m2m/v1/session/logout"
        self._redactor = redactor
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._max_answer_bytes = config.poll.max_response_bytes
        # The run's tally, where the token requests, logins and logouts sent are counted.
        self.tally = tally
        # The logout's network failure, when it got no answer: `check` reports it (exit 4).
        self.logout_unanswered: NoAuthAnswerError | None = None

    def open(self) -> None:
        """Open the HTTP session the requests go over."""
        self._http = open_session(self._config)

    async def close(self) -> None:
        """Close the HTTP session, if it was opened."""
        if self._http is not None:
            await self._http.close()

    async def bearer(self, key: Secret, secret: Secret) -> IssuedToken:
        """A Bearer token for the app key and secret.

        Raises `AuthenticationError` when refused, `NoAuthAnswerError` when unanswered.
        """
        self.tally.token_requests += 1
        sent_at = self._clock()
        status, body = await self._post(
            self._token_url,
            "token request",
            data={"grant_type": "client_credentials"},
            auth=aiohttp.BasicAuth(key.reveal(), secret.reveal()),
        )
        if status == _NOT_FOUND:
            raise self._wrong_url("token request", self._token_url)
        if status != _OK:
            reason = f"the token request was rejected ({_describe(status, body)})"
            raise _rejection(reason, _code(body))
        answer = read_answer(body, TOKEN_ANSWER, "token")
        self._redactor.add(answer.access_token)
        refuse_unsendable(answer.access_token, "token")
        return IssuedToken(answer, sent_at, self._clock())

    async def login(self, authorization: str, username: Secret, password: Secret) -> LoginOutcome:
        """One login with the Bearer `authorization` header; never retried here.

        A refusal raises `AuthenticationError`; no answer raises `NoAuthAnswerError`.
        """
        self.tally.login_requests += 1
        status, body = await self._post(
            self._login_url,
            "login",
            json={"username": username.reveal(), "password": password.reveal()},
            headers={"Authorization": authorization},
        )
        if status == _OK:
            answer = read_answer(body, LOGIN_ANSWER, "login")
            self._redactor.add(answer.session_token)
            refuse_unsendable(answer.session_token, "login")
            return LoginOutcome(session_token=answer.session_token)
        if status == _NOT_FOUND:
            raise self._wrong_url("login", self._login_url)
        if rejected_token(status, body) == "bearer":
            return LoginOutcome(bearer_rejected=True, http_status=status)
        raise LoginRejectedError(
            f"could not authenticate: the session login was rejected "
            f"({_describe(status, body)}); not retried, so that the account is not locked",
            http_status=status,
            error_code=_code(body),
        )

    def _wrong_url(self, what: str, url: str) -> AuthenticationError:
        """The 404 of an auth endpoint: `api.base_url` looks wrong (exit 2), no refusal."""
        base = URL(self._config.api.base_url).with_user(None).with_query(None)
        tried = URL(url).with_user(None).with_query(None)
        return AuthenticationError(
            f"the {what} got HTTP 404 from {tried}: api.base_url {base} looks wrong "
            "(no such route)",
            exit_code=ExitCode.USAGE,
        )

    def logout_given_up(self, limit_s: float) -> None:
        """The logout was cut off after `limit_s` seconds: no answer, logged and kept as one."""
        reason = f"no answer within {limit_s:g} s"
        log.warning(
            "auth.unreachable", request="logout", host=where(self._logout_url), reason=reason
        )
        self.logout_unanswered = auth_unreachable("logout", self._logout_url, reason, sent=True)

    async def logout(self, headers: Mapping[str, str]) -> bool:
        """Close the session the headers carry: True if closed; a failure is only logged."""
        self.tally.logout_requests += 1
        try:
            status, body = await self._post(self._logout_url, "logout", headers=headers)
        except NoAuthAnswerError as exc:
            log.warning("auth.logout_failed", error=str(exc))
            self.logout_unanswered = exc
            return False
        if status == _OK:
            log.debug("auth.session_closed")
            return True
        log.warning("auth.logout_failed", error=_describe(status, body))
        return False

    async def _post(
        self,
        url: str,
        what: str,
        *,
        data: Mapping[str, str] | None = None,
        json: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: aiohttp.BasicAuth | None = None,
    ) -> tuple[int, bytes]:
        if self._http is None:
            msg = "TokenProvider used outside its `async with` block"
            raise RuntimeError(msg)
        try:
            # Never follow a redirect: it would carry the credentials (the body, Basic auth,
            # a Bearer header) to the host it names, and re-send a login (lockout).
            async with self._http.post(
                url, data=data, json=json, headers=headers, auth=auth, allow_redirects=False
            ) as response:
                if HTTPStatus.MULTIPLE_CHOICES <= response.status < HTTPStatus.BAD_REQUEST:
                    raise _rejection(
                        f"{URL(url).path} answered "
                        f"{refused_redirect(response.status, response.headers.get('Location'))}"
                    )
                if response.status in _UNAVAILABLE:
                    reason = f"HTTP {response.status}"
                    log.warning("auth.unavailable", request=what, host=where(url), reason=reason)
                    raise auth_unreachable(what, url, reason, sent=True)
                return response.status, await read_body(response, self._max_answer_bytes)
        except UnreadableBodyError as exc:
            raise _rejection(f"the answer of {URL(url).path} could not be read: {exc}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            poll = self._config.poll
            reason = reason_of(
                exc,
                connect_limit_s=poll.connect_timeout_s,
                answer_limit_s=poll.timeout_s,
                read_limit_s=poll.read_timeout_s,
            )
            # auth.unreachable, or auth.misbehaving for a server that broke HTTP.
            event = "auth.misbehaving" if down_as(reason) == "misbehaving" else "auth.unreachable"
            log.warning(event, request=what, host=where(url), reason=reason)
            raise auth_unreachable(what, url, reason, sent=not never_sent(exc)) from None


def _rejection(reason: str, code: str | None = None) -> AuthenticationError:
    return AuthenticationError(f"could not authenticate: {reason}", error_code=code)


def _code(body: bytes) -> str | None:
    error = decode_error(body)
    return error.code if error is not None else None


def _describe(status: int, body: bytes) -> str:
    """`HTTP 400, REQUEST_FAILED.X`: the status and error code, never the message text.

    Messages can echo what was sent (a username); codes cannot.
    """
    code = _code(body)
    return f"HTTP {status}, {code}" if code else f"HTTP {status}"
