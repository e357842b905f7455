"""When tokens are renewed: one provider shares the run's tokens between every worker.

The request path asks it for headers (`fota_poller.api.token_admission`); it asks the gateway
for tokens through `fota_poller.api.token_requests`.

Bearer: sent until just before it expires (`fota_poller.api.token_slot` says when), then
asked for again. Session: logged in once, reused until the API says it expired. Each renewal
is single-flight: a lock per token plus a generation counter, so when 50 workers see the
same expiry, one renews and 49 wait and reuse its answer.

A rejected login or token request fails the run (five failed logins lock the account: see
docs/thingspace.md). One that got no answer is a network failure (`NoAuthAnswerError`, a
`RequestFailedError`): it fails only the request that asked, so the run's retries and circuit
treat an unreachable auth endpoint as any outage, and the next request asks again. No more
than `max_login_attempts` logins that may have reached the server are made in a whole run,
whatever happens; a login whose connection was never made does not count. A rejected
login is remembered across runs (`fota_poller.api.login_memory`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Final, NoReturn, Self

import anyio
import structlog

from fota_poller.api.auth import RejectedToken, RequestAuth
from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.login_memory import NO_LOGIN_MEMORY, LoginRecord, remembered
from fota_poller.api.redact import Redactor
from fota_poller.api.token_requests import TokenRequests
from fota_poller.api.token_slot import MAX_EXPIRED_ANSWERS, TokenSlot
from fota_poller.config import Config
from fota_poller.errors import AuthenticationError, NoAuthAnswerError, RequestFailedError
from fota_poller.model.tally import RunTally

log = structlog.get_logger("fota_poller")

_LOGOUT_TIMEOUT_S: Final = 10.0


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
        tally: RunTally | None = None,
        login_memory: LoginRecord = NO_LOGIN_MEMORY,
    ) -> None:
        # Failed logins of earlier runs: a login it refuses is not tried.
        self._login_memory = login_memory
        # The run's tally, where the token requests, logins and logouts sent are counted.
        self.tally = tally if tally is not None else RunTally()
        self._credentials = credentials
        self._clock = clock
        self._sleep = sleep
        self._max_login_attempts = max_login_attempts
        self._requests = TokenRequests(
            config,
            redactor if redactor is not None else Redactor(),
            clock=clock,
            tally=self.tally,
        )
        self._bearer = TokenSlot(credentials.bearer_token)
        self._session = TokenSlot(credentials.session_token)
        self._session_opened = False
        self._login_attempts = 0
        # True once the session this provider opened was closed by a logout it answered.
        self.session_closed = False
        self._failure: AuthenticationError | None = None
        self._auth: RequestAuth | None = None
        # The end-of-run logout's scope while it runs, and whether `cut_logout` gave it up.
        self._logout_scope: anyio.CancelScope | None = None
        self._logout_cut = False

    async def __aenter__(self) -> Self:
        self._requests.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Shielded: a run cut short by a signal still closes the session it opened. Only a
        # signal during the logout itself cuts it short (`cut_logout`).
        with (
            anyio.CancelScope(shield=True) as self._logout_scope,
            anyio.move_on_after(_LOGOUT_TIMEOUT_S) as logout,
        ):
            if not self._logout_cut:
                await self._logout()
        if logout.cancelled_caught:
            self._requests.logout_given_up(_LOGOUT_TIMEOUT_S)
        await self._requests.close()

    def cut_logout(self) -> None:
        """Give up the end-of-run logout (a signal after the run): the session expires alone."""
        self._logout_cut = True
        if self._logout_scope is not None:
            self._logout_scope.cancel()

    async def bearer(self) -> None:
        """Obtain the Bearer token now unless one is held: the first step of `check`.

        Raises `AuthenticationError` when refused, `NoAuthAnswerError` when unanswered.
        """
        if self._failure is not None:
            raise self._failure
        await self._bearer_ready()

    async def headers(self) -> RequestAuth:
        """Headers with a Bearer token still safe to send, and a session token.

        Waits while the Bearer token is being renewed at its expiry.
        """
        if self._failure is not None:
            raise self._failure
        if self._session.value is None and (refusal := self._login_memory.refusal()):
            self._fail(refusal)  # before the Bearer: a barred run sends nothing
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

    @property
    def logout_unanswered(self) -> NoAuthAnswerError | None:
        """The logout's network failure (host and reason) when it got no answer, else None."""
        return self._requests.logout_unanswered

    def __repr__(self) -> str:
        tally = self.tally
        return (
            f"TokenProvider(<redacted>, token_requests={tally.token_requests}, "
            f"login_requests={tally.login_requests}, logout_requests={tally.logout_requests})"
        )

    def _current(self) -> RequestAuth:
        """The headers of the tokens held now: made again only when a token was renewed."""
        bearer, session = self._bearer, self._session
        generations = (bearer.generation, session.generation)
        if self._auth is None or self._auth.generations != generations:
            self._auth = RequestAuth.of(bearer.value, session.value, generations)
        return self._auth

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
        with self._failing():
            issued = await self._requests.bearer(key, secret)
        self._bearer.take_bearer(issued, rejected=rejected)
        if self._bearer.stuck:
            self._fail(f"{MAX_EXPIRED_ANSWERS} token answers in a row expire within a round trip")

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
            if refusal := self._login_memory.refusal():
                self._fail(refusal)
            await self._bearer_ready()
            bearer = self._current()
            self._login_attempts += 1
            try:
                with self._failing():
                    outcome = await remembered(
                        self._login_memory,
                        self._requests.login(bearer.headers["Authorization"], username, password),
                        last_try=self._login_attempts == self._max_login_attempts,
                    )
            except NoAuthAnswerError as exc:
                if not exc.sent:
                    self._login_attempts -= 1  # no connection: the password never left
                raise
            if outcome.session_token is not None:
                self._session.value = outcome.session_token
                self._session.generation += 1
                self._session_opened = True
                log.debug("auth.session_opened", generation=self._session.generation)
                return
            # The gateway refused the Bearer token before the session service saw the login.
            await self._renew_bearer_rejected(bearer.bearer_generation)
        self._fail(f"no session after {self._max_login_attempts} login attempts in this run")

    async def _logout(self) -> None:
        session = self._session.value
        if not self._session_opened or session is None or self._failure is not None:
            return
        try:
            headers = dict((await self.headers()).headers)
            with self._failing():
                self.session_closed = await self._requests.logout(headers)
        except (AuthenticationError, RequestFailedError) as exc:
            log.warning("auth.logout_failed", error=str(exc))

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """A rejection by the gateway fails the run: every later call raises it again."""
        try:
            yield
        except AuthenticationError as error:
            self._record(error)
            raise

    def _fail(self, reason: str) -> NoReturn:
        error = AuthenticationError(f"could not authenticate: {reason}")
        self._record(error)
        raise error

    def _record(self, error: AuthenticationError) -> None:
        self._failure = error
        log.error("auth.failed", error=str(error))
