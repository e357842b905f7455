"""The benchmark's scenarios, contenders and measurements (see README.md)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

FOTA = "fota-poller"
NAIVE = "naive"
# The floor (issue 23): the tightest Python client of the same work, device lines only.
TIGHT = "tight"
# The same client writing fota-poller's 24 device fields: the same bytes as fota-poller's.
TIGHT_FOTA_FIELDS = "tight, fota-poller's fields"


@dataclass(frozen=True)
class Case:
    """One contender polling the first `campaigns` ids of its scenario's server.

    With `state`, fota-poller runs with `--state` on the scenario's database of that name:
    `fresh` deletes it first (the first run: every device new), otherwise the case runs on
    what the cases before it in the same round left (a second run: nothing changed, as the
    pre-rendered server's answers never change).
    """

    contender: str
    campaigns: int
    state: str = ""
    fresh: bool = False
    emit: str = "all"
    # Written to a file the contender opens (and fsyncs: fota-poller's `--output`, the tight
    # client's file) rather than to stdout.
    to_file: bool = False

    @property
    def label(self) -> str:
        """The contender column: who ran, and how."""
        if self.to_file:
            return (
                f"{self.contender} --output FILE"
                if self.contender == FOTA
                else (f"{self.contender}, file + fsync")
            )
        if not self.state:
            return self.contender
        text = f"{self.contender} --state, {'1st' if self.fresh else '2nd'} run"
        return text if self.emit == "all" else f"{text}, --emit {self.emit}"


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
    output_bytes: int | None = None
    db_bytes: int | None = None
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


def chains(rows: list[Row]) -> list[list[Row]]:
    """The rows in runs that must stay in order: a fresh state case and the cases after it
    on its database. A round runs the chains in order, the next round in reverse order."""
    out: list[list[Row]] = []
    for row in rows:
        follows = out and row.case.state and not row.case.fresh
        if follows and out[-1][-1].case.state == row.case.state:
            out[-1].append(row)
        else:
            out.append([row])
    return out


def _throughput(campaigns: int) -> tuple[Case, ...]:
    """The naive script, the tight client (its 14 fields, then fota-poller's 24) and fota-poller
    to stdout; the tight client (14 fields) and fota-poller to a file."""
    return (
        Case(NAIVE, campaigns),
        Case(TIGHT, campaigns),
        Case(TIGHT, campaigns, to_file=True),
        Case(TIGHT_FOTA_FIELDS, campaigns),
        Case(FOTA, campaigns),
        Case(FOTA, campaigns, to_file=True),
    )


def _state(campaigns: int) -> tuple[Case, ...]:
    """The stateless run, then the first and second runs with `--state` on a fresh database."""
    db = f"db-{campaigns}"
    return (
        Case(FOTA, campaigns),
        Case(FOTA, campaigns, db, fresh=True),
        Case(FOTA, campaigns, db),
        Case(FOTA, campaigns, db, emit="changes"),
    )


def _state_memory(small: int, large: int) -> tuple[Case, ...]:
    """First and second runs with `--state` on the first `small` ids, then on all `large`."""
    cases: tuple[Case, ...] = ()
    for campaigns in (small, large):
        db = f"db-{campaigns}"
        cases += (Case(FOTA, campaigns, db, fresh=True), Case(FOTA, campaigns, db))
    return cases


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [
            Scenario("throughput", 200, 20, _throughput(200)),
            Scenario("memory", 400, 5, (Case(FOTA, 40), Case(FOTA, 400))),
            Scenario(
                "single campaign", 1, 2_000, (Case(NAIVE, 1), Case(FOTA, 1)), check_devices=True
            ),
            Scenario("latency", 100, 5, (Case(NAIVE, 100), Case(FOTA, 100)), latency_ms=20),
            Scenario("rate", 20, 5, (Case(FOTA, 20),), rate=20),
            Scenario("state", 200, 20, _state(200)),
            Scenario("state memory", 400, 5, _state_memory(40, 400)),
        ]
    return [
        Scenario("throughput", 10_000, 100, _throughput(10_000)),
        Scenario("memory", 100_000, 10, (Case(FOTA, 1_000), Case(FOTA, 100_000))),
        Scenario(
            "single campaign", 1, 100_000, (Case(NAIVE, 1), Case(FOTA, 1)), check_devices=True
        ),
        Scenario("latency", 1_000, 10, (Case(NAIVE, 1_000), Case(FOTA, 1_000)), latency_ms=200),
        Scenario("rate", 200, 10, (Case(FOTA, 200),), rate=20),
        Scenario("state", 10_000, 100, _state(10_000)),
        Scenario("state memory", 100_000, 10, _state_memory(1_000, 100_000)),
    ]
