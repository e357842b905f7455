"""Logging: structlog to stderr, JSON lines for machines, readable lines for a terminal.

Lines are written through `observe/stderr.py`: one that cannot be written is dropped and
counted, never raised into the run.

Every line carries what is bound in structlog's context variables: `poll` binds its run's
`run_id` before its first line and keeps it to its last (commands/poll/core.py; run/pipeline.py
for a run started by other code), so a log shipper can join any line to its run.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TextIO, cast

import structlog

from fota_poller.api.redact import Redactor
from fota_poller.config import LogFormat
from fota_poller.observe.progress import BarSafeStream
from fota_poller.observe.stderr import StderrStream
from fota_poller.text import escape_controls


def escape_console_values(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Escape control characters in string values before the console renderer prints them.

    The console renderer writes a string value as it is (the JSON renderer escapes them
    itself); values such as an `error_code` come from the server. A traceback keeps its lines.
    """
    for key, value in event_dict.items():
        if isinstance(value, str):
            if key == "exception":
                event_dict[key] = "\n".join(map(escape_controls, value.split("\n")))
            else:
                event_dict[key] = escape_controls(value)
    return event_dict


def configure_logging(
    level: str,
    stream: TextIO | None = None,
    redactor: Redactor | None = None,
    *,
    log_format: LogFormat = "auto",
    on_dropped: Callable[[int], None] | None = None,
) -> StderrStream:
    """Send structlog events at `level` and above to stderr (or `stream`), never stdout.

    `log_format` "auto" is console lines on a terminal, JSON lines otherwise. Console lines
    are coloured unless `NO_COLOR` is set to anything (https://no-color.org). Every event
    passes through `redactor` (a fresh one when None) just before rendering. A line that
    cannot be written is dropped and told to `on_dropped` (the run's tally). Returns the
    stream the lines go to (its `dropped` counts them too).
    """
    stderr = StderrStream(stream if stream is not None else sys.stderr, on_dropped)
    target: TextIO = cast("TextIO", stderr)
    on_terminal = stderr.isatty()
    renderer: structlog.types.Processor
    escape: list[structlog.types.Processor] = []
    if not renders_json(log_format, on_terminal=on_terminal):
        renderer = structlog.dev.ConsoleRenderer(colors=on_terminal and not _no_color())
        escape = [escape_console_values]
    else:
        renderer = structlog.processors.JSONRenderer()
    if on_terminal:
        # A progress bar may be on the terminal: keep log lines clear of it.
        target = cast("TextIO", BarSafeStream(stderr))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor if redactor is not None else Redactor(),
            *escape,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # One write per line (print() makes two), so that a line is lost whole or not at all.
        logger_factory=structlog.WriteLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
    return stderr


def renders_json(log_format: LogFormat, *, on_terminal: bool | None = None) -> bool:
    """True when lines go out as JSON: `json`, or `auto` off a terminal (stderr's, by default)."""
    if log_format != "auto":
        return log_format == "json"
    if on_terminal is None:
        on_terminal = StderrStream(sys.stderr).isatty()
    return not on_terminal


def _no_color() -> bool:
    # no-color.org: set and not empty, whatever the value.
    return bool(os.environ.get("NO_COLOR"))
