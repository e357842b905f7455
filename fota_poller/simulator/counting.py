"""How a server judges a client's rate: request starts inside one window of time."""

from __future__ import annotations

from collections.abc import Iterable


def max_starts_in_window(starts: Iterable[float], window_s: float = 1.0) -> int:
    """The most starts inside any half-open window [t, t + window_s)."""
    ordered = sorted(starts)
    best = 0
    first = 0
    for last, start in enumerate(ordered):
        while ordered[first] <= start - window_s:
            first += 1
        best = max(best, last - first + 1)
    return best
