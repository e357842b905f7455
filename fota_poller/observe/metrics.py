"""The run's figures as a Prometheus textfile-collector file, rewritten at the end of every run.

Every figure is a gauge of the last run (a textfile holds one run, so counters would reset
each time anyway). The last success timestamp is carried over from the previous file when
this run did not succeed, so an alert on its age fires after a night of failures.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import msgspec
import structlog

from fota_poller.errors import ConfigError, ExitCode
from fota_poller.model.records import ErrorKind, Outcome, Phase, RunRecord
from fota_poller.model.tally import RunTally
from fota_poller.regular_files import read_regular, replace_regular, usable_file

if typing.TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = structlog.get_logger("fota_poller")

PREFIX = "fota_poller"
LAST_SUCCESS = f"{PREFIX}_last_success_timestamp_seconds"
# The previous file is read for one timestamp; one of ours is a few kB, whatever the night.
_PREVIOUS_BYTES = 16 * 1024 * 1024


class RunMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of one run that go into the metrics file."""

    finished_at: float  # Unix time
    duration_s: float
    exit_code: int
    complete: bool
    campaigns_by_outcome: dict[str, int] = msgspec.field(default_factory=dict)
    failed_by_error_kind: dict[str, int] = msgspec.field(default_factory=dict)
    devices_by_status: dict[str, int] = msgspec.field(default_factory=dict)
    devices_by_phase: dict[str, int] = msgspec.field(default_factory=dict)
    devices_by_change: dict[str, int] = msgspec.field(default_factory=dict)
    campaigns_stalled: int | None = None  # None: no state database, nothing is known
    requests: int = 0
    inventory_requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    log_lines_dropped: int = 0

    @property
    def succeeded(self) -> bool:
        """A run succeeds when it exits 0: every campaign polled, nothing cut short."""
        return self.exit_code == ExitCode.OK

    @classmethod
    def from_run(cls, run: RunRecord, tally: RunTally) -> RunMetrics:
        """The figures of a run that wrote its run record: its verdict, and the tally's counts."""
        return cls(
            finished_at=datetime.fromisoformat(run.finished_at).timestamp(),
            duration_s=run.duration_s,
            exit_code=run.exit_code,
            complete=run.complete,
            campaigns_by_outcome=dict(tally.campaigns_by_outcome),
            failed_by_error_kind=dict(tally.failed_by_error_kind),
            devices_by_status=dict(tally.devices_by_status),
            devices_by_phase=dict(tally.devices_by_phase),
            devices_by_change=dict(tally.devices_by_change),
            campaigns_stalled=tally.campaigns_stalled,
            requests=tally.requests_total,
            inventory_requests=tally.inventory_requests,
            retries=tally.retries,
            rate_limited=tally.rate_limited,
            log_lines_dropped=tally.log_lines_dropped,
        )

    @classmethod
    def unfinished(cls, tally: RunTally, started: float, exit_code: int) -> RunMetrics:
        """The figures of a run that ended in an error before its run record: exit code, requests.

        No campaign or device is reported: without a run line, its records are no complete run.
        """
        finished = time.time()
        return cls(
            finished_at=finished,
            duration_s=round(finished - started, 3),
            exit_code=exit_code,
            complete=False,
            requests=tally.requests_total,
            inventory_requests=tally.inventory_requests,
            retries=tally.retries,
            rate_limited=tally.rate_limited,
            log_lines_dropped=tally.log_lines_dropped,
        )


def validate_metrics_path(path: str | None) -> None:
    """Refuse, before polling, a metrics file in a missing folder or that is not a regular file."""
    if path is None:
        return
    if not Path(path).parent.is_dir():
        raise ConfigError(f"metrics file {path}: folder {Path(path).parent} does not exist")
    usable_file("metrics file", path)


def write_metrics(path: Path, metrics: RunMetrics) -> None:
    """Replace `path` atomically with the figures of `metrics` (OSError if it cannot).

    A path that is there and not a regular file is left as it is (`NotARegularFileError`).
    """
    # prometheus_client is imported here, when a file is written, not with the module: a run
    # without a metrics file has no use for it, and it was 13 ms of every poll's start
    # (timed by hand, bench/README.md).
    from prometheus_client import generate_latest  # noqa: PLC0415
    from prometheus_client.openmetrics.exposition import ALLOWUTF8  # noqa: PLC0415

    last_success = metrics.finished_at if metrics.succeeded else previous_success(path)
    registry = _registry(metrics, last_success)
    # The escaping write_to_textfile used, so the file reads as before.
    # 0644 whatever the run's umask (the units' 0027 keeps records from other users): the
    # file holds counts only, and node_exporter, another user, must read it.
    replace_regular(path, generate_latest(registry, ALLOWUTF8), 0o644, exact_mode=True)


def previous_success(path: Path) -> float | None:
    """The last success timestamp in an earlier metrics file; None if none can be read."""
    try:
        data = read_regular(path, _PREVIOUS_BYTES)
    except OSError as exc:
        log.warning("metrics.previous_unreadable", path=str(path), error=exc.strerror)
        return None
    if data is None:
        return None
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    text = data.decode("utf-8", errors="replace")
    try:
        for family in text_string_to_metric_families(text):
            if family.name == LAST_SUCCESS and family.samples:
                value = family.samples[0].value
                return value if value > 0 else None
    except ValueError as exc:
        log.warning("metrics.previous_unreadable", path=str(path), error=str(exc))
    return None


def _registry(metrics: RunMetrics, last_success: float | None) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry, Gauge  # noqa: PLC0415

    # A registry of its own: the process-wide default one is global mutable state.
    registry = CollectorRegistry()

    def gauge(name: str, help_text: str, value: float) -> None:
        Gauge(f"{PREFIX}_{name}", help_text, registry=registry).set(value)

    def labelled(name: str, help_text: str, label: str, values: Mapping[str, int]) -> None:
        family = Gauge(f"{PREFIX}_{name}", help_text, [label], registry=registry)
        for key, value in sorted(values.items()):
            family.labels(key).set(value)

    gauge(
        "last_run_timestamp_seconds", "When the last run finished (Unix time).", metrics.finished_at
    )
    gauge(
        "last_success_timestamp_seconds",
        "When the last run that exited 0 finished (Unix time); 0 until one has.",
        last_success or 0,
    )
    gauge("last_run_duration_seconds", "How long the last run took.", metrics.duration_s)
    gauge("last_run_exit_code", "The exit code of the last run.", metrics.exit_code)
    gauge(
        "last_run_complete",
        "1 when the last run read all its input and was not cut short.",
        int(metrics.complete),
    )
    labelled(
        "last_run_campaigns",
        "Campaign records of the last run, by outcome.",
        "outcome",
        dict.fromkeys(typing.get_args(Outcome), 0) | metrics.campaigns_by_outcome,
    )
    labelled(
        "last_run_failed_campaigns",
        "Failed campaigns of the last run, by error kind.",
        "error_kind",
        dict.fromkeys(typing.get_args(ErrorKind), 0) | metrics.failed_by_error_kind,
    )
    labelled(
        "last_run_devices",
        "Device records of the last run, by device status as the API spells it "
        "(the first 50 statuses; the rest as (other)).",
        "status",
        metrics.devices_by_status,
    )
    labelled(
        "last_run_devices_by_phase",
        "Devices of the last run's polled campaigns, by phase.",
        "phase",
        dict.fromkeys(typing.get_args(Phase), 0) | metrics.devices_by_phase,
    )
    if metrics.devices_by_change:  # only a run with a state database knows what changed
        labelled(
            "last_run_device_changes",
            "Devices new, changed and gone since the previous run (with --state).",
            "change",
            metrics.devices_by_change,
        )
    if metrics.campaigns_stalled is not None:  # only a run with a state database knows
        gauge(
            "last_run_campaigns_stalled",
            "Campaigns of the last run with devices pending and none changing phase for "
            "phases.stalled_after committed runs (with --state).",
            metrics.campaigns_stalled,
        )
    gauge("last_run_requests", "HTTP requests the last run started.", metrics.requests)
    gauge(
        "last_run_inventory_requests",
        "Of those, the device-list requests of --inventory (retries included).",
        metrics.inventory_requests,
    )
    gauge("last_run_retries", "Requests the last run repeated after a failure.", metrics.retries)
    gauge(
        "last_run_rate_limited_responses",
        "HTTP 429 answers the last run received.",
        metrics.rate_limited,
    )
    gauge(
        "last_run_log_lines_dropped",
        "Log lines the last run could not write to stderr (closed, full, reader gone).",
        metrics.log_lines_dropped,
    )
    return registry
