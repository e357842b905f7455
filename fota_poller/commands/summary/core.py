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
from fota_poller.summary.order import DEFAULT_SORT, sort_key
from fota_poller.summary.render import View, render_csv, render_json, render_markdown
from fota_poller.summary.trends import history_view

if TYPE_CHECKING:
    from fota_poller.state.night_report import MorningNews
    from fota_poller.summary.by_model import ModelView
    from fota_poller.summary.stalls import Stall

# What the state database says of the night's campaigns: stuck devices, stalled campaigns.
_State = tuple[dict[tuple[str, str], int], dict[tuple[str, str], "Stall"], "MorningNews"]

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
    if by_model and args.sort is not None:
        raise ConfigError("summary: --by model has its own order (worst failed share first)")
    if args.state is None and not by_model:
        args.state = config.state.path  # the database the night's poll kept, when it keeps one
    order = args.sort or DEFAULT_SORT
    if order == "stalled" and args.state is None:
        raise ConfigError(
            "summary: --sort stalled reads the state database's history: pass --state FILE.db "
            "or set state.path in the config"
        )
    phases = PhaseTable(config.phases)
    stuck_after = stuck_after_seconds(args.stuck_after)
    form = output_format(args.format, "table")
    limit = _limit(args.limit, form)
    state = None
    if args.state is not None:
        # Read before the night: the order `stalled` needs it as the rows stream in.
        state = _read_state(Path(args.state), stuck_after, phases, config.phases.stalled_after)
    stalls = {} if state is None else state[1]
    night = Night(
        phases,
        failed_only=args.failed_only,
        limit=limit,
        by_model=by_model,
        key=sort_key(order, stalls),
    )
    try:
        return _summarise(night, args, form, state, order)
    finally:
        night.close()


def _summarise(
    night: Night, args: argparse.Namespace, form: str, state: _State | None, order: str
) -> int:
    _read(night, args.file)
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
    code = exit_code(night)
    if night.models is not None:
        from fota_poller.summary import by_model  # noqa: PLC0415 - only for --by model

        models = by_model.model_view(
            night, night.models, failed_only=args.failed_only, limit=night.limit, code=code
        )
        return write_answer(lambda stdout: _print_models(form, models, stdout)) or code
    rows, shown_of = night.chosen(), night.eligible
    stuck, stalls, news = (None, None, None) if state is None else state
    trends, last_night = history_view(news)
    view = View(
        night, rows, shown_of, stuck, code, stalls, order, trends=trends, last_night=last_night
    )
    return write_answer(lambda stdout: _print(form, view, stdout, wide=args.wide)) or code


def _read_state(path: Path, stuck_after: float, phases: PhaseTable, stalled_after: int) -> _State:
    """Devices stuck per campaign, the stalled ones, and what the history says (one read)."""
    # Imported here: only with --state (SQLite).
    from fota_poller.state import queries  # noqa: PLC0415
    from fota_poller.state.night_report import read_news  # noqa: PLC0415
    from fota_poller.state.schema import open_database  # noqa: PLC0415
    from fota_poller.summary.stalls import stalls_of  # noqa: PLC0415

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        stuck = queries.stuck_counts(connection, path, longer_than_s=stuck_after, phases=phases)
        news = read_news(connection, path, stalled_after=stalled_after)
        return stuck, stalls_of(news.campaigns), news


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


def exit_code(night: Night) -> int:
    """Summary's exit code for `night`: 1 when it needs a look (the epilog's table)."""
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


def _print(form: str, view: View, stdout: TextIO, *, wide: bool) -> None:
    if form == "table":
        from fota_poller.summary.table import print_table  # noqa: PLC0415 - loads rich

        print_table(view, stdout, wide=wide)
    elif form == "json":
        stdout.writelines(render_json(view))
    elif form == "csv":
        stdout.writelines(render_csv(view))
    else:
        stdout.writelines(render_markdown(view))
