"""How one id list lays out its columns, as spreadsheets export them.

The delimiter is sniffed from the list's first lines: of `,`, tab and `;`, the one found in
the most of them (a comma on a tie or when none is found; a comma list whose notes hold a
`;` stays a comma list). Each line is split by Python's csv reader, so quoted fields work. A
header (`accountName`, `upgradeId` in any order and case, spaces, `_` or `-` inside, other
named columns beside them) says which column holds what for the lines after it; without one,
a line is `accountName,upgradeId`. A line of one cell is a bare `upgradeId` either way, an
empty account cell takes the default account, and empty trailing cells (`a,b,,`) are ignored.
"""

from __future__ import annotations

import csv
import itertools
import re
from typing import Final

_DELIMITERS: Final = (",", "\t", ";")
# Lines looked at to choose the delimiter.
_SNIFF_LINES: Final = 20
# A header's cell: a name, not an id nor a value (a cell with a BOM inside is no header).
_HEADER_CELL: Final = re.compile(r"[A-Za-z][A-Za-z0-9 _.-]{0,63}")
_ACCOUNT_NAMES: Final = frozenset({"accountname", "account"})
_UPGRADE_NAMES: Final = frozenset({"upgradeid", "id"})
_TWO_COLUMNS: Final = 2

# (account, upgrade id) from a line; a str is why the line is unusable; None: skip the line.
Fields = tuple[str | None, str] | str | None


class ListColumns:
    """One list's delimiter and column order, learnt from its first lines and its header."""

    def __init__(self) -> None:
        self.delimiter = ","
        self.sniffed = False
        # (account column or None, upgrade id column) from a header; None: no header seen.
        self.header: tuple[int | None, int] | None = None
        # How many cells a line may have (empty ones at its end aside): the header's count.
        self.width = _TWO_COLUMNS

    @property
    def plain(self) -> bool:
        """Whether a plain `accountName,upgradeId` line means what it says in this list."""
        return self.delimiter == "," and self.header in {None, (0, 1)}

    def sniff(self, text: str) -> None:
        """Choose the delimiter from the first lines of `text` that hold data, if any do."""
        if self.sniffed:
            return
        candidates = (line.strip() for line in text.split("\n", _SNIFF_LINES * 4))
        lines = list(
            itertools.islice(
                (line for line in candidates if line and not line.startswith(("#", "{"))),
                _SNIFF_LINES,
            )
        )
        if not lines:
            return
        self.sniffed = True
        found = {mark: sum(mark in line for line in lines) for mark in _DELIMITERS}
        best = max(_DELIMITERS, key=found.__getitem__)  # the first of equals: a comma
        self.delimiter = best if found[best] else ","

    def fields(  # noqa: PLR0911 - one early return per line form and per way it fails
        self, text: str, default_account: str | None
    ) -> Fields:
        """(account, upgrade id) from a stripped, non-empty line that is not JSON."""
        cells = _cells(text, self.delimiter)
        if isinstance(cells, str):
            return cells
        if not any(cells):
            return None  # an empty row of a spreadsheet: `,,,`
        # "id" is in every header and in no UUID: most lines are no header at a glance.
        if "id" in text.lower() and self._is_header(cells):
            return None
        while not cells[-1]:
            cells.pop()
        if len(cells) == 1:
            return default_account, cells[0]  # a bare upgrade id, with a header or without
        if len(cells) > self.width:
            # A value in a column nobody named: the line is not what it seems to be.
            if self.header is None:
                return f"expected accountName,upgradeId, got {len(cells)} fields"
            return f"expected the header's {self.width} fields at most, got {len(cells)} fields"
        if self.header is not None:
            account_column, upgrade_column = self.header
            account = _cell(cells, account_column)
            return account or default_account, _cell(cells, upgrade_column)
        return cells[0] or default_account, cells[1]

    def _is_header(self, cells: list[str]) -> bool:
        """Whether `cells` name the columns; if so, the columns of the lines after it."""
        named = [cell for cell in cells if cell]
        if not all(_HEADER_CELL.fullmatch(cell) for cell in named):
            return False
        names = [re.sub(r"[ _.-]", "", cell).lower() for cell in cells]
        upgrade = next((i for i, name in enumerate(names) if name in _UPGRADE_NAMES), None)
        if upgrade is None:
            return False
        account = next((i for i, name in enumerate(names) if name in _ACCOUNT_NAMES), None)
        # A one-column header (`upgradeId`) leaves every line read as a line without one.
        one_column = (account, upgrade) == (None, 0)
        self.header = None if one_column else (account, upgrade)
        self.width = _TWO_COLUMNS if one_column else _last(cells) + 1
        return True


def _cells(text: str, delimiter: str) -> list[str] | str:
    """The cells of a line, stripped; a str says why it is no CSV line (a broken quote)."""
    if '"' not in text:
        # What the csv reader gives for a line without quotes, at a fraction of its cost.
        return [cell.strip() for cell in text.split(delimiter)]
    try:
        cells = next(csv.reader((text,), delimiter=delimiter, skipinitialspace=True, strict=True))
    except csv.Error as exc:
        return f"not a valid CSV line: {exc}"
    return [cell.strip() for cell in cells]


def _last(cells: list[str]) -> int:
    """The index of the last non-empty cell."""
    return max(i for i, cell in enumerate(cells) if cell)


def _cell(cells: list[str], column: int | None) -> str:
    return cells[column] if column is not None and column < len(cells) else ""
