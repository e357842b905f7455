"""How tokens are obtained and renewed: one provider shared by every worker of a run.

Bearer: `POST /ts/v1/oauth2/token` (client credentials). The gateway hands back the token
it already issued, with `expires_in` the remaining whole seconds (truncated, possibly 0),
to anyone who asks before that token expires; so asking early gains nothing. Each answer
bounds the expiry: no earlier than send time + `expires_in`, no later than receive time +
`expires_in` (+1 s when the figure may be truncated). The token is sent until a transit
margin before the earliest expiry; new requests then wait, and the next token is asked
for once the latest expiry has passed, so no request in flight meets an expired token and
no token request is wasted. Session: `POST /m2m/v1/session/login`, reused until the API
says it expired. Each renewal is single-flight: a lock per token plus a generation counter,
so when 50 workers see the same expiry, one renews and 49 wait and reuse its answer.

Five failed logins lock a ThingSpace account, so a rejected login or token request is
never retried: it fails the run. Only a login that got no answer is tried again, and no
more than `max_login_attempts` logins are made in a whole run, whatever happens.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Final, NoReturn, Self, TypeVar

import aiohttp
import anyio
import msgspec
import structlog
from yarl import URL

from fota_poller.api.auth import RejectedToken, RequestAuth, rejected_token
from fota_poller.api.client import open_session, refused_redirect
from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.decode import decode_error
from fota_poller.api.redact import Redactor
from fota_poller.api.response_body import UnreadableBodyError, read_body
from fota_poller.config import Config
from fota_poller.errors import AuthenticationError
from fota_poller.observe.tally import RunTally

log = structlog.get_logger("fota_poller")

_Answer = TypeVar("_Answer")

# The documented Bearer lifetime, assumed when an answer leaves `expires_in` out.
_DEFAULT_BEARER_LIFETIME_S: Final = 3600.0
# A request must reach the gateway before the token expires: stop sending it this long
# before the earliest expiry (twice the token request's round trip, at least this much,
# but no more than a tenth of what is left, for tokens that live seconds in tests).
_MIN_TRANSIT_MARGIN_S: Final = 1.0
_TRANSIT_MARGIN_SHARE: Final = 0.1
# `expires_in` is whole seconds, truncated: the expiry may be up to this much later.
_TRUNCATION_S: Final = 1.0
# Token answers in a row with `expires_in` 0: after the one a renewal can meet just before
# an expiry, the gateway is stuck, and asking on would pause the run for good.
_MAX_EXPIRED_ANSWERS: Final = 3
# Attempts for one token request that gets no answer (a rejection is never retried).
_TOKEN_ATTEMPTS: Final = 3
_LOGOUT_TIMEOUT_S: Final = 10.0
_OK: Final = 200


class _TokenAnswer(msgspec.Struct):
    access_token: str
    # Some OAuth servers send the number as a string; either is read.
    expires_in: float | str | None = None

    def lifetime(self) -> float:
        """Seconds the token has left: 0 means now; the documented hour when not said."""
        try:
            seconds = float(self.expires_in) if self.expires_in is not None else math.nan
        except ValueError:
            seconds = math.nan
        return max(seconds, 0.0) if math.isfinite(seconds) else _DEFAULT_BEARER_LIFETIME_S


class _LoginAnswer(msgspec.Struct, rename="camel"):
    session_token: str


class _NoAnswerError(Exception):
    """The auth request got no HTTP answer (connection failed or timed out)."""


class _Slot:
    """One token: its value, when to stop sending it, and a generation bumped by every renewal."""

    def __init__(self, pre_issued: Secret | None) -> None:
        self.value = pre_issued.reveal() if pre_issued is not None else None
        self.generation = 0 if self.value is None else 1
        # A pre-issued token has no known expiry: it is used until the API rejects it.
        self.use_until = float("inf")  # no request starts with it from then on
        self.ask_at = float("inf")  # it has surely expired: a token request gets a new one
        self.obtained = False  # the value came from this provider's token request
        self.expired_answers = 0
        self.lock = anyio.Lock()


def bearer_schedule(
    sent_at: float, received_at: float, expires_in: float, *, fresh: bool
) -> tuple[float, float]:
    """(use until, ask at) for a token answer: stop sending it, then ask for the next one.

    The expiry lies in [sent_at + expires_in, received_at + expires_in] for a token issued by
    this very request (`fresh`), one second later at most when `expires_in` is a remaining
    lifetime truncated to whole seconds.
    """
    earliest = sent_at + expires_in
    latest = received_at + expires_in + (0.0 if fresh else _TRUNCATION_S)
    margin = max(_MIN_TRANSIT_MARGIN_S, 2 * (received_at - sent_at))
    return earliest - min(margin, expires_in * _TRANSIT_MARGIN_SHARE), latest


class TokenProvider:
    """Gives every request valid auth headers; use as `async with TokenProvider(...) as tokens`.

    Leaving the block logs out of a session the provider opened.
    """

    def __init__(
        self,
        config: Config,
        credentials: Credentials,
        *,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        max_login_attempts: int = 3,
        retry_backoff_s: float = 1.0,
        tally: RunTally | None = None,
    ) -> None:
        self._config = config
        base = config.api.base_url.rstrip("/")
        self._token_url = f"{base}/ts/v1/oauth2/token"
        self._login_url = f"{base}/m2m/v1/session/login"
        self._logout_url = f"{base}/m2m/v1/session/logout"
        self._credentials = credentials
        self._redactor = redactor if redactor is not None else Redactor()
        self._clock = clock
        self._sleep = sleep
        self._max_login_attempts = max_login_attempts
        self._retry_backoff_s = retry_backoff_s
        self._bearer = _Slot(credentials.bearer_token)
        self._session = _Slot(credentials.session_token)
        self._session_opened = False
        self._login_attempts = 0
        self._failure: AuthenticationError | None = None
        self._auth: RequestAuth | None = None
        self._http: aiohttp.ClientSession | None = None
        self._max_answer_bytes = int(config.poll.max_response_mb * 1024 * 1024)
        # The run's tally, where the token requests, logins and logouts sent are counted.
        self.tally = tally if tally is not None else RunTally()

    async def __aenter__(self) -> Self:
        self._http = open_session(self._config)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Shielded: a run cut short by a signal still closes the session it opened.
        with anyio.CancelScope(shield=True), anyio.move_on_after(_LOGOUT_TIMEOUT_S):
            await self._logout()
        if self._http is not None:
            await self._http.close()

    async def headers(self) -> RequestAuth:
        """Headers with a Bearer token still safe to send, and a session token.

        Waits while the Bearer token is being renewed at its expiry.
        """
        if self._failure is not None:
            raise self._failure
        await self._bearer_ready()
        session = self._session
        if session.value is None:
            await self._renew_session(session.generation)
        return self._current()

    def ready(self) -> RequestAuth | None:
        """The headers to send now, or None while a token is missing or due for renewal."""
        bearer = self._bearer
        if (
            self._failure is not None
            or bearer.value is None
            or self._session.value is None
            or self._clock() >= bearer.use_until
        ):
            return None
        return self._current()

    async def renew_after_rejection(self, rejected: RejectedToken, sent: RequestAuth) -> None:
        """Renew the rejected token unless another worker already has; raise if it cannot be."""
        if rejected == "bearer":
            await self._renew_bearer_rejected(sent.bearer_generation)
        else:
            await self._renew_session(sent.session_generation)

    def __repr__(self) -> str:
        tally = self.tally
        return (
            f"TokenProvider(<redacted>, token_requests={tally.token_requests}, "
            f"login_requests={tally.login_requests}, logout_requests={tally.logout_requests})"
        )

    def _current(self) -> RequestAuth:
        auth = self._auth
        bearer, session = self._bearer, self._session
        if (
            auth is None
            or auth.bearer_generation != bearer.generation
            or auth.session_generation != session.generation
        ):
            auth = RequestAuth(
                headers={
                    "Authorization": f"Bearer {bearer.value}",
                    "VZ-M2M-Token": session.value or "",
                },
                bearer_generation=bearer.generation,
                session_generation=session.generation,
            )
            self._auth = auth
        return auth

    async def _bearer_ready(self) -> None:
        """Return once the Bearer token may be sent; renew it at its expiry if due."""
        slot = self._bearer
        while slot.value is None or self._clock() >= slot.use_until:
            async with slot.lock:
                if self._failure is not None:
                    raise self._failure
                if slot.value is not None and self._clock() < slot.use_until:
                    return  # another worker renewed it while this one waited
                key, secret = self._app_credentials()
                # Asked before the old token has expired, the gateway would hand it back:
                # new requests wait here meanwhile, rather than meet an expired token.
                wait = slot.ask_at - self._clock()
                if slot.value is not None and 0 < wait < math.inf:
                    await self._sleep(wait)
                log.debug("auth.bearer_renewing", reason="due")
                await self._obtain_bearer(key, secret, rejected=False)

    async def _renew_bearer_rejected(self, seen_generation: int) -> None:
        slot = self._bearer
        async with slot.lock:
            if self._failure is not None:
                raise self._failure
            if slot.generation != seen_generation:
                return  # another worker renewed it while this one waited
            key, secret = self._app_credentials()
            log.debug("auth.bearer_renewing", reason="rejected")
            await self._obtain_bearer(key, secret, rejected=True)

    def _app_credentials(self) -> tuple[Secret, Secret]:
        key, secret = self._credentials.app_key, self._credentials.app_secret
        if key is None or secret is None:
            self._fail(
                "the pre-issued Bearer token was rejected and no app key and secret "
                "were given to obtain a new one"
            )
        return key, secret

    async def _obtain_bearer(self, key: Secret, secret: Secret, *, rejected: bool) -> None:
        for attempt in range(1, _TOKEN_ATTEMPTS + 1):
            self.tally.token_requests += 1
            sent_at = self._clock()
            try:
                status, body = await self._post(
                    self._token_url,
                    data={"grant_type": "client_credentials"},
                    auth=aiohttp.BasicAuth(key.reveal(), secret.reveal()),
                )
            except _NoAnswerError as exc:
                await self._back_off("auth.token_request_unanswered", attempt, _TOKEN_ATTEMPTS, exc)
                continue
            if status != _OK:
                self._fail(
                    f"the token request was rejected ({_describe(status, body)})", _code(body)
                )
            answer = self._decode(body, _TokenAnswer, "token")
            self._take_bearer(answer, sent_at, self._clock(), rejected=rejected)
            return
        self._fail(f"no answer to {_TOKEN_ATTEMPTS} token requests")

    def _take_bearer(
        self, answer: _TokenAnswer, sent_at: float, received_at: float, *, rejected: bool
    ) -> None:
        slot = self._bearer
        self._redactor.add(answer.access_token)
        lifetime = answer.lifetime()
        same = answer.access_token == slot.value
        # A value other than the one this provider held was issued by this request, so its
        # `expires_in` is the whole lifetime; any other may be a truncated remainder.
        fresh = slot.obtained and not same
        slot.use_until, slot.ask_at = bearer_schedule(sent_at, received_at, lifetime, fresh=fresh)
        slot.expired_answers = slot.expired_answers + 1 if lifetime == 0 else 0
        if slot.expired_answers >= _MAX_EXPIRED_ANSWERS:
            self._fail(f"{_MAX_EXPIRED_ANSWERS} token answers in a row said the token expires now")
        slot.obtained = True
        if not same or rejected:
            # A new generation is proven anew (auth_gate); the same token given back after
            # a rejection is a renewal too, so that a second rejection of it ends the run.
            slot.value = answer.access_token
            slot.generation += 1
        log.debug(
            "auth.bearer_obtained",
            expires_in=lifetime,
            same_token=same,
            generation=slot.generation,
        )

    async def _renew_session(self, seen_generation: int) -> None:
        slot = self._session
        async with slot.lock:
            if self._failure is not None:
                raise self._failure
            if slot.generation != seen_generation:
                return
            username, password = self._credentials.username, self._credentials.password
            if username is None or password is None:
                self._fail(
                    "the pre-issued session token was rejected and no username and password "
                    "were given to log in again"
                )
            await self._login(username, password)

    async def _login(self, username: Secret, password: Secret) -> None:
        # Hand-written rather than a retry library: the attempt budget spans the whole run,
        # not one call, and only "no answer" may be retried.
        while self._login_attempts < self._max_login_attempts:
            self._login_attempts += 1
            await self._bearer_ready()
            bearer = self._current()
            self.tally.login_requests += 1
            try:
                status, body = await self._post(
                    self._login_url,
                    json={"username": username.reveal(), "password": password.reveal()},
                    headers={"Authorization": bearer.headers["Authorization"]},
                )
            except _NoAnswerError as exc:
                await self._back_off(
                    "auth.login_unanswered",
                    self._login_attempts,
                    self._max_login_attempts,
                    exc,
                )
                continue
            if status == _OK:
                answer = self._decode(body, _LoginAnswer, "login")
                self._redactor.add(answer.session_token)
                self._session.value = answer.session_token
                self._session.generation += 1
                self._session_opened = True
                log.debug("auth.session_opened", generation=self._session.generation)
                return
            if rejected_token(status, body) == "bearer":
                # The gateway refused the Bearer token: the login never reached the
                # session service, so it cannot count towards a lockout.
                await self._renew_bearer_rejected(bearer.bearer_generation)
                continue
            self._fail(
                f"the session login was rejected ({_describe(status, body)}); not retried, "
                "so that the account is not locked",
                _code(body),
            )
        self._fail(f"no session after {self._max_login_attempts} login attempts in this run")

    async def _logout(self) -> None:
        session = self._session.value
        if not self._session_opened or session is None or self._failure is not None:
            return
        try:
            headers = dict((await self.headers()).headers)
            self.tally.logout_requests += 1
            status, body = await self._post(self._logout_url, headers=headers)
        except (AuthenticationError, _NoAnswerError) as exc:
            log.warning("auth.logout_failed", error=str(exc))
            return
        if status == _OK:
            log.debug("auth.session_closed")
        else:
            log.warning("auth.logout_failed", error=_describe(status, body))

    async def _post(
        self,
        url: str,
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
                    self._fail(
                        f"{URL(url).path} answered "
                        f"{refused_redirect(response.status, response.headers.get('Location'))}"
                    )
                return response.status, await read_body(response, self._max_answer_bytes)
        except UnreadableBodyError as exc:
            self._fail(f"the answer of {URL(url).path} could not be read: {exc}")
        except TimeoutError:
            raise _NoAnswerError("timeout") from None
        except aiohttp.ClientError as exc:
            raise _NoAnswerError(type(exc).__name__) from None

    async def _back_off(self, event: str, attempt: int, attempts: int, exc: Exception) -> None:
        log.warning(event, attempt=attempt, of=attempts, error=str(exc))
        if attempt < attempts:
            await self._sleep(self._retry_backoff_s * 2 ** (attempt - 1))

    def _decode(self, body: bytes, shape: type[_Answer], what: str) -> _Answer:
        try:
            return msgspec.json.decode(body, type=shape)
        except msgspec.DecodeError:
            self._fail(f"the {what} answer could not be read")

    def _fail(self, reason: str, code: str | None = None) -> NoReturn:
        error = AuthenticationError(f"could not authenticate: {reason}", error_code=code)
        self._failure = error
        log.error("auth.failed", error=str(error))
        raise error


def _code(body: bytes) -> str | None:
    error = decode_error(body)
    return error.code if error is not None else None


def _describe(status: int, body: bytes) -> str:
    """`HTTP 400, REQUEST_FAILED.X`: the status and error code, never the message text.

    Messages can echo what was sent (a username); codes cannot.
    """
    code = _code(body)
    return f"HTTP {status}, {code}" if code else f"HTTP {status}"
