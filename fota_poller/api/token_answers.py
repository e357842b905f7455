"""What the token and login endpoints answer: the shapes, read and checked before use.

An answer that cannot be read, or whose token no header can carry, is an auth failure
(`AuthenticationError`, exit 3) here, before the token is stored or sent.
"""

from __future__ import annotations

import math
from typing import Final, TypeVar

import msgspec

from fota_poller.decoding import decode
from fota_poller.errors import AuthenticationError, InputDecodeError

_Answer = TypeVar("_Answer")

# The documented Bearer lifetime (docs/thingspace.md), assumed when an answer leaves
# `expires_in` out.
_DEFAULT_BEARER_LIFETIME_S: Final = 3600.0


class TokenAnswer(msgspec.Struct):
    """The gateway's answer to a token request."""

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


class IssuedToken(msgspec.Struct, frozen=True):
    """A token answer and the clock readings around its request, which bound its expiry."""

    answer: TokenAnswer
    sent_at: float
    received_at: float


class LoginOutcome(msgspec.Struct, frozen=True):
    """What one login attempt gave: a session, or a refused Bearer token."""

    session_token: str | None = None
    # The gateway refused the Bearer token: the login never reached the session service,
    # so it cannot count towards a lockout.
    bearer_rejected: bool = False
    # The answer's status: 401 or 403 when the Bearer token was refused.
    http_status: int = 200


class LoginAnswer(msgspec.Struct, rename="camel"):
    """The session service's answer to a login."""

    session_token: str


TOKEN_ANSWER: Final = msgspec.json.Decoder(TokenAnswer)
LOGIN_ANSWER: Final = msgspec.json.Decoder(LoginAnswer)


def read_answer(body: bytes, decoder: msgspec.json.Decoder[_Answer], what: str) -> _Answer:
    """The answer decoded; an unreadable one is an auth failure (exit 3), never a traceback."""
    try:
        return decode(decoder.decode, body)
    except InputDecodeError as exc:
        raise AuthenticationError(
            f"could not authenticate: the {what} answer could not be read: {exc.reason}"
        ) from None


def refuse_unsendable(token: str, what: str) -> None:
    """Refuse a token no header can carry as it is: empty, or holding a control character.

    A CR or LF would end the header (aiohttp raises), and any C0, DEL or non-ASCII character
    is no token the gateway issues. The token itself is never shown.
    """
    if not token or not token.isascii() or not token.isprintable():
        raise AuthenticationError(
            f"could not authenticate: the {what} answer's token is empty or holds a control "
            "or non-ASCII character; refused, never sent"
        )
