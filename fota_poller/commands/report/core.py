"""`fota-poller report`, run: read the night and the state, draw the page, write it whole.

The night is read once, line by line, into the two `Night`s `summary` itself would fill
(its campaigns, and its models for `--by model`); their JSON documents, rendered by
`summary`'s own code, are what the page is drawn from (`report/facts.py`). The state gives
the stuck devices (`state/queries.py`, as `summary --state`) and the history
(`report/history.py`), read in one transaction so that both are of the same night.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sqlite3
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from fota_poller.commands.common import read_config, stuck_after_seconds
from fota_poller.commands.streams import write_answer
from fota_poller.commands.summary.core import exit_code
from fota_poller.errors import ConfigError, InputFileError, OutputClosedError, OutputError
from fota_poller.lines import LongLine, read_lines
from fota_poller.model.phases import PhaseTable
from fota_poller.model.timestamps import format_timestamp
from fota_poller.regular_files import replace_regular
from fota_poller.report.facts import ReportFacts, decode_models, decode_summary
from fota_poller.report.history import History, read_history
from fota_poller.report.page import render_page
from fota_poller.state import queries
from fota_poller.state.schema import open_database, sqlite_error
from fota_poller.summary import by_model
from fota_poller.summary.night import Night
from fota_poller.summary.render import View, render_json

# Lines handed to both readers at a time: memory stays flat, the loop's cost is the read's.
_BATCH: Final = 4096


def run(args: argparse.Namespace) -> int:
    """Read the night and the state, write the page; 0, or the error's exit code."""
    from fota_poller.observe.logs import configure_logging  # noqa: PLC0415 - start-up time

    configure_logging("error")
    if args.output == "-" and sys.stdout is None:  # closed at start (`>&-`), as for poll
        raise OutputClosedError("-", "stdout is closed")
    config, _, _ = read_config(args.config)
    state = args.state if args.state is not None else config.state.path
    if state is None:
        raise ConfigError("report: no state database: give --state FILE.db (or state.path)")
    if args.limit < 0:
        raise ConfigError(f"--limit: {args.limit} is negative (0 lists every campaign)")
    if args.nights < 1:
        raise ConfigError(f"--nights: {args.nights} is not a number of nights (1 or more)")
    phases = PhaseTable(config.phases)
    stuck_after = stuck_after_seconds(args.stuck_after)
    stalled_after = config.phases.stalled_after
    campaigns = Night(phases, limit=args.limit or None)  # summary's default order
    models = Night(phases, by_model=True)
    try:
        _read(args.file, (campaigns, models))
        stuck, history = _read_state(
            Path(state), stuck_after, phases, nights=args.nights, stalled_after=stalled_after
        )
        facts = _facts(campaigns, models, stuck, history, stuck_after=args.stuck_after)
    finally:
        campaigns.close()
    return _write(args.output, render_page(facts))


def _facts(
    campaigns: Night,
    models: Night,
    stuck: dict[tuple[str, str], int],
    history: History,
    *,
    stuck_after: str,
) -> ReportFacts:
    code = exit_code(campaigns)
    view = View(campaigns, campaigns.chosen(), campaigns.eligible, stuck, code)
    summary = decode_summary(render_json(view))
    model_rows = []
    if campaigns.inventory_seen and models.models is not None:
        tally = by_model.model_view(models, models.models, failed_only=False, limit=None, code=code)
        model_rows = decode_models(by_model.render_json(tally))
    return ReportFacts(
        summary=summary,
        models=model_rows,
        history=history,
        campaigns_of=campaigns.eligible,
        stuck_after=stuck_after,
        generated_at=format_timestamp(datetime.now(UTC)),
    )


def _read(name: str, nights: tuple[Night, ...]) -> None:
    """Every line of the records file `name` (- : stdin) into each of `nights`, once."""
    if name == "-" and sys.stdin is None:  # closed at start (`<&-`): commands/streams.py
        raise InputFileError("report: cannot read -: stdin is closed")
    try:
        if name == "-":
            _feed(read_lines(sys.stdin.buffer), nights)
            return
        with open(name, "rb", buffering=0) as stream:  # noqa: PTH123 - a plain read
            _feed(read_lines(stream), nights)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputFileError(f"report: cannot read {name}: {reason}") from None
    except InputFileError as exc:
        raise InputFileError(f"report: cannot read {name}: {exc}; not a records file") from None


def _feed(lines: Iterable[bytes | LongLine], nights: tuple[Night, ...]) -> None:
    lines = iter(lines)
    while batch := list(itertools.islice(lines, _BATCH)):
        for night in nights:
            night.read(batch)


def _read_state(
    path: Path, stuck_after: float, phases: PhaseTable, *, nights: int, stalled_after: int
) -> tuple[dict[tuple[str, str], int], History]:
    """The stuck devices per campaign and the history, read in one transaction."""
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        try:
            connection.execute("BEGIN")
            stuck = queries.stuck_counts(connection, path, longer_than_s=stuck_after, phases=phases)
            history = read_history(connection, path, nights=nights, stalled_after=stalled_after)
            connection.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise sqlite_error(path, exc) from None
    return stuck, history


def _write(output: str, page: str) -> int:
    """The page at `output`, replaced whole (a reader never sees half of it), or on stdout."""
    if output == "-":
        return write_answer(lambda stdout: stdout.write(page))
    try:
        replace_regular(Path(output), page.encode(), mode=0o666)
    except OSError as exc:
        raise OutputError(output, exc.strerror or str(exc)) from None
    return 0
