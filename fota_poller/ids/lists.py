"""Where upgrade ids come from: id-list files read lazily, a chunk at a time, into campaign refs.

ids/list_text.py turns a list's bytes into lines (a byte order mark says UTF-16 or is
dropped, any other list must be UTF-8, a line longer than `MAX_LINE_BYTES` is never read
whole), ids/refs.py each line into a `CampaignRef` or an `InvalidLine` (which never stops
the run), ids/columns.py remembers the list's delimiter and header on the way.

A list that is a regular file is read whole once before the run, only to check its encoding
(in bounded memory): a byte that is not UTF-8 is one line and exit 2 before any request. So
is a run whose lists have no usable line at all (`refuse_if_nothing_usable`).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import IO, TYPE_CHECKING

from fota_poller.errors import InputFileError
from fota_poller.ids.columns import ListColumns
from fota_poller.ids.list_text import ListText, TextBlock, TooLong
from fota_poller.ids.refs import parse_block, parse_line, parse_lines
from fota_poller.lines import MAX_LINE_BYTES
from fota_poller.model.refs import CampaignRef, InvalidLine

if TYPE_CHECKING:
    from fota_poller.ids.pipe_reader import InputCutoff
    from fota_poller.ids.sources import Batched

STDIN = "-"
# An opened id list: its name in messages, and its bytes.
IdSource = tuple[str, IO[bytes]]
# What the rest of the package and the tests know from here: the items an id list yields.
__all__ = [
    "STDIN",
    "IdSource",
    "close_id_sources",
    "open_id_sources",
    "parse_line",
    "parse_lines",
    "parse_pieces",
    "read_refs",
    "refuse_if_nothing_usable",
]


def open_id_sources(paths: Sequence[str]) -> list[IdSource]:
    """Open every id list up front, so an unreadable one stops the run before any output.

    Each that is a regular file (stdin too, when redirected from one) has its encoding
    checked whole, so that a byte that is not UTF-8 stops the run before any request.
    """
    opened: list[IdSource] = []
    try:
        for path in paths:
            if path == STDIN:
                opened.append(("<stdin>", _stdin_bytes()))
                continue
            try:
                # Closed by close_id_sources: the files outlive this function on purpose.
                stream: IO[bytes] = open(  # noqa: SIM115 - an opener, see below
                    path, "rb", opener=_open_without_waiting
                )
            except OSError as exc:
                raise InputFileError(f"cannot read id list {path}: {exc.strerror}") from None
            opened.append((path, stream))
        for name, stream in opened:
            _validate_encoding(name, stream)
    except BaseException:
        close_id_sources(opened)
        raise
    return opened


def _open_without_waiting(path: str, flags: int) -> int:
    """Open for reading at once, even a FIFO no writer has opened yet (pipe_reader.py waits).

    O_NONBLOCK changes nothing for a regular file, and a FIFO or terminal opened here is read
    only once it is readable, so no read of ours meets EAGAIN for lack of data.
    """
    return os.open(path, flags | os.O_NONBLOCK)


def _stdin_bytes() -> IO[bytes]:
    """The standard input's bytes: an id list decodes as UTF-8 (or UTF-16) whatever the locale."""
    if sys.stdin is None:  # closed at start (`<&-`): commands/streams.py
        raise InputFileError("cannot read id list -: stdin is closed")
    return sys.stdin.buffer


def _rewindable(stream: IO[bytes]) -> int | None:
    """Where a regular file's stream stands, to come back to; None for a pipe or a terminal."""
    try:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode) or not stream.seekable():
            return None
        return stream.tell()
    except (OSError, ValueError):
        return None


def _validate_encoding(name: str, stream: IO[bytes]) -> None:
    """Read a regular file whole, only to check its encoding; a pipe is checked as it is read."""
    start = _rewindable(stream)
    if start is None:
        return
    try:
        ListText(name, stream).validate_rest()
        stream.seek(start)
    except OSError as exc:
        raise InputFileError(f"error reading id list {name}: {exc.strerror}") from None


def refuse_if_nothing_usable(sources: Sequence[IdSource], default_account: str | None) -> None:
    """Refuse (exit 2) lists in which no line is usable, before any request.

    Read until one usable line is found (the first, on a good night); only when every list
    is a regular file: a pipe is read once, by the run, which then decides the same
    (`run/pipeline.py`).
    """
    starts = [_rewindable(stream) for _, stream in sources]
    files = [
        (name, stream, start)
        for (name, stream), start in zip(sources, starts, strict=True)
        if start is not None
    ]
    if len(files) < len(sources):
        return
    first_invalid: InvalidLine | None = None
    invalid = 0
    for name, stream, start in files:
        text = ListText(name, stream)
        columns = ListColumns()
        try:
            while (pieces := text.read()) is not None:
                for item in parse_pieces(pieces, name, columns, default_account, MAX_LINE_BYTES):
                    if isinstance(item, CampaignRef):
                        stream.seek(start)
                        return
                    invalid += 1
                    first_invalid = first_invalid or item
            stream.seek(start)
        except OSError as exc:
            raise InputFileError(f"error reading id list {name}: {exc.strerror}") from None
    if first_invalid is not None:
        raise InputFileError(
            f"nothing to poll: no line of the id lists is usable ({invalid} invalid; "
            f"the first, {first_invalid.message})"
        )


def close_id_sources(sources: Iterable[IdSource]) -> None:
    """Close the files `open_id_sources` opened (never stdin)."""
    stdin = None if sys.stdin is None else sys.stdin.buffer
    for _, stream in sources:
        if stream is not stdin:
            stream.close()


def read_refs(
    sources: Iterable[IdSource],
    default_account: str | None,
    cutoff: InputCutoff | None = None,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Batched[CampaignRef | InvalidLine]:
    """Every usable or invalid line of every source, in order, read lazily a chunk at a time.

    A source on a pipe, FIFO or terminal is waited for until `cutoff` (the run's stop switch)
    says input is no longer waited for; then it ends where it is (pipe_reader.py).
    """
    # Imported here: `state` and `--help` use this module's names, not its async plumbing,
    # which loads anyio and structlog (bench/startup.py).
    from fota_poller.ids.sources import Batched  # noqa: PLC0415

    return Batched(_read_batches(sources, default_account, cutoff, max_line_bytes))


async def _read_batches(
    sources: Iterable[IdSource],
    default_account: str | None,
    cutoff: InputCutoff | None,
    max_line_bytes: int,
) -> AsyncIterator[list[CampaignRef | InvalidLine]]:
    import anyio.to_thread  # noqa: PLC0415 - off the start-up path (bench/startup.py)

    from fota_poller.ids.pipe_reader import open_pipe, read_pieces  # noqa: PLC0415 - the same

    for name, stream in sources:
        text = ListText(name, stream, max_line_bytes)
        columns = ListColumns()
        pipe = open_pipe(stream, cutoff)
        while True:
            try:
                if pipe is not None:
                    # In the event loop, a wait the stop's cutoff ends (pipe_reader.py).
                    pieces = await read_pieces(pipe, text, name)
                else:
                    # A file's read ends: in a worker thread, off the event loop.
                    pieces = await anyio.to_thread.run_sync(text.read)
            except OSError as exc:
                raise InputFileError(f"error reading id list {name}: {exc.strerror}") from None
            if pieces is None:
                break
            batch = parse_pieces(pieces, name, columns, default_account, max_line_bytes)
            if batch:
                yield batch


def parse_pieces(
    pieces: list[TextBlock | TooLong],
    source: str,
    columns: ListColumns,
    default_account: str | None,
    max_line_bytes: int,
) -> list[CampaignRef | InvalidLine]:
    """The refs and invalid lines of what one read of a list gave."""
    batch: list[CampaignRef | InvalidLine] = []
    for piece in pieces:
        if isinstance(piece, TooLong):
            reason = f"line of {piece.length} bytes, over the limit of {max_line_bytes}: not read"
            batch.append(InvalidLine(source, piece.line_number, reason))
            continue
        columns.sniff(piece.text)
        batch += parse_block(
            piece.text,
            source=source,
            first_line_number=piece.first_line,
            default_account=default_account,
            columns=columns,
        )
    return batch
