"""Logging: structlog to stderr, JSON lines for machines, readable lines for a terminal.

The machine formats are all one JSON object a line: `json` as structlog renders it,
`journal` the same after a syslog priority prefix (`<3>{...}`), which journald strips and
keeps as the entry's priority (`journalctl -p err`), and `ecs` with the Elastic Common
Schema's field names. `auto` is `journal` when stderr is the journal (`JOURNAL_STREAM`).

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
from typing import Literal, TextIO, cast

import structlog

from fota_poller.api.redact import Redactor
from fota_poller.config import LogFormat
from fota_poller.observe.progress import BarSafeStream
from fota_poller.observe.stderr import StderrStream
from fota_poller.text import escape_controls

# What a log format is on one stderr: `auto` decided.
Rendering = Literal["console", "json", "journal", "ecs"]

# syslog(3)'s priorities, as journald reads them from a line's `<N>` prefix (sd-daemon(3)).
JOURNAL_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
ECS_VERSION = "8.11.0"
# Our fields that ECS names (each nested under its first part); the rest of ours goes under
# `fota_poller`, as ECS's own objects (`event`, `error`, `host`, `url`) would clash with them.
_ECS_FIELDS = {
    "error": "error.message",
    "exception": "error.stack_trace",
    "exit_code": "process.exit_code",
}


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

    `log_format` "auto" is journal lines when stderr is the journal, console lines on a
    terminal, JSON lines otherwise (`rendering`). Console lines are coloured unless
    `NO_COLOR` is set to anything (https://no-color.org). Every event passes through
    `redactor` (a fresh one when None) just before rendering. A line that cannot be written
    is dropped and told to `on_dropped` (the run's tally). Returns the stream the lines go
    to (its `dropped` counts them too).
    """
    stderr = StderrStream(stream if stream is not None else sys.stderr, on_dropped)
    target: TextIO = cast("TextIO", stderr)
    on_terminal = stderr.isatty()
    renderer: structlog.types.Processor = compact_json()
    shape: list[structlog.types.Processor] = []  # what the renderer needs done first
    chosen = rendering(log_format, stderr)
    if chosen == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=on_terminal and not _no_color())
        shape = [escape_console_values]
    elif chosen == "journal":
        renderer = JournalRenderer()
    elif chosen == "ecs":
        shape = [to_ecs]
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
            *shape,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # One write per line (print() makes two), so that a line is lost whole or not at all.
        logger_factory=structlog.WriteLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
    return stderr


def compact_json() -> structlog.processors.JSONRenderer:
    """JSON with no space after `:` or `,`, as the records are written: one grep fits both."""
    return structlog.processors.JSONRenderer(separators=(",", ":"))


def renders_json(log_format: LogFormat) -> bool:
    """True when stderr's lines are JSON objects (`journal`'s after its prefix): not console."""
    return rendering(log_format) != "console"


def rendering(log_format: LogFormat, stderr: StderrStream | None = None) -> Rendering:
    """What `log_format` writes on `stderr` (the process's, by default).

    `auto` is `journal` when stderr is the journal, `console` on a terminal, else `json`.
    """
    if log_format != "auto":
        return log_format
    stderr = stderr if stderr is not None else StderrStream(sys.stderr)
    if on_the_journal(stderr):
        return "journal"
    return "console" if stderr.isatty() else "json"


def on_the_journal(stderr: StderrStream) -> bool:
    """Whether `stderr` is systemd's journal stream: `JOURNAL_STREAM` names its device:inode.

    systemd sets the variable for a service whose stderr it connects to journald
    (systemd.exec(5)); a process that inherits it with stderr sent elsewhere (`2>file`)
    must not take the file for the journal, so the descriptor itself is compared.
    """
    named = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = named.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False  # unset, or not systemd's "DEV:INODE": not the journal
    try:
        status = os.fstat(stderr.fileno())
    except (OSError, ValueError):
        return False  # closed, or no descriptor (a test's capture)
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


class JournalRenderer:
    """JSON lines after the `<N>` syslog priority journald takes from the front of a line.

    journald strips the prefix (SyslogLevelPrefix=yes, its default) and stores the JSON as
    the message, at that priority: `journalctl -p err` finds the failures.
    """

    def __init__(self) -> None:
        self._json = compact_json()

    def __call__(self, logger: object, method: str, event_dict: structlog.types.EventDict) -> str:
        """The line: `<N>` from the event's level, then its JSON."""
        priority = JOURNAL_PRIORITIES.get(str(event_dict.get("level")), JOURNAL_PRIORITIES["info"])
        line = self._json(logger, method, event_dict)
        return f"<{priority}>" + (line.decode() if isinstance(line, bytes) else line)


def to_ecs(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """An event's fields under Elastic Common Schema names (ecs-logging's line layout).

    `@timestamp`, `log.level`, `message` (the event's name) and `ecs.version` first; the
    event's name as `event.action`, `error` as `error.message`; every other field of ours
    (`run_id` included) under `fota_poller`, so none clashes with an ECS object.
    """
    ours = dict(event_dict)
    action = str(ours.pop("event", ""))
    ecs: dict[str, object] = {
        "@timestamp": ours.pop("timestamp", None),
        "log.level": ours.pop("level", None),
        "message": action,
        "ecs.version": ECS_VERSION,
        "event": {"action": action, "dataset": "fota_poller.log"},
        "log": {"logger": "fota_poller"},
        "service": {"name": "fota-poller"},
    }
    for field, name in _ECS_FIELDS.items():
        if field in ours:
            group, key = name.split(".")
            ecs.setdefault(group, {})
            cast("dict[str, object]", ecs[group])[key] = ours.pop(field)
    if ours:
        ecs["fota_poller"] = ours
    return ecs


def _no_color() -> bool:
    # no-color.org: set and not empty, whatever the value.
    return bool(os.environ.get("NO_COLOR"))
