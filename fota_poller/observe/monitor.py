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
from fota_poller.model.records import RunRecord
from fota_poller.model.tally import RunTally
from fota_poller.observe.metrics import RunMetrics, validate_metrics_path, write_metrics
from fota_poller.observe.progress import open_progress
from fota_poller.observe.stderr import StderrStream
from fota_poller.regular_files import require_regular

log = structlog.get_logger("fota_poller")

# The exit code of a good night whose metrics file could not be written (README's table).
METRICS_FAILED = ExitCode.CAMPAIGNS_FAILED


class RunWatch:
    """Where the run leaves its run record, for the metrics file; whether that file was written."""

    def __init__(self) -> None:
        self.run: RunRecord | None = None
        self.metrics_failed = False

    def finished(self, run: RunRecord) -> int:
        """Keep the run record for the metrics; returns its exit code.

        A run with no campaign at all is warned about: an empty export exits 0 like a good night.
        """
        self.run = run
        if run.campaigns_total == 0:
            log.warning("run.no_campaigns", hint="the id lists and discovery gave no campaign")
        return run.exit_code

    def exit_code(self, run_exit_code: int) -> int:
        """The process's exit code, once the watch has ended, for a run that exited `run_exit_code`.

        A metrics file that could not be written turns a 0 into 1: the night's records are
        good, but monitoring did not hear of it, so something needs a look. Any other code
        is kept: it already says the night needs a look, and says more.
        """
        if self.metrics_failed and run_exit_code == ExitCode.OK:
            return int(METRICS_FAILED)
        return run_exit_code


def refusal_metrics(
    metrics_file: str | None, exit_code: int, tally: RunTally | None = None
) -> None:
    """The one metrics write of a run refused before its watch began (config, credentials, lock).

    Written whenever the file is known (from the config, or from `--metrics-file` when the
    config could not be read), so that `FotaPollerRunFailed` sees every exit; `tally` is the
    run's, for the log lines it lost so far. A file that cannot be written is left: the
    refusal's own line already says why the night failed.
    """
    if metrics_file is None or not Path(metrics_file).parent.is_dir():
        return
    try:
        require_regular(metrics_file)  # a link, FIFO or device there is left as it is
    except OSError:
        return
    metrics = RunMetrics.unfinished(tally or RunTally(), time.time(), exit_code)
    with contextlib.suppress(OSError):
        write_metrics(Path(metrics_file), metrics)


@contextlib.contextmanager
def watch_run(config: Config, tally: RunTally, stderr: TextIO | None = None) -> Iterator[RunWatch]:
    """Show `tally` on a terminal during the block; write the metrics file when it ends.

    A run that ends in an error before its run record still gets a metrics file, with the
    error's exit code, so monitoring sees that it ran and failed.
    """
    metrics_file = config.output.metrics_file
    validate_metrics_path(metrics_file)
    # Machine lines (json, journal, ecs) asked for on a terminal (`docker run -t`) are for a
    # machine: no bar among them.
    json_logs = config.log.format not in {"auto", "console"}
    stream = StderrStream(stderr if stderr is not None else sys.stderr)  # writes never raise
    progress = None if json_logs else open_progress(stream, config.output.path)
    if progress is not None:
        tally.on_change(progress.update)
    watch = RunWatch()
    started = time.time()
    exit_code: int = ExitCode.CAMPAIGNS_FAILED
    try:
        yield watch
    except FotaPollerError as exc:
        exit_code = exc.exit_code
        raise
    finally:
        if progress is not None:
            tally.on_change(None)
            progress.close()
        if metrics_file is not None:
            watch.metrics_failed = not _write(
                Path(metrics_file), tally, watch.run, exit_code, started
            )


def _write(
    path: Path, tally: RunTally, run: RunRecord | None, exit_code: int, started: float
) -> bool:
    """Write the metrics file; False, after one error line naming it, when it cannot be."""
    if run is not None:
        metrics = RunMetrics.from_run(run, tally)
        exit_code = run.exit_code
    else:
        metrics = RunMetrics.unfinished(tally, started, exit_code)
    try:
        write_metrics(path, metrics)
    except OSError as exc:
        # The run's records are already written; losing the metrics must not lose them. The
        # line carries the process's exit code: the run line above it cannot (RunWatch).
        log.error(
            "metrics.write_failed",
            path=str(path),
            error=exc.strerror or str(exc),
            exit_code=exit_code or int(METRICS_FAILED),
        )
        return False
    return True
