"""What a simulator has seen: request counts, concurrency, request starts in a window."""

from __future__ import annotations

import dataclasses
import time
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


@dataclasses.dataclass
class SimulatorStats:
    """What one server has seen: request counts, concurrency, and when each request began."""

    requests_total: int = 0
    requests_by_status: dict[int, int] = dataclasses.field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    request_starts: list[float] = dataclasses.field(default_factory=list)
    # Per report page served: how many other requests had started before it.
    report_pages: list[int] = dataclasses.field(default_factory=list)
    # Last report pages served, by the form of their lastSeenUpgradeId (reports.LAST_PAGE_FORMS).
    last_page_forms: dict[str, int] = dataclasses.field(default_factory=dict)
    faults_by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    inventory_pages: int = 0  # device-list pages answered 200

    def request_started(self) -> None:
        """Count a request as it reaches a handler, before any latency."""
        self.request_starts.append(time.monotonic())
        self.requests_total += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def request_finished(self, status: int) -> None:
        """Count a request's answer; 0 is a connection reset with no answer."""
        self.in_flight -= 1
        self.requests_by_status[status] = self.requests_by_status.get(status, 0) + 1

    def max_starts_in_window(self, window_s: float = 1.0) -> int:
        """Return the most request starts inside any half-open window [t, t + window_s)."""
        return max_starts_in_window(self.request_starts, window_s)
