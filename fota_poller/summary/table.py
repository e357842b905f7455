"""`summary`'s terminal view: rich tables a person reads in ten seconds.

rich is imported inside `print_table` only: it costs tens of milliseconds to import, and
every other command (and `summary --format json`) must not pay them. Every value from the
file becomes a `Text` after `escape_controls`: never markup (a status `[bold]` stays as
written), never a terminal escape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TextIO

from fota_poller.model.phases import PHASES
from fota_poller.summary.render import View, inventory_lines, run_sentence, share
from fota_poller.summary.row import CampaignRow
from fota_poller.summary.trends import last_night_lines
from fota_poller.text import escape_controls

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

_PHASE_STYLE: Final = {
    "succeeded": "green",
    "failed": "red",
    "pending": "yellow",
    "unknown": "magenta",
}
_FILE_WIDTH: Final = 200
_ENDED: Final = {True: "yes", False: "no", None: ""}


def print_table(view: View, stream: TextIO) -> None:
    """The campaigns (worst first), the totals by phase and status, failures, and the run."""
    console = console_for(stream)
    console.print(_campaigns(view))
    console.print(_totals(view))
    print_footer(view, console)


def console_for(stream: TextIO) -> Console:
    """A rich console writing to `stream`, as wide as a page when it is no terminal."""
    from rich.console import Console  # noqa: PLC0415 - start-up time (module docstring)

    # Into a file or a pipe (`--format table > night.txt`) the table is not squeezed into
    # 80 columns: it is as wide as its rows need, up to a page's width.
    width = None if stream.isatty() else _FILE_WIDTH
    return Console(file=stream, highlight=False, width=width)


def print_footer(view: View, console: Console) -> None:
    """The inventory's news, the campaigns, failures by kind, the run and the exit code."""
    night = view.night
    for line in last_night_lines(view.last_night, escape_controls, bullet=""):
        console.print(text(line, "cyan"))
    for line in inventory_lines(night):
        console.print(text(line, "red" if line.startswith("inventory failed") else "cyan"))
    failed = night.campaigns_failed
    polled = night.campaigns - failed
    console.print(text(f"campaigns: {night.campaigns}, {polled} polled, {failed} failed"))
    for kind, count in night.failed_by_kind.most_common():
        console.print(text(f"  {kind}: {count}", "red"))
    run_style = "green" if night.run is not None and night.run.complete else "bold red"
    console.print(text(run_sentence(night), run_style))
    if night.bad_lines:
        console.print(text(f"{night.bad_lines} line(s) that are no record", "bold red"))
    console.print(text(f"summary exit code: {view.code}"))


def text(value: object, style: str = "") -> Text:
    """A value from the file as rich text: controls escaped, never markup."""
    from rich.text import Text  # noqa: PLC0415 - start-up time (module docstring)

    return Text(escape_controls("" if value is None else str(value)), style=style)


def _campaigns(view: View) -> Table:
    from rich import box  # noqa: PLC0415 - start-up time (module docstring)
    from rich.table import Table  # noqa: PLC0415

    # rich lays the whole table out at once: the rows (50 by default) are all needed here.
    rows = list(view.rows)
    table = Table(
        title=f"campaigns, worst first ({len(rows)} of {view.shown_of} shown)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    # The ids are what an operator copies: never wrapped; the rest gives way on a narrow screen.
    table.add_column("account", no_wrap=True)
    table.add_column("upgrade", no_wrap=True, min_width=36)
    table.add_column("firmware", overflow="ellipsis", no_wrap=True)
    table.add_column("status", overflow="fold")
    for name in ("devices", "ok %", "failed", "pending", "ended"):
        table.add_column(name, justify="right")
    moves = view.stuck is not None or any(row.new is not None for row in rows)
    if moves:
        for name in ("new", "changed", "gone"):
            table.add_column(name, justify="right")
    if view.stuck is not None:
        table.add_column("stuck", justify="right", style="yellow")
    if view.night.inventory_seen:
        table.add_column("late", justify="right", style="cyan")
    if view.trends is not None:  # with --state: the history's verdict (state/history.py)
        table.add_column("stalled", justify="right", style="bold red")
    for row in rows:
        table.add_row(*_cells(row, view, moves=moves))
    return table


def _cells(row: CampaignRow, view: View, *, moves: bool) -> list[Text]:
    ratio = share(row)
    failed_poll = text(f"poll failed: {row.error_kind}", "bold red")
    cells = [
        text(row.account),
        text(row.upgrade),
        text(row.firmware),
        text(row.status) if row.outcome == "ok" else failed_poll,
        text(row.devices),
        text("" if ratio is None else f"{ratio:.1%}"),
        text(row.failed or "", "red"),
        text(row.pending or "", "yellow"),
        text(_ENDED[row.ended]),
    ]
    if moves:
        cells += [text(row.new), text(row.changed), text(row.gone)]
    if view.stuck is not None:
        cells.append(text(view.stuck.get((row.account, row.upgrade), 0) or ""))
    if view.night.inventory_seen:
        cells.append(text(row.late or ""))
    if view.trends is not None:
        trend = view.trend(row)
        quiet = trend.nights_without_progress if trend is not None and trend.stalled else None
        cells.append(text("" if quiet is None else f"{quiet} nights"))
    return cells


def _totals(view: View) -> Table:
    from rich import box  # noqa: PLC0415 - start-up time (module docstring)
    from rich.table import Table  # noqa: PLC0415

    night = view.night
    table = Table(title="devices by phase", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("phase / status")
    table.add_column("devices", justify="right")
    grouped = night.statuses_by_phase()
    for phase in PHASES:
        style = f"bold {_PHASE_STYLE[phase]}"
        table.add_row(text(phase, style), text(night.phase_totals[phase]))
        for status, count in grouped[phase]:
            table.add_row(text(f"  {status}"), text(count))
    table.add_row(text("total", "bold"), text(sum(night.phase_totals.values()), "bold"))
    return table
