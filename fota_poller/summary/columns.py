"""The columns of `summary`'s campaigns table: which, in which layout, and each row's cells.

Two layouts. The wide one (`--wide`, or a table written to a file) has every column whole:
the account, the 36-character upgrade id, whether the campaign ended. The narrow one, a
terminal's default, keeps every number and gives way on the text: the upgrade id cut to its
first 8 characters (as a short git hash: enough to tell a night's campaigns apart, and
`--wide` or JSON give it whole), the account named once in the title when every row shares
it, no `ended` (the status tells it), and the firmware and status cut last (table.py).

Plain text and style names only: table.py makes the rich cells (escaped) and fits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from fota_poller.summary.order import TITLES
from fota_poller.summary.render import View, share
from fota_poller.summary.row import CampaignRow
from fota_poller.summary.stalls import NOT_STALLED

# The narrow layout's upgrade id: its first characters (terminal cells).
SHORT_ID: Final = 8
_ENDED: Final = {True: "yes", False: "no", None: ""}


class Column(NamedTuple):
    """One column: its header, whether it holds a number (right-aligned, never cut), style."""

    header: str
    number: bool = True
    style: str = ""


class Cell(NamedTuple):
    """One cell: its text as the file has it (escaped later) and its style."""

    value: str
    style: str = ""


class Layout(NamedTuple):
    """What the campaigns table shows: its title, columns and cells, row by row.

    `legend` names the accounts when they are numbered (`#1`) to make room.
    """

    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    legend: str = ""


def layout(
    view: View, rows: Sequence[CampaignRow], *, narrow: bool, numbered: bool = False
) -> Layout:
    """The columns and cells of the campaigns `rows` (the view's, worst first).

    `numbered` (narrow, several accounts, no room for their names): the account column
    holds `#1`, `#2`..., named in the legend.
    """
    accounts = list(dict.fromkeys(row.account for row in rows))
    with_account = not narrow or len(accounts) > 1
    of = "" if with_account or not accounts else f" of account {accounts[0]}"
    title = f"campaigns{of}, {TITLES[view.order]} ({len(rows)} of {view.shown_of} shown)"
    stalls = view.stalls or {}
    stalled = any(stalls.get((r.account, r.upgrade), NOT_STALLED).stalled for r in rows)
    # With a history (--state): each campaign's succeeded since the last night and its
    # projected finish, the narrow layout's as month and day (the year in JSON and --wide).
    trended = any(view.trend(row) is not None for row in rows)
    # The wide layout shows what moved whenever the state is read; the narrow one only when
    # some row knows it (the night was polled with --state): three blank columns are room.
    moves = any(row.new is not None for row in rows) or (not narrow and view.stuck is not None)
    names = {account: f"#{number}" for number, account in enumerate(accounts, 1)}
    legend = ", ".join(f"{names[a]} {a}" for a in accounts) if numbered and with_account else ""
    columns = [
        *([Column("account", number=False)] if with_account else []),
        Column("upgrade", number=False),
        Column("firmware", number=False),
        Column("status", number=False),
        *(Column(name) for name in ("devices", "ok %", "failed", "pending")),
        *([] if narrow else [Column("ended")]),
        *(Column(name) for name in (("new", "changed", "gone") if moves else ())),
        *([Column("stuck", style="yellow")] if view.stuck is not None else []),
        *([Column("late", style="cyan")] if view.night.inventory_seen else []),
        *([Column("Δ ok"), Column("finish")] if trended else []),
        *([Column("stalled", style="bold yellow")] if stalled else []),
    ]
    cells = [
        _cells(row, view, with_account=with_account, narrow=narrow, moves=moves, trended=trended)
        + (_stall_cell(row, view) if stalled else [])
        for row in rows
    ]
    if legend:
        for row_cells in cells:
            row_cells[0] = Cell(names[row_cells[0].value])
    return Layout(title, columns, cells, f"accounts: {legend}" if legend else "")


def _cells(
    row: CampaignRow,
    view: View,
    *,
    with_account: bool,
    narrow: bool,
    moves: bool,
    trended: bool,
) -> list[Cell]:
    ratio = share(row)
    status = (
        Cell(row.status)
        if row.outcome == "ok"
        else Cell(f"poll failed: {row.error_kind}", "bold red")
    )
    cells = [
        *([Cell(row.account)] if with_account else []),
        Cell(row.upgrade),
        Cell(row.firmware),
        status,
        Cell(str(row.devices)),
        Cell("" if ratio is None else f"{ratio:.1%}"),
        Cell(str(row.failed or ""), "red"),
        Cell(str(row.pending or ""), "yellow"),
        *([] if narrow else [Cell(_ENDED[row.ended])]),
    ]
    if moves:
        cells += [Cell(_number(row.new)), Cell(_number(row.changed)), Cell(_number(row.gone))]
    if view.stuck is not None:
        cells.append(Cell(str(view.stuck.get((row.account, row.upgrade), 0) or "")))
    if view.night.inventory_seen:
        cells.append(Cell(str(row.late or "")))
    if trended:
        cells += _trend_cells(row, view, narrow=narrow)
    return cells


def _stall_cell(row: CampaignRow, view: View) -> list[Cell]:
    stall = (view.stalls or {}).get((row.account, row.upgrade), NOT_STALLED)
    return [Cell(str(stall.nights_without_progress) if stall.stalled else "")]


def _trend_cells(row: CampaignRow, view: View, *, narrow: bool) -> list[Cell]:
    trend = view.trend(row)
    if trend is None:
        return [Cell(""), Cell("")]
    delta = "" if trend.succeeded_delta is None else f"{trend.succeeded_delta:+}"
    finish = trend.projected_finish or ""
    return [Cell(delta), Cell(finish[5:] if narrow else finish)]


def _number(value: int | None) -> str:
    return "" if value is None else str(value)
