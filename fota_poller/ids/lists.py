"""Where upgrade ids come from: id-list files read lazily, line by line, into campaign refs.

A line is `accountName,upgradeId`, a bare `upgradeId` (with a default account), or a JSON
object `{"accountName": ..., "upgradeId": ...}`. Blank lines, `#` comments and a CSV
header are skipped, and so is a UTF-8 byte order mark at the start of a list. A line that
cannot be used becomes an `InvalidLine`, never an error that stops the run.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import IO, TYPE_CHECKING

import msgspec

from fota_poller.errors import InputFileError
from fota_poller.text import excerpt

if TYPE_CHECKING:
    from fota_poller.ids.pipe_lines import InputCutoff
    from fota_poller.ids.sources import Batched

ACCOUNT_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
STDIN = "-"
# UTF-8 that drops a byte order mark at the start of the stream (and only there).
ID_LIST_ENCODING = "utf-8-sig"
# Lines are read from a file in a worker thread, a batch at a time, so a large file costs few
# thread hops; a pipe, FIFO or terminal is read as it arrives (pipe_lines.py).
_LINES_PER_READ = 512


class CampaignRef(msgspec.Struct, frozen=True):
    """One campaign to poll; `upgrade_id` in canonical lower-case dashed form."""

    account_name: str
    upgrade_id: str


class InvalidLine(msgspec.Struct, frozen=True):
    """An input line that makes no request but still gets a failed campaign record."""

    source: str
    line_number: int
    reason: str
    # Only values that passed validation: a record never echoes arbitrary input as an id.
    account_name: str | None = None
    upgrade_id: str | None = None

    @property
    def message(self) -> str:
        """Where the line is and what is wrong with it."""
        return f"{self.source}:{self.line_number}: {self.reason}"


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
_HEADER_WORDS = frozenset(
    {"accountname", "account_name", "account", "upgradeid", "upgrade_id", "id"}
)
# The header of a one-column export: without this it was a failed campaign every night.
_ONE_COLUMN_HEADER = frozenset({"upgradeid", "upgrade_id", "id"})


def parse_line(
    line: str, *, source: str, line_number: int, default_account: str | None
) -> CampaignRef | InvalidLine | None:
    """Parse one line; None for a line to skip (blank, comment, CSV header)."""
    plain = _PLAIN_LINE.fullmatch(line)
    if plain is not None:
        return CampaignRef(plain[1], plain[2])
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = _split_fields(text, default_account)
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


def _split_fields(  # noqa: PLR0911 - one early return per line form and per way it fails
    text: str, default_account: str | None
) -> tuple[str | None, str] | str | None:
    """(account, upgrade) from one of the three line forms; a str is why the line is unusable."""
    if text.startswith("{"):
        try:
            obj = _json_ref_decoder.decode(text)
        except msgspec.DecodeError as exc:
            return f"not a valid JSON id object: {exc}"
        if obj.upgradeId is None:
            return "JSON id object has no upgradeId"
        return obj.accountName or default_account, obj.upgradeId
    if "," in text:
        fields = [field.strip() for field in text.split(",")]
        if len(fields) != 2:  # noqa: PLR2004 - accountName,upgradeId
            return f"expected accountName,upgradeId, got {len(fields)} fields"
        if {field.lower() for field in fields} <= _HEADER_WORDS:
            return None
        return fields[0], fields[1]
    if text.strip('"').lower() in _ONE_COLUMN_HEADER:
        return None
    return default_account, text


def canonical_upgrade_id(text: str) -> str | None:
    """The lower-case dashed form of an upgrade id, or None when it is not a UUID.

    So `E3A8...` and `{e3a8...}` are one campaign.
    """
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def open_id_sources(paths: Sequence[str]) -> list[tuple[str, IO[str]]]:
    """Open every id list up front, so an unreadable one stops the run before any output."""
    opened: list[tuple[str, IO[str]]] = []
    try:
        for path in paths:
            if path == STDIN:
                opened.append(("<stdin>", _utf8_stdin()))
                continue
            try:
                # Closed by close_id_sources: the files outlive this function on purpose.
                # utf-8-sig: spreadsheet exports start with a byte order mark, which would
                # otherwise be read as part of the first line's account name.
                stream = open(  # noqa: SIM115 - closed by close_id_sources
                    path, encoding=ID_LIST_ENCODING, errors="replace", opener=_open_without_waiting
                )
                opened.append((path, stream))
            except OSError as exc:
                raise InputFileError(f"cannot read id list {path}: {exc.strerror}") from None
    except BaseException:
        close_id_sources(opened)
        raise
    return opened


def _open_without_waiting(path: str, flags: int) -> int:
    """Open for reading at once, even a FIFO no writer has opened yet (pipe_lines.py waits).

    O_NONBLOCK changes nothing for a regular file, and a FIFO or terminal opened here is read
    only once it is readable, so no read of ours meets EAGAIN for lack of data.
    """
    return os.open(path, flags | os.O_NONBLOCK)


def _utf8_stdin() -> IO[str]:
    """The standard input, decoded as an id file is: UTF-8 whatever the locale, BOM skipped."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        # Allowed only before the first read, which is why every source is opened up front.
        sys.stdin.reconfigure(encoding=ID_LIST_ENCODING, errors="replace")
    return sys.stdin


def close_id_sources(sources: Iterable[tuple[str, IO[str]]]) -> None:
    """Close the files `open_id_sources` opened (never stdin)."""
    for _, stream in sources:
        if stream is not sys.stdin:
            stream.close()


def read_refs(
    sources: Iterable[tuple[str, IO[str]]],
    default_account: str | None,
    cutoff: InputCutoff | None = None,
) -> Batched[CampaignRef | InvalidLine]:
    """Every usable or invalid line of every source, in order, read lazily a batch at a time.

    A source on a pipe, FIFO or terminal is waited for until `cutoff` (the run's stop switch)
    says input is no longer waited for; then it ends where it is (pipe_lines.py).
    """
    # Imported here: `state` and `--help` use this module's names, not its async plumbing,
    # which loads anyio and structlog (bench/startup.py).
    from fota_poller.ids.sources import Batched  # noqa: PLC0415

    return Batched(_read_batches(sources, default_account, cutoff))


async def _read_batches(
    sources: Iterable[tuple[str, IO[str]]],
    default_account: str | None,
    cutoff: InputCutoff | None,
) -> AsyncIterator[list[CampaignRef | InvalidLine]]:
    import anyio.to_thread  # noqa: PLC0415 - off the start-up path (bench/startup.py)

    from fota_poller.ids.pipe_lines import open_pipe  # noqa: PLC0415 - the same

    for name, stream in sources:
        line_number = 0
        pipe = open_pipe(stream, name, cutoff)
        while True:
            try:
                if pipe is not None:
                    lines = await pipe.next_batch(_LINES_PER_READ)
                else:
                    lines = await anyio.to_thread.run_sync(_read_batch, stream)
            except OSError as exc:
                raise InputFileError(f"error reading id list {name}: {exc.strerror}") from None
            if not lines:
                break
            batch = parse_lines(
                lines,
                source=name,
                first_line_number=line_number + 1,
                default_account=default_account,
            )
            line_number += len(lines)
            if batch:
                yield batch


def parse_lines(
    lines: list[str], *, source: str, first_line_number: int, default_account: str | None
) -> list[CampaignRef | InvalidLine]:
    """`parse_line` of each line (the lines end with their newline), skipped lines left out."""
    pairs = _PLAIN_LINES.findall("".join(lines))
    if len(pairs) == len(lines):
        # The usual batch, every line `accountName,upgradeId`: a million lines left at a stop
        # are read at a fraction of the cost of one call per line.
        return list(itertools.starmap(CampaignRef, pairs))
    parsed = (
        parse_line(line, source=source, line_number=number, default_account=default_account)
        for number, line in enumerate(lines, start=first_line_number)
    )
    return [item for item in parsed if item is not None]


def _read_batch(stream: IO[str]) -> list[str]:
    return list(itertools.islice(stream, _LINES_PER_READ))
