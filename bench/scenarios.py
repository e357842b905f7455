"""The benchmark's scenarios, contenders and measurements (see README.md)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

FOTA = "fota-poller"
NAIVE = "naive"


@dataclass(frozen=True)
class Case:
    """One contender polling the first `campaigns` ids of its scenario's server."""

    contender: str
    campaigns: int


@dataclass(frozen=True)
class Scenario:
    """One server (campaigns x devices, latency) and the cases run against it."""

    name: str
    campaigns: int
    devices: int
    cases: tuple[Case, ...]
    latency_ms: float = 0.0
    rate: float = 0.0
    concurrency: int = 50
    check_devices: bool = False


@dataclass
class Measure:
    """One child process run."""

    wall_s: float
    cpu_s: float
    rss_mb: float
    records: int
    run_s: float | None = None
    max_starts_1s: int | None = None
    mean_rate: float | None = None


@dataclass
class Row:
    scenario: Scenario
    case: Case
    measures: list[Measure] = field(default_factory=list)

    def median(self, name: str) -> float | None:
        values = [getattr(m, name) for m in self.measures if getattr(m, name) is not None]
        return statistics.median(values) if values else None


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [
            Scenario("throughput", 200, 20, (Case(NAIVE, 200), Case(FOTA, 200))),
            Scenario("memory", 400, 5, (Case(FOTA, 40), Case(FOTA, 400))),
            Scenario(
                "single campaign", 1, 2_000, (Case(NAIVE, 1), Case(FOTA, 1)), check_devices=True
            ),
            Scenario("latency", 100, 5, (Case(NAIVE, 100), Case(FOTA, 100)), latency_ms=20),
            Scenario("rate", 20, 5, (Case(FOTA, 20),), rate=20),
        ]
    return [
        Scenario("throughput", 10_000, 100, (Case(NAIVE, 10_000), Case(FOTA, 10_000))),
        Scenario("memory", 100_000, 10, (Case(FOTA, 1_000), Case(FOTA, 100_000))),
        Scenario(
            "single campaign", 1, 100_000, (Case(NAIVE, 1), Case(FOTA, 1)), check_devices=True
        ),
        Scenario("latency", 1_000, 10, (Case(NAIVE, 1_000), Case(FOTA, 1_000)), latency_ms=200),
        Scenario("rate", 200, 10, (Case(FOTA, 200),), rate=20),
    ]
