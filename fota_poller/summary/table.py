"""`summary`'s terminal view: rich tables a person reads in ten seconds.

rich is imported inside `print_table` only: it costs tens of milliseconds to import, and
every other command (and `summary --format json`) must not pay them. Every value from the
file becomes a `Text` after `escape_controls`: never markup (a status `[bold]` stays as
written), never a terminal escape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TextIO

from fota_poller.model.phases import PHASES
from fota_poller.summary.columns import SHORT_ID, Layout, layout
from fota_poller.summary.render import View, inventory_lines, run_sentence
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
_UNBOUNDED: Final = 1 << 20


def print_table(view: View, stream: TextIO, *, wide: bool = False) -> None:
    """The campaigns (worst first), the totals by phase and status, failures, and the run.

    On a terminal the campaigns fit its width (the narrow layout of `summary/columns.py`);
    `wide`, or a stream that is no terminal, gets every column whole.
    """
    console = console_for(stream)
    narrow = stream.isatty() and not wide
    console.print(campaigns_table(view, console, narrow=narrow))
    console.print(_totals(view))
    print_footer(view, console)


def console_for(stream: TextIO) -> Console:
    """A rich console writing to `stream`, as wide as a page when it is no terminal."""
    from rich.console import Console  # noqa: PLC0415 - start-up time (module docstring)

    # Into a file or a pipe (`--format table > night.txt`) the table is not squeezed into
    # 80 columns: it is as wide as its rows need, up to a page's width. On a terminal rich
    # asks the terminal its width ($COLUMNS first).
    width = None if stream.isatty() else _FILE_WIDTH
    return Console(file=stream, highlight=False, width=width)


def print_footer(view: View, console: Console) -> None:
    """The inventory's news, the campaigns, failures by kind, the run and the exit code."""
    night = view.night
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


def campaigns_table(view: View, console: Console, *, narrow: bool) -> Table:
    """The campaigns as a rich table: every column whole, or (`narrow`) fitted to the console."""
    from rich import box  # noqa: PLC0415 - start-up time (module docstring)
    from rich.table import Table  # noqa: PLC0415

    # rich lays the whole table out at once: the rows (50 by default) are all needed here.
    shown = layout(view, list(view.rows), narrow=narrow)
    table = Table(title=escape_controls(shown.title), title_justify="left", box=box.SIMPLE_HEAD)
    if narrow:  # two spaces between columns, none at the edges: eleven more cells of text
        table.pad_edge, table.collapse_padding, table.show_edge = False, True, False
    for column in shown.columns:
        if column.number:
            table.add_column(column.header, justify="right", no_wrap=True, style=column.style)
        elif column.header in ("account", "upgrade"):
            # The ids are what an operator copies: never wrapped; cut only in the narrow
            # layout, to their first SHORT_ID cells (a wide character counts two).
            wide_id = 0 if narrow or column.header == "account" else 36
            table.add_column(column.header, no_wrap=True, min_width=wide_id or None)
        else:
            table.add_column(column.header, overflow="ellipsis", no_wrap=True)
    for cells in shown.rows:
        row = [text(cell.value, cell.style) for cell in cells]
        if narrow:
            row[_index(shown, "upgrade")].truncate(SHORT_ID)
        table.add_row(*row)
    if narrow:
        _fit(table, shown, console)
    else:
        table.columns[_index(shown, "status")].overflow = "fold"
    return table


def _index(shown: Layout, header: str) -> int:
    return [column.header for column in shown.columns].index(header)


def _fit(table: Table, shown: Layout, console: Console) -> None:
    """Cut the firmware, then the status (and nothing else) until the table fits the console.

    Each keeps at least its header's width; a table whose numbers alone are wider than the
    terminal is left to rich (it then cuts every column evenly).
    """
    from rich.cells import cell_len  # noqa: PLC0415 - start-up time (module docstring)
    from rich.measure import Measurement  # noqa: PLC0415

    # Measured as if the console had no edge: within its width rich has squeezed it already.
    unbounded = console.options.update_width(_UNBOUNDED)
    excess = Measurement.get(console, unbounded, table).maximum - console.width
    for header in ("firmware", "status"):  # the firmware gives way first: the status is news
        if excess <= 0:
            return
        column = table.columns[_index(shown, header)]
        natural = max((cell_len(str(cell)) for cell in column.cells), default=0)
        natural = max(natural, len(header))
        cut = min(excess, natural - len(header))
        column.max_width = natural - cut
        excess -= cut


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
