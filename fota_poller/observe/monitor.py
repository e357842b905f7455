"""What an operator sees of a run besides its records: the bar while it runs, metrics after."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import structlog

from fota_poller.config import Config
from fota_poller.errors import ExitCode, FotaPollerError
from fota_poller.observe.metrics import RunMetrics, check_metrics_path, write_metrics
from fota_poller.observe.progress import open_progress
from fota_poller.observe.tally import RunTally
from fota_poller.output.records import RunRecord

log = structlog.get_logger("fota_poller")


class RunWatch:
    """Handed to the run: the tally it counts into, and where its run record is left."""

    def __init__(self, tally: RunTally) -> None:
        self.tally = tally
        self.run: RunRecord | None = None

    def finished(self, run: RunRecord) -> int:
        """Keep the run record for the metrics; returns its exit code."""
        self.run = run
        return run.exit_code


@contextlib.contextmanager
def watch_run(config: Config, stderr: TextIO | None = None) -> Iterator[RunWatch]:
    """Show progress on a terminal during the block; write the metrics file when it ends.

    A run that ends in an error before its run record still gets a metrics file, with the
    error's exit code, so monitoring sees that it ran and failed.
    """
    metrics_file = config.output.metrics_file
    check_metrics_path(metrics_file)
    progress = open_progress(stderr if stderr is not None else sys.stderr)
    watch = RunWatch(RunTally(on_change=None if progress is None else progress.update))
    started = time.time()
    exit_code: int = ExitCode.CAMPAIGNS_FAILED
    try:
        yield watch
    except FotaPollerError as exc:
        exit_code = exc.exit_code
        raise
    finally:
        if progress is not None:
            progress.close()
        if metrics_file is not None:
            _write(Path(metrics_file), watch, exit_code, started)


def _write(path: Path, watch: RunWatch, exit_code: int, started: float) -> None:
    if watch.run is not None:
        metrics = RunMetrics.from_run(watch.run, watch.tally)
    else:
        finished = time.time()
        metrics = RunMetrics(
            finished_at=finished,
            duration_s=round(finished - started, 3),
            exit_code=exit_code,
            complete=False,
            requests=0,
            retries=watch.tally.requests.retries,
            rate_limited=watch.tally.requests.rate_limited,
        )
    try:
        write_metrics(path, metrics)
    except OSError as exc:
        # The run's records are already written; losing the metrics must not lose them.
        log.error("metrics.write_failed", path=str(path), error=exc.strerror or str(exc))
