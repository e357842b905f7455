"""One token a run holds: its value, its generation, and when it may be sent.

The gateway hands back the Bearer token it already issued, with `expires_in` the remaining
whole seconds (truncated, possibly 0), to anyone who asks before that token expires; so
asking early gains nothing. Each answer bounds the expiry: no earlier than send time +
`expires_in`, no later than receive time + `expires_in` (+1 s when the figure may be
truncated). The token is sent until a transit margin before the earliest expiry; new
requests then wait, and the next token is asked for once the latest expiry has passed, so no
request in flight meets an expired token and no token request is wasted.
`fota_poller.api.token_provider` holds one slot per token.
"""

from __future__ import annotations

from typing import Final

import anyio
import structlog

from fota_poller.api.credentials import Secret
from fota_poller.api.token_answers import IssuedToken

log = structlog.get_logger("fota_poller")

# A request must reach the gateway before the token expires: stop sending it this long
# before the earliest expiry (twice the token request's round trip, at least this much,
# but no more than a tenth of what is left, for tokens that live seconds in tests).
_MIN_TRANSIT_MARGIN_S: Final = 1.0
_TRANSIT_MARGIN_SHARE: Final = 0.1
# `expires_in` is whole seconds, truncated: the expiry may be up to this much later.
_TRUNCATION_S: Final = 1.0
# Token answers in a row with `expires_in` 0: after the one a renewal can meet just before
# an expiry, the gateway is stuck, and asking on would pause the run for good. A lifetime
# shorter than twice the token request's round trip counts as 0: no request could reach
# the API with the token before it expires, so it is no better (an `expires_in` of 0.001
# once made a run ask for a token every second, for ever).
MAX_EXPIRED_ANSWERS: Final = 3


class TokenSlot:
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

    @property
    def stuck(self) -> bool:
        """True once the gateway has said too many times in a row that the token expires now."""
        return self.expired_answers >= MAX_EXPIRED_ANSWERS

    def take_bearer(self, issued: IssuedToken, *, rejected: bool) -> None:
        """Hold a token answer: when to stop sending it, when to ask again, and its generation.

        `rejected`: the answer renews a token the API rejected. Takes nothing more once `stuck`.
        """
        answer = issued.answer
        lifetime = answer.lifetime()
        same = answer.access_token == self.value
        # A value other than the one this slot held was issued by this request, so its
        # `expires_in` is the whole lifetime; any other may be a truncated remainder.
        fresh = self.obtained and not same
        self.use_until, self.ask_at = bearer_schedule(
            issued.sent_at, issued.received_at, lifetime, fresh=fresh
        )
        round_trip = issued.received_at - issued.sent_at
        expired = lifetime == 0 or lifetime < 2 * round_trip
        self.expired_answers = self.expired_answers + 1 if expired else 0
        if self.stuck:
            return
        self.obtained = True
        if not same or rejected:
            # A new generation is proven anew (token_admission); the same token given back after
            # a rejection is a renewal too, so that a second rejection of it ends the run.
            self.value = answer.access_token
            self.generation += 1
        log.debug(
            "auth.bearer_obtained",
            expires_in=lifetime,
            same_token=same,
            generation=self.generation,
        )


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
