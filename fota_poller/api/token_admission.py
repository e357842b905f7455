"""Which request may go out with which tokens, and when the API's rejections end the run.

A token the API has not accepted yet (just obtained, renewed, or pre-issued) is *unproven*:
it goes out on one request at a time until one API answer shows it was accepted, so a run
whose every request is refused (a proxy's 401 page, a gateway that will not take the key)
sends one request per token, not one per worker. The cost on a good night is one round
trip per new token value, during which the other workers wait.

A token rejected after a renewal that followed a rejection, with no answer accepted in
between, means the API will not take any token this run can get: the run stops (exit 3)
rather than spend every campaign's attempts. Every call after that raises the same error.

On a request's path: the first step of `UpgradeClient.get` (after the rate limit, before
the GET), and the last, when the client reports the answer (`accepted` or `rejected`).
"""

from __future__ import annotations

from typing import Final, NoReturn, Protocol

import anyio
import anyio.lowlevel
import structlog

from fota_poller.api.auth import RejectedToken, RequestAuth, TokenSource
from fota_poller.api.decode import decode_error
from fota_poller.errors import AuthenticationError, ExitCode

log = structlog.get_logger("fota_poller")

# Answers that say nothing about the tokens: a gateway in trouble, or throttling.
_NO_VERDICT: Final = frozenset({408, 429})
_FIRST_SERVER_ERROR: Final = 500


class Limiter(Protocol):
    """The run's rate limit: `acquire` waits until one more request may start."""

    async def acquire(self) -> None:
        """Wait for a turn."""
        ...


def _key(auth: RequestAuth) -> tuple[int, int]:
    return auth.bearer_generation, auth.session_generation


def _generation(key: tuple[int, int], kind: RejectedToken) -> int:
    return key[0] if kind == "bearer" else key[1]


def accepted_by_api(status: int) -> bool:
    """True when the answer came from past the token checks: a success or a request error."""
    return status < _FIRST_SERVER_ERROR and status not in _NO_VERDICT


class TokenAdmission:
    """Admits requests with the current tokens, one at a time while those are unproven."""

    def __init__(self, tokens: TokenSource, limiter: Limiter) -> None:
        self._tokens = tokens
        self._limiter = limiter
        # The (bearer, session) generations an API answer has accepted, the newest seen.
        self._proven: tuple[int, int] | None = None
        # Set when the request proving a new token has its answer; None while none is out.
        # An event rather than a lock: a lock handed from waiter to waiter would leave none
        # of them free to take it without waiting.
        self._probe_done: anyio.Event | None = None
        # Per token: the generation last rejected, while no answer has accepted a newer one.
        self._rejected: dict[RejectedToken, int] = {}
        self._failure: AuthenticationError | None = None
        self.probes = 0

    def admit(self) -> Admitted:
        """The auth to send one request with, after the rate limit; the caller sends it inside.

        Inside the block the caller reports the answer (`accepted`, or `rejected`, which
        renews the token while later requests still wait if this one was a probe).
        """
        return Admitted(self)

    def probe_answered(self) -> None:
        """`admit`'s end for a request that proved a token: the requests held go out."""
        if self._probe_done is not None:
            self._probe_done.set()
            self._probe_done = None

    def accepted(self, auth: RequestAuth, status: int) -> None:
        """An answer that was no rejection; one from past the token checks proves `auth`."""
        if not accepted_by_api(status):
            return
        proven = self._proven
        if proven is None or (
            auth.bearer_generation >= proven[0] and auth.session_generation >= proven[1]
        ):
            self._proven = _key(auth)
        self._clear("bearer", auth.bearer_generation)
        self._clear("session", auth.session_generation)

    async def rejected(
        self, kind: RejectedToken, auth: RequestAuth, status: int, body: bytes, *, renew: bool
    ) -> None:
        """Count a rejection and renew the token, or raise `AuthenticationError` to end the run.

        `renew` False: the caller's request has had all its renewals; it fails.
        """
        error = decode_error(body)
        code = error.code if error is not None else None
        if kind == "session":
            # The session service answered: the gateway had accepted the Bearer token.
            self._clear("bearer", auth.bearer_generation)
        generation = _generation(_key(auth), kind)
        proven = self._proven
        stale = proven is not None and generation < _generation(proven, kind)
        last = self._rejected.get(kind)
        # A token renewed after a rejection and rejected too, with nothing accepted since: no
        # token this run can get is good. A rejection of a token older than one the API has
        # accepted since is a request that was in flight across a renewal: it counts for nothing.
        again = not stale and last is not None and generation > last
        if again or not renew:
            reason = f"the API rejected the renewed {kind} token ({_describe(status, code)})"
            self._fail(reason, code)
        if last is None and not stale:
            self._rejected[kind] = generation
        try:
            await self._tokens.renew_after_rejection(kind, auth)
        except AuthenticationError as exc:
            # The token source has said why; the API's code for the rejection goes with it.
            self._fail(
                str(exc).removeprefix("could not authenticate: "),
                exc.error_code or code,
                logged=True,
                exit_code=exc.exit_code,
            )

    async def enter(self) -> tuple[RequestAuth, bool]:
        """`admit`'s start: the auth, and whether the request proves a new token."""
        while True:
            # Waits while a token is obtained or renewed at its expiry.
            auth = await self._headers()
            probe = self._probe_done
            if probe is not None and _key(auth) != self._proven:
                await probe.wait()  # a request is proving a token: wait for its answer
            await self._limiter.acquire()
            # The rate-limit wait may have crossed a renewal. Tokens ready without a wait are
            # sent at once; a request that would now wait (a renewal due, or a new token
            # another request is proving) gives its turn up, so that the requests held
            # meanwhile do not start together, above the rate.
            admitted = self._ready()
            if admitted is not None:
                return admitted
            await anyio.lowlevel.checkpoint()

    def _ready(self) -> tuple[RequestAuth, bool] | None:
        """What to send now, and whether it proves a new token; None if it must wait."""
        current = self._tokens.ready()
        if current is None or self._failure is not None:
            return None
        if _key(current) == self._proven:
            return current, False
        if self._probe_done is not None:
            return None  # another request is proving this token
        self._probe_done = anyio.Event()
        self.probes += 1
        return current, True

    async def _headers(self) -> RequestAuth:
        if self._failure is not None:
            raise self._failure
        return await self._tokens.headers()

    def _clear(self, kind: RejectedToken, generation: int) -> None:
        last = self._rejected.get(kind)
        if last is not None and generation >= last:
            del self._rejected[kind]

    def _fail(
        self,
        reason: str,
        code: str | None,
        *,
        logged: bool = False,
        exit_code: ExitCode = ExitCode.AUTH_FAILED,
    ) -> NoReturn:
        if self._failure is None:
            self._failure = AuthenticationError(
                f"could not authenticate: {reason}", error_code=code, exit_code=exit_code
            )
            if not logged:
                log.error("auth.failed", error=str(self._failure), error_code=code)
        raise self._failure


class Admitted:
    """The block `TokenAdmission.admit` gives: the auth on entry, the probe's end on exit.

    A class rather than `contextlib.asynccontextmanager`, whose generator costs 1 us more
    on every request.
    """

    __slots__ = ("_admission", "_probing")

    def __init__(self, admission: TokenAdmission) -> None:
        self._admission = admission
        self._probing = False

    async def __aenter__(self) -> RequestAuth:
        auth, self._probing = await self._admission.enter()
        return auth

    async def __aexit__(self, *exc_info: object) -> None:
        if self._probing:
            self._admission.probe_answered()


def _describe(status: int, code: str | None) -> str:
    return f"HTTP {status}, {code}" if code else f"HTTP {status}"
