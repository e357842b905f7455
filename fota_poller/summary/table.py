"""`summary`'s terminal view: rich tables a person reads in ten seconds.

rich is imported inside `print_table` only: it costs tens of milliseconds to import, and
every other command (and `summary --format json`) must not pay them. Every value from the
file becomes a `Text` after `escape_controls`: never markup (a status `[bold]` stays as
written), never a terminal escape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple, TextIO

from fota_poller.model.phases import PHASES
from fota_poller.summary.columns import SHORT_ID, Layout, layout
from fota_poller.summary.render import View, inventory_lines, run_sentence
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
_UNBOUNDED: Final = 1 << 20


def print_table(view: View, stream: TextIO, *, wide: bool = False) -> None:
    """The campaigns (worst first), the totals by phase and status, failures, and the run.

    On a terminal the campaigns fit its width (the narrow layout of `summary/columns.py`);
    `wide`, or a stream that is no terminal, gets every column whole.
    """
    console = console_for(stream)
    narrow = stream.isatty() and not wide
    console.print(campaigns_table(view, console, narrow=narrow))
    if narrow:  # the narrow table has no bottom edge: a line before the next table
        console.print()
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


def campaigns_table(view: View, console: Console, *, narrow: bool) -> Table:
    """The campaigns as a rich table: every column whole, or (`narrow`) fitted to the console.

    Fitted a step at a time (`_ROOM`) until the table fits: the firmware, then the status,
    cut (`...`) to their header's width; one space between columns instead of two; then the
    firmware, then the status, left out; then, with several accounts, each account as `#1`,
    `#2`... named under the table. A number is never cut while a step is left: a terminal
    narrower than the numbers alone is left to rich, which then cuts evenly.
    """
    # rich lays the whole table out at once: the rows (50 by default) are all needed here.
    rows = list(view.rows)
    shown = layout(view, rows, narrow=narrow)
    if not narrow:
        return _table(shown, _Room())
    # The accounts' names, when there are several, are the last to give way: numbered.
    for numbered in (False, True):
        shown = layout(view, rows, narrow=True, numbered=numbered)
        for room in _ROOM:
            table = _table(shown, room)
            if _natural_width(table, console) <= console.width:
                return _given_back(shown, room, table, console)
    return table


def _given_back(shown: Layout, room: _Room, table: Table, console: Console) -> Table:
    """What a cut to the header's width took beyond the need, given back: the status first.

    Each cut column may grow by what the terminal has left over; it takes no more than its
    text needs, and what it leaves goes to the next.
    """
    extra: dict[str, int] = {}
    for header in ("status", "firmware"):
        spare = console.width - _natural_width(table, console)
        if header not in room.cut or spare <= 0:
            continue
        extra[header] = spare
        table = _table(shown, room._replace(extra=tuple(extra.items())))
    return table


class _Room(NamedTuple):
    """What the narrow layout gives up to fit: columns cut to their header, left out."""

    narrow: bool = False
    cut: tuple[str, ...] = ()
    tight: bool = False
    left_out: tuple[str, ...] = ()
    # Cells given back to a cut column, beyond its header's width (`_given_back`).
    extra: tuple[tuple[str, int], ...] = ()


_ROOM: Final = (
    _Room(narrow=True),
    _Room(narrow=True, cut=("firmware",)),
    _Room(narrow=True, cut=("firmware", "status")),
    _Room(narrow=True, cut=("firmware", "status"), tight=True),
    _Room(narrow=True, cut=("status",), tight=True, left_out=("firmware",)),
    _Room(narrow=True, tight=True, left_out=("firmware", "status")),
)


def _table(shown: Layout, room: _Room) -> Table:
    from rich import box  # noqa: PLC0415 - start-up time (module docstring)
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=escape_controls(shown.title),
        title_justify="left",
        caption=escape_controls(shown.legend) or None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    if room.narrow:  # two spaces between columns (one when tight), none at the edges
        table.pad_edge, table.collapse_padding, table.show_edge = False, True, False
        table.padding = (0, 0) if room.tight else (0, 1)
    kept = [i for i, column in enumerate(shown.columns) if column.header not in room.left_out]
    for index in kept:
        column = shown.columns[index]
        if column.number:
            table.add_column(column.header, justify="right", no_wrap=True, style=column.style)
        elif column.header in ("account", "upgrade"):
            # The ids are what an operator copies: never wrapped; cut only in the narrow
            # layout, to their first SHORT_ID cells (a wide character counts two).
            whole = not room.narrow and column.header == "upgrade"
            table.add_column(column.header, no_wrap=True, min_width=36 if whole else None)
        elif room.narrow or column.header == "firmware":  # on one line, cut with `...`
            cut = (
                len(column.header) + dict(room.extra).get(column.header, 0)
                if column.header in room.cut
                else None
            )
            table.add_column(column.header, overflow="ellipsis", no_wrap=True, max_width=cut)
        else:  # the wide layout's status: folded over lines, never cut
            table.add_column(column.header, overflow="fold")
    upgrade = [column.header for column in shown.columns].index("upgrade")
    for cells in shown.rows:
        row = {i: text(cell.value, cell.style) for i, cell in enumerate(cells)}
        if room.narrow:
            row[upgrade].truncate(SHORT_ID)
        table.add_row(*(row[i] for i in kept))
    return table


def _natural_width(table: Table, console: Console) -> int:
    from rich.measure import Measurement  # noqa: PLC0415 - start-up time (module docstring)

    # Measured as if the console had no edge: within its width rich has squeezed it already.
    unbounded = console.options.update_width(_UNBOUNDED)
    return Measurement.get(console, unbounded, table).maximum


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
