"""`fota-poller summary [FILE|-]`, run: read the night, print it, give the exit code.

The options are `__init__.py`'s; the reading is `summary/night.py`'s, the formats
`summary/render.py`'s and `summary/table.py`'s, the stuck devices `state/queries.py`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from fota_poller.commands.common import output_format, read_config, stuck_after_seconds
from fota_poller.commands.streams import write_answer
from fota_poller.errors import ConfigError, ExitCode, InputFileError
from fota_poller.lines import MAX_LINE_BYTES, read_lines
from fota_poller.model.phases import PhaseTable
from fota_poller.observe.stderr import say
from fota_poller.summary.night import Night
from fota_poller.summary.render import View, render_csv, render_json, render_markdown
from fota_poller.summary.trends import history_view

if TYPE_CHECKING:
    from fota_poller.state.night_report import MorningNews
    from fota_poller.summary.by_model import ModelView

# Campaigns a table or markdown shows without --limit (the epilog in __init__.py says 50).
TABLE_LIMIT: Final = 50


def run(args: argparse.Namespace) -> int:
    """Read the file, print the summary, return the exit code."""
    # Imported here: structlog is a tenth of a second that `--version` must not pay.
    from fota_poller.observe.logs import configure_logging  # noqa: PLC0415

    # Unknown statuses are not news here (poll warned about them): errors only on stderr.
    configure_logging("error")
    config, _, _ = read_config(args.config)
    by_model = args.by == "model"
    if by_model and args.state is not None:
        # Stuck devices are counted per campaign in the state database, not per model.
        raise ConfigError("summary: --by model does not take --state (stuck is per campaign)")
    if args.state is None and not by_model:
        args.state = config.state.path  # the database the night's poll kept, when it keeps one
    phases = PhaseTable(config.phases)
    args.stalled_after = config.phases.stalled_after
    stuck_after = stuck_after_seconds(args.stuck_after)
    form = output_format(args.format, "table")
    limit = _limit(args.limit, form)
    night = Night(phases, failed_only=args.failed_only, limit=limit, by_model=by_model)
    try:
        return _summarise(night, args, form, stuck_after)
    finally:
        night.close()


def _summarise(night: Night, args: argparse.Namespace, form: str, stuck_after: float) -> int:
    _read(night, args.file)
    stuck = news = None
    if args.state is not None:
        stuck, news = _from_state(Path(args.state), stuck_after, night.phases, args.stalled_after)
    if night.bad_lines:
        long = (
            f", {night.long_lines} of them longer than {MAX_LINE_BYTES >> 20} MB"
            if night.long_lines
            else ""
        )
        say(
            f"fota-poller: {night.bad_lines} line(s) of {night.lines} are no record "
            f"(the first: line {night.first_bad_line}{long}); they were skipped"
        )
    code = _exit_code(night)
    if night.models is not None:
        from fota_poller.summary import by_model  # noqa: PLC0415 - only for --by model

        models = by_model.model_view(
            night, night.models, failed_only=args.failed_only, limit=night.limit, code=code
        )
        return write_answer(lambda stdout: _print_models(form, models, stdout)) or code
    rows, shown_of = night.chosen(), night.eligible
    view = View(night, rows, shown_of, stuck, code, *history_view(news))
    return write_answer(lambda stdout: _print(form, view, stdout)) or code


def _from_state(
    path: Path, stuck_after: float, phases: PhaseTable, stalled_after: int
) -> tuple[dict[tuple[str, str], int], MorningNews]:
    """Devices stuck per campaign, and what the history says (trends, transitions)."""
    # Imported here: only with --state (SQLite).
    from fota_poller.state import queries  # noqa: PLC0415
    from fota_poller.state.night_report import read_news  # noqa: PLC0415
    from fota_poller.state.schema import open_database  # noqa: PLC0415

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        stuck = queries.stuck_counts(connection, path, longer_than_s=stuck_after, phases=phases)
        return stuck, read_news(connection, path, stalled_after=stalled_after)


def _read(night: Night, name: str) -> None:
    # A line is held whole only up to MAX_LINE_BYTES: longer, it is a bad line, skipped.
    if name == "-" and sys.stdin is None:  # closed at start (`<&-`): commands/streams.py
        raise InputFileError("summary: cannot read -: stdin is closed")
    try:
        if name == "-":
            night.read(read_lines(sys.stdin.buffer))
            return
        with open(name, "rb", buffering=0) as stream:  # noqa: PTH123 - a plain read
            night.read(read_lines(stream))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputFileError(f"summary: cannot read {name}: {reason}") from None
    except InputFileError as exc:
        raise InputFileError(f"summary: cannot read {name}: {exc}; not a records file") from None


def _limit(given: int | None, form: str) -> int | None:
    if given is None:
        return TABLE_LIMIT if form in ("table", "markdown") else None
    if given < 0:
        raise ConfigError(f"--limit: {given} is negative (0 shows every campaign)")
    return given or None


def _exit_code(night: Night) -> int:
    run = night.run
    if run is None or not run.complete or night.campaigns_failed or night.bad_lines:
        return int(ExitCode.CAMPAIGNS_FAILED)
    if night.inventory_failed:  # the run exited 1 for it: the devices' firmware is unknown
        return int(ExitCode.CAMPAIGNS_FAILED)
    return int(ExitCode.OK)


def _print_models(form: str, view: ModelView, stdout: TextIO) -> None:
    from fota_poller.summary import by_model  # noqa: PLC0415 - only for --by model

    if form == "table":
        by_model.print_table(view, stdout)
    elif form == "json":
        stdout.writelines(by_model.render_json(view))
    elif form == "csv":
        stdout.writelines(by_model.render_csv(view))
    else:
        stdout.writelines(by_model.render_markdown(view))


def _print(form: str, view: View, stdout: TextIO) -> None:
    if form == "table":
        from fota_poller.summary.table import print_table  # noqa: PLC0415 - loads rich

        print_table(view, stdout)
    elif form == "json":
        stdout.writelines(render_json(view))
    elif form == "csv":
        stdout.writelines(render_csv(view))
    else:
        stdout.writelines(render_markdown(view))
