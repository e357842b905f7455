"""The simulator's auth side: OAuth token, session login/logout, and the check every API call gets.

Lifetimes are settable so tests can expire tokens in a second, and the clock can be
injected so tests can expire them without waiting. Five consecutive failed logins lock
the account, after which even the right password is refused, as ThingSpace does.
With `same_token` (`simulate --faults sametoken`) the token endpoint answers exactly as the
gateway does: the same token until it has expired, `expires_in` the remaining whole seconds.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import time
from argparse import Namespace
from collections.abc import Callable, Mapping
from typing import Final

import msgspec
from aiohttp import web

from fota_poller.api.credentials import APP_KEY_ENV, APP_SECRET_ENV, PASSWORD_ENV, USERNAME_ENV
from fota_poller.simulator.answers import ServiceError, json_response

TOKEN_ROUTE: Final = "/ts/v1/oauth2/token"  # noqa: S105 - a path, not a secret
LOGIN_ROUTE: Final = "/m2m/v1/session/login"
LOGOUT_ROUTE: Final = "/m2m/v1/session/logout"

# A token request within this share of the end of the current token's lifetime gets a new
# one; earlier, the same token comes back (as the docs say). Modelled on the WSO2 gateway's
# timestamp skew (unconfirmed for ThingSpace); it lets a client renew just before expiry.
_REISSUE_SHARE: Final = 0.25
_MAX_REISSUE_WINDOW_S: Final = 300.0


class SimulatorAuthOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The credentials the simulator accepts and how long its tokens live."""

    app_key: str = "sim-app-key"
    app_secret: str = "sim-app-secret"  # noqa: S105 - the simulator's own, documented
    username: str = "sim-user"
    password: str = "sim-password"  # noqa: S105 - the simulator's own, documented
    bearer_ttl_s: float = 3600.0
    session_idle_ttl_s: float = 1200.0
    lockout_after: int = 5
    # The gateway's own way: no early reissue window (see `_REISSUE_SHARE`).
    same_token: bool = False


@dataclasses.dataclass
class AuthStats:
    """What the auth endpoints have seen, and what the API check rejected."""

    token_requests: int = 0
    token_failures: int = 0
    tokens_issued: int = 0
    tokens_reused: int = 0  # token requests answered with the current, unexpired token
    login_requests: int = 0
    login_failures: int = 0
    sessions_issued: int = 0
    logout_requests: int = 0
    expired_bearer_rejections: int = 0
    expired_session_rejections: int = 0
    locked: bool = False


class _Fault(msgspec.Struct, frozen=True):
    code: str
    message: str
    description: str


class _GatewayError(msgspec.Struct, frozen=True):
    """The API gateway's body for a rejected Bearer token."""

    fault: _Fault


class _OAuthError(msgspec.Struct, frozen=True):
    error: str
    error_description: str


class _TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str
    expires_in: int | float
    scope: str


class _SessionAnswer(msgspec.Struct, frozen=True, rename="camel"):
    session_token: str


class _Login(msgspec.Struct, frozen=True):
    username: str = ""
    password: str = ""


_MISSING_CREDENTIALS: Final = _GatewayError(
    _Fault("900902", "Missing Credentials", "Required authentication information is not provided")
)
_INVALID_CREDENTIALS: Final = _GatewayError(
    _Fault(
        "900901",
        "Invalid Credentials",
        "Invalid Credentials. Make sure you have given the correct access token",
    )
)
_MISSING_SESSION: Final = ServiceError(
    "REQUEST_FAILED.SessionToken.Format", "Session token is missing."
)
_INVALID_SESSION: Final = ServiceError(
    "REQUEST_FAILED.SessionToken.Invalid", "Invalid session token."
)
_EXPIRED_SESSION: Final = ServiceError(
    "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired", "The Session has expired."
)
# The login failure shapes are not documented; these follow the M2M error shape.
_BAD_LOGIN: Final = ServiceError(
    "UnifiedWebService.REQUEST_FAILED.InvalidCredentials", "Invalid username or password."
)
_LOCKED: Final = ServiceError(
    "UnifiedWebService.REQUEST_FAILED.AccountLocked", "The account is locked; contact support."
)
_BAD_CLIENT: Final = _OAuthError("invalid_client", "Client Authentication failed.")
_BAD_GRANT: Final = _OAuthError("unsupported_grant_type", "Unsupported grant_type value")

_NO_EXPIRY: Final = float("inf")


class SimulatorAuth:
    """The tokens the simulator has issued and the checks and endpoints that use them."""

    def __init__(
        self,
        options: SimulatorAuthOptions,
        static_bearer: str,
        static_session: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.stats = AuthStats()
        self.issued: list[str] = []
        self._clock = clock
        # Pre-issued tokens never expire, so clients with fixed tokens keep working.
        self._bearers: dict[str, float] = {static_bearer: _NO_EXPIRY}
        self._current_bearer: str | None = None
        self._sessions: dict[str, float] = {}
        self._static_session = static_session
        self._consecutive_login_failures = 0
        self._expected_basic = "Basic " + base64.b64encode(
            f"{options.app_key}:{options.app_secret}".encode()
        ).decode("ascii")

    def register(self, app: web.Application) -> None:
        """Add the token, login and logout routes to app."""
        app.router.add_post(TOKEN_ROUTE, self.token)
        app.router.add_post(LOGIN_ROUTE, self.login)
        app.router.add_post(LOGOUT_ROUTE, self.logout)

    def check(self, request: web.Request) -> web.Response | None:
        """The answer refusing an API request's tokens, or None when both are good."""
        rejection = self._bearer_refusal(request)
        if rejection is not None:
            return rejection
        session = request.headers.get("VZ-M2M-Token")
        if session is None:
            return json_response(web.HTTPBadRequest.status_code, _MISSING_SESSION)
        if session == self._static_session:
            return None
        last_used = self._sessions.get(session)
        if last_used is None:
            return json_response(web.HTTPBadRequest.status_code, _INVALID_SESSION)
        now = self._clock()
        if now - last_used > self.options.session_idle_ttl_s:
            self.stats.expired_session_rejections += 1
            return json_response(web.HTTPBadRequest.status_code, _EXPIRED_SESSION)
        self._sessions[session] = now
        return None

    async def token(self, request: web.Request) -> web.Response:
        """`POST /ts/v1/oauth2/token`: client credentials in Basic auth, a form body."""
        self.stats.token_requests += 1
        form = await request.post()
        if not secrets.compare_digest(
            request.headers.get("Authorization", "").encode(), self._expected_basic.encode()
        ):
            self.stats.token_failures += 1
            return json_response(web.HTTPUnauthorized.status_code, _BAD_CLIENT)
        if form.get("grant_type") != "client_credentials":
            self.stats.token_failures += 1
            return json_response(web.HTTPBadRequest.status_code, _BAD_GRANT)
        now = self._clock()
        ttl = self.options.bearer_ttl_s
        current = self._current_bearer
        window = min(_MAX_REISSUE_WINDOW_S, ttl * _REISSUE_SHARE)
        if self.options.same_token:
            window = 0.0
        if current is not None and self._bearers[current] - now > window:
            # Truncated, as the gateway does: 0.9 s left is `expires_in: 0`.
            remaining: float = int(self._bearers[current] - now)
            self.stats.tokens_reused += 1
        else:
            current = self._issue()
            self._bearers[current] = now + ttl
            self._current_bearer = current
            self.stats.tokens_issued += 1
            remaining = int(ttl) if ttl.is_integer() else ttl
        answer = _TokenAnswer(current, "bearer", remaining, "ts.fota ts.m2m")
        return json_response(web.HTTPOk.status_code, answer)

    async def login(self, request: web.Request) -> web.Response:
        """`POST /m2m/v1/session/login`: Bearer header, username and password as JSON."""
        self.stats.login_requests += 1
        rejection = self._bearer_refusal(request)
        if rejection is not None:
            return rejection  # the gateway answered: the session service never saw it
        try:
            login = msgspec.json.decode(await request.read(), type=_Login)
        except msgspec.DecodeError:
            login = _Login()
        right = secrets.compare_digest(
            login.username.encode(), self.options.username.encode()
        ) & secrets.compare_digest(login.password.encode(), self.options.password.encode())
        if self.stats.locked or not right:
            self.stats.login_failures += 1
            self._consecutive_login_failures += 1
            if self._consecutive_login_failures >= self.options.lockout_after:
                self.stats.locked = True
            body = _LOCKED if self.stats.locked else _BAD_LOGIN
            return json_response(web.HTTPBadRequest.status_code, body)
        self._consecutive_login_failures = 0
        session = self._issue()
        self._sessions[session] = self._clock()
        self.stats.sessions_issued += 1
        return json_response(web.HTTPOk.status_code, _SessionAnswer(session))

    async def logout(self, request: web.Request) -> web.Response:
        """`POST /m2m/v1/session/logout`: ends the session named by `VZ-M2M-Token`."""
        self.stats.logout_requests += 1
        rejection = self._bearer_refusal(request)
        if rejection is not None:
            return rejection
        session = request.headers.get("VZ-M2M-Token", "")
        if self._sessions.pop(session, None) is None:
            return json_response(web.HTTPBadRequest.status_code, _INVALID_SESSION)
        return json_response(web.HTTPOk.status_code, _SessionAnswer(session))

    def _bearer_refusal(self, request: web.Request) -> web.Response | None:
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return json_response(web.HTTPUnauthorized.status_code, _MISSING_CREDENTIALS)
        scheme, _, token = authorization.partition(" ")
        expires_at = self._bearers.get(token) if scheme == "Bearer" else None
        if expires_at is None:
            return json_response(web.HTTPUnauthorized.status_code, _INVALID_CREDENTIALS)
        if self._clock() >= expires_at:
            self.stats.expired_bearer_rejections += 1
            return json_response(web.HTTPUnauthorized.status_code, _INVALID_CREDENTIALS)
        return None

    def _issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self.issued.append(token)
        return token


def simulator_auth_options(
    args: Namespace, environ: Mapping[str, str], *, same_token: bool = False
) -> SimulatorAuthOptions:
    """The `simulate` command's auth options: lifetimes from flags, credentials from environ.

    The credentials it accepts come from the same variables the poller reads, never argv.
    """
    defaults = SimulatorAuthOptions()
    return SimulatorAuthOptions(
        app_key=environ.get(APP_KEY_ENV) or defaults.app_key,
        app_secret=environ.get(APP_SECRET_ENV) or defaults.app_secret,
        username=environ.get(USERNAME_ENV) or defaults.username,
        password=environ.get(PASSWORD_ENV) or defaults.password,
        bearer_ttl_s=args.bearer_ttl,
        session_idle_ttl_s=args.session_idle_ttl,
        same_token=same_token,
    )
