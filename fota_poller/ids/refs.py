"""One line of an id list into a campaign ref, or an invalid line that says where and why.

A line is `accountName,upgradeId` (CSV as spreadsheets export it: ids/columns.py), a bare
`upgradeId` (with a default account), or a JSON object `{"accountName": ..., "upgradeId":
...}`. Blank lines, `#` comments and a CSV header are skipped. Lines come here as text, a
block of whole lines at a time; ids/lists.py reads them from the files.
"""

from __future__ import annotations

import itertools
import re

import msgspec

from fota_poller.decoding import decode
from fota_poller.errors import InputDecodeError
from fota_poller.ids.columns import ListColumns
from fota_poller.model.refs import ACCOUNT_PATTERN, CampaignRef, InvalidLine, canonical_upgrade_id
from fota_poller.text import excerpt


class _JsonRef(msgspec.Struct):
    accountName: str | None = None  # noqa: N815 - the API's own key
    upgradeId: str | None = None  # noqa: N815 - the API's own key


# The usual line, `accountName,upgradeId` with the id already canonical, in one match: it
# yields what the general path below would, at a third of the cost (no uuid.UUID round trip),
# which matters when a stopped run must still read a million lines to account for them.
_PLAIN_LINE = re.compile(
    r"\s*([A-Za-z0-9_-]{1,64})\s*,\s*"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*"
)
# The same, for a whole batch of lines joined: each match is one whole line (it starts at a
# line's start and ends with its newline), so as many matches as lines means every line is
# plain, and they are parsed in one C call. Only spaces and tabs around the fields here, a
# subset of `\s`: a line with other white space takes the line-by-line path.
_PLAIN_LINES = re.compile(
    r"^[ \t]*([A-Za-z0-9_-]{1,64})[ \t]*,[ \t]*"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})[ \t]*(?:\n|\Z)",
    re.MULTILINE,
)
_json_ref_decoder = msgspec.json.Decoder(_JsonRef)


def parse_line(
    line: str,
    *,
    source: str,
    line_number: int,
    default_account: str | None,
    columns: ListColumns | None = None,
) -> CampaignRef | InvalidLine | None:
    """Parse one line; None for a line to skip (blank, comment, CSV header).

    `columns` is what the list's earlier lines said of its layout (a header sets it); a
    list of `accountName,upgradeId` lines when None.
    """
    columns = ListColumns() if columns is None else columns
    plain = _PLAIN_LINE.fullmatch(line) if columns.plain else None
    if plain is not None:
        return CampaignRef(plain[1], plain[2])
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = _split_fields(text, default_account, columns)
    if fields is None or isinstance(fields, str):
        return None if fields is None else InvalidLine(source, line_number, fields)
    account, upgrade = fields
    upgrade_id = canonical_upgrade_id(upgrade)
    # Validated on every path, so an invalid line's record never carries raw input as an id.
    valid_account = account if account and ACCOUNT_PATTERN.fullmatch(account) else None
    if upgrade_id is None:
        # First: a line that is no id at all should not be blamed on a missing account.
        reason = f"upgradeId {excerpt(upgrade)} is not a UUID"
    elif not account:
        reason = "bare upgradeId but no account: pass --account or set api.account"
    elif valid_account is None:
        reason = f"accountName {excerpt(account)} is not 1-64 of [A-Za-z0-9_-]"
    else:
        return CampaignRef(valid_account, upgrade_id)
    return InvalidLine(source, line_number, reason, valid_account, upgrade_id)


def _split_fields(
    text: str, default_account: str | None, columns: ListColumns
) -> tuple[str | None, str] | str | None:
    """(account, upgrade) from one of the line forms; a str is why the line is unusable."""
    if text.startswith("{"):
        try:
            obj = decode(_json_ref_decoder.decode, text)
        except InputDecodeError as exc:
            return f"not a valid JSON id object: {exc}"
        if obj.upgradeId is None:
            return "JSON id object has no upgradeId"
        return obj.accountName or default_account, obj.upgradeId
    return columns.fields(text, default_account)


def parse_lines(
    lines: list[str], *, source: str, first_line_number: int, default_account: str | None
) -> list[CampaignRef | InvalidLine]:
    """`parse_line` of each line (the lines end with their newline), skipped lines left out."""
    return parse_block(
        "".join(lines),
        source=source,
        first_line_number=first_line_number,
        default_account=default_account,
        columns=ListColumns(),
    )


def parse_block(
    text: str,
    *,
    source: str,
    first_line_number: int,
    default_account: str | None,
    columns: ListColumns,
) -> list[CampaignRef | InvalidLine]:
    """`parse_line` of each line of `text` (LF-separated), skipped lines left out."""
    if not text:
        return []
    if columns.plain:
        pairs = _PLAIN_LINES.findall(text)
        if len(pairs) == text.count("\n") + (not text.endswith("\n")):
            # The usual block, every line `accountName,upgradeId`: a million lines left at a
            # stop are read at a fraction of the cost of one call per line.
            return list(itertools.starmap(CampaignRef, pairs))
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    parsed = (
        parse_line(
            line,
            source=source,
            line_number=number,
            default_account=default_account,
            columns=columns,
        )
        for number, line in enumerate(lines, start=first_line_number)
    )
    return [item for item in parsed if item is not None]
