"""Logging: structlog to stderr, JSON lines for machines, readable lines for a terminal."""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog

from fota_poller.progress import BarSafeStream
from fota_poller.redact import Redactor


def configure_logging(
    level: str = "info", stream: TextIO | None = None, redactor: Redactor | None = None
) -> None:
    """Send structlog events at `level` and above to stderr (or `stream`), never stdout.

    Every event passes through `redactor` (a fresh one when None) just before rendering.
    """
    target = stream if stream is not None else sys.stderr
    renderer: structlog.types.Processor
    if target.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=True)
        # A progress bar may be on the terminal: keep log lines clear of it.
        target = cast("TextIO", BarSafeStream(target))
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor if redactor is not None else Redactor(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
