"""A `poll` refused before or as it starts (bad config, no credentials, lock held): its line.

In the run's log format: on a terminal (console lines) the one line `fota-poller: ...`; as
JSON lines (the default off a terminal, where a log shipper reads stderr; journal's after its
`<3>`, ecs's with its field names) one JSON object, the event `run.refused` with the run's id,
its level, time and exit code, as every other line of a run carries them, so that a
pipeline's `| json` (or `journalctl -p err`) finds the line that explains a failed night too.
"""

from __future__ import annotations

import structlog

from fota_poller.config import LogFormat
from fota_poller.errors import FotaPollerError
from fota_poller.observe.logs import configure_logging, renders_json
from fota_poller.observe.stderr import say


def refused(exc: FotaPollerError, log_format: LogFormat, run_id: str) -> int:
    """Say why the run is refused, in `log_format`; its exit code."""
    code = int(exc.exit_code)
    if not renders_json(log_format):
        say(f"fota-poller: {exc}")
        return code
    configure_logging("error", log_format=log_format)
    bound = structlog.contextvars.bind_contextvars(run_id=run_id)
    try:
        structlog.get_logger("fota_poller").error("run.refused", error=str(exc), exit_code=code)
    finally:
        structlog.contextvars.reset_contextvars(**bound)
    return code
