"""How requests are authenticated: the headers a request carries, and what a rejection means.

On a request's path: `token_admission` takes a `RequestAuth` from a `TokenSource` before the GET,
and `rejected_token` reads the answer after it. `TokenSource` is what the request path
needs; `fota_poller.api.token_provider.TokenProvider` obtains and renews the tokens
(`fota_poller.testing.StaticTokens` serves fixed ones to tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, Self

import msgspec

from fota_poller.api.decode import decode_error

RejectedToken = Literal["bearer", "session"]

# Matched on the suffix: the service prefix varies (`UnifiedWebService.REQUEST_FAILED...`);
# the codes are in docs/thingspace.md.
_SESSION_CODE_SUFFIXES = ("SessionToken.Expired", "SessionToken.Invalid", "SessionToken.Format")
# Whatever the body says (the gateway's fault 900901/900902, a proxy's HTML page, a format
# not seen yet), these two statuses mean the request's credentials were refused.
_REFUSED = frozenset({401, 403})
_BAD_REQUEST = 400


class RequestAuth(msgspec.Struct, frozen=True):
    """The auth headers for a request, and which generation of each token they carry."""

    headers: Mapping[str, str]
    bearer_generation: int = 0
    session_generation: int = 0

    @classmethod
    def of(cls, bearer: str | None, session: str | None, generations: tuple[int, int]) -> Self:
        """The headers ThingSpace wants (`Authorization: Bearer`, `VZ-M2M-Token`)."""
        headers = {"Authorization": f"Bearer {bearer}", "VZ-M2M-Token": session or ""}
        return cls(headers, *generations)

    @property
    def generations(self) -> tuple[int, int]:
        """The generation of the Bearer token and of the session token these headers carry."""
        return self.bearer_generation, self.session_generation

    def __repr__(self) -> str:
        return (
            f"RequestAuth(<redacted>, bearer_generation={self.bearer_generation}, "
            f"session_generation={self.session_generation})"
        )


class TokenSource(Protocol):
    """Anything that can give the auth headers for a request and renew a rejected token."""

    async def headers(self) -> RequestAuth:
        """The Authorization and VZ-M2M-Token headers, valid as far as the source knows."""
        ...

    def ready(self) -> RequestAuth | None:
        """The headers `headers` would give now without waiting, or None if it would wait."""
        ...

    async def renew_after_rejection(self, rejected: RejectedToken, sent: RequestAuth) -> None:
        """Renew the token the API rejected (once, however many requests saw it) or raise.

        Raises `AuthenticationError` when the token cannot be renewed.
        """
        ...


def rejected_token(status: int, body: bytes) -> RejectedToken | None:
    """Which token an answer rejects: a SessionToken code -> session, any other 401/403 -> bearer.

    A 401 or 403 is an authentication problem whatever its body: the Bearer token is the
    one it most likely concerns (the gateway checks it first), and renewing it costs no
    login. Cheap for every other answer: only a 400, 401 or 403 body is decoded.
    """
    if status not in _REFUSED and status != _BAD_REQUEST:
        return None
    error = decode_error(body)
    if error is not None and error.code is not None and error.code.endswith(_SESSION_CODE_SUFFIXES):
        return "session"
    return "bearer" if status in _REFUSED else None
