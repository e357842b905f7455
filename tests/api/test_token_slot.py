"""A token answer's lifetime against its own round trip."""

from __future__ import annotations

import pytest

from fota_poller.api.token_answers import IssuedToken, TokenAnswer
from fota_poller.api.token_slot import MAX_EXPIRED_ANSWERS, TokenSlot


def answer(token: str, expires_in: float, round_trip: float) -> IssuedToken:
    return IssuedToken(
        TokenAnswer(token, expires_in), sent_at=100.0, received_at=100.0 + round_trip
    )


@pytest.mark.parametrize(
    ("expires_in", "round_trip", "expired"),
    [(0, 0.001, True), (0.001, 0.001, True), (0.5, 0.3, True), (0.7, 0.3, False), (3600, 2, False)],
)
def test_a_lifetime_shorter_than_twice_the_round_trip_counts_as_expired(
    expires_in, round_trip, expired
):
    slot = TokenSlot(None)
    slot.take_bearer(answer("t1", expires_in, round_trip), rejected=False)
    assert slot.expired_answers == (1 if expired else 0)


def test_three_such_answers_in_a_row_are_stuck_and_a_good_one_resets_the_count():
    slot = TokenSlot(None)
    for n in range(MAX_EXPIRED_ANSWERS - 1):
        slot.take_bearer(answer(f"t{n}", 0.001, 0.002), rejected=False)
    slot.take_bearer(answer("good", 3600, 0.002), rejected=False)
    assert not slot.stuck
    for n in range(MAX_EXPIRED_ANSWERS):
        slot.take_bearer(answer(f"u{n}", 0.001, 0.002), rejected=False)
    assert slot.stuck
