"""When a campaign would be done at its pace: the projected finish date, from a few nights.

The estimator: an ordinary least-squares line of the resolved share, (succeeded + failed) /
devices, against time (days, from each night's time in ms since the epoch), over the nights
given (the caller gives the last 7); the UTC date at which the line reaches 1.0. None when
fewer than `MIN_NIGHTS` nights have devices (a night of 0 devices has no share and is left
out), the slope is zero or less (no pace, or going back), or the date is past year 9999.
Nights come in commit order; walking back from the latest, a night whose clock reads no
earlier than the one after it (a clock set back between runs) is left out, so time runs
forward in the fit. A line that reached 1.0 before the last night while devices are still
unresolved gives the last night's date: the campaign is due now, not in the past.

Least squares over a week, not the last night's delta: a night of slow progress (a weekend,
an outage) moves the date by a little, not to the end of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from fota_poller.state.times import EPOCH

MIN_NIGHTS: Final = 3
_MS_PER_DAY: Final = 86_400_000


def projected_finish(nights: Sequence[tuple[int, int, int]]) -> str | None:
    """`YYYY-MM-DD` for nights of (polled ms, devices, resolved), oldest first; or None."""
    points: list[tuple[float, float]] = []
    later: float | None = None
    for polled_ms, devices, resolved in reversed(nights):
        moment = polled_ms / _MS_PER_DAY
        if later is not None and moment >= later:
            continue  # a clock set back: not a point of the line
        later = moment
        if devices > 0:
            points.append((moment, resolved / devices))
    if len(points) < MIN_NIGHTS:
        return None
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    if slope <= 0:
        return None
    # points[0] is the latest night (the walk went backwards).
    reached = max(mean_x + (1.0 - mean_y) / slope, points[0][0])
    try:
        return (EPOCH + timedelta(days=reached)).date().isoformat()
    except OverflowError:
        return None
