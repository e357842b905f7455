"""`check`'s `ids` step: the id lists the night will read, read now, counted, never polled.

Each list given with `--ids` (the same flag as `poll`'s) is read as a run reads it (its
encoding, its delimiter and header, a bare id's account) and said in one line: its usable
lines, and its invalid ones with their line numbers (the first few, then how many more).
An invalid line is a failed campaign record at night, so exit 1; a list that cannot be read
at all, or lists with no usable line, are refused by the night before any request: exit 2.

Bounded: a list on stdin, a FIFO or a device is the night's to read (a preflight that
consumed it would take the night's ids, or wait for ever), so it is reported as not checked;
a regular file is parsed up to `MAX_CHECKED_LINES` lines, the rest only checked for its
encoding (as a run does before any request), in 64 KB reads whatever its size.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Final

import msgspec

from fota_poller.commands.check.report import StepReport
from fota_poller.config import Config
from fota_poller.errors import ExitCode, InputFileError
from fota_poller.ids.columns import ListColumns
from fota_poller.ids.list_text import ListText
from fota_poller.ids.lists import STDIN, parse_pieces
from fota_poller.lines import MAX_LINE_BYTES
from fota_poller.model.refs import CampaignRef, InvalidLine

# Lines parsed at most per list: about 0.75 s of CPU for a million (measured, 54 MB).
MAX_CHECKED_LINES: Final = 1_000_000
# Invalid lines shown by number per list; the rest are counted.
SHOWN_INVALID: Final = 5
_MB: Final = 1e6


class ListCount(msgspec.Struct):
    """What one list holds, as far as it was read."""

    usable: int = 0
    invalid: int = 0
    shown: list[InvalidLine] = msgspec.field(default_factory=list)
    lines: int = 0  # lines read, comments and blank ones too
    unparsed_bytes: int = 0  # read only for their encoding, past MAX_CHECKED_LINES
    first_account: str | None = None  # the account of its first usable line


class IdListsReport(StepReport):
    """The `ids` step's lines, and the account of the first usable line of any list.

    The inventory step samples that account when none is configured.
    """

    first_account: str | None = None


def check_id_lists(
    paths: Sequence[str], config: Config, *, max_lines: int = MAX_CHECKED_LINES
) -> IdListsReport:
    """One line per list (and one per invalid line shown); exit 2 or 1 as the night would."""
    report = IdListsReport("ids")
    usable = invalid = 0
    all_read = True
    for path in paths:
        count = _check_one(report, path, config.api.account, max_lines)
        if count is None:
            all_read = False
            continue
        usable += count.usable
        invalid += count.invalid
        report.first_account = report.first_account or count.first_account
    # As the night decides before any request: only when every list is a file it read
    # whole, and no discovery may still find campaigns (ids/lists.refuse_if_nothing_usable).
    if all_read and invalid and not usable and not config.discover.statuses:
        nothing = f"nothing to poll: no line of the id lists is usable ({invalid} invalid)"
        report.fail(nothing, ExitCode.USAGE)
    return report


def _check_one(
    report: StepReport, path: str, account: str | None, max_lines: int
) -> ListCount | None:
    """Check one list into `report`; its count, or None when it was not read."""
    if path == STDIN:
        report.skip("- (stdin): read at run time, not checked")
        return None
    try:
        mode = Path(path).stat().st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")  # as open(2) would say
        if not stat.S_ISREG(mode):
            report.skip(f"{path}: {_kind(mode)}, read at run time, not checked")
            return None
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        report.fail(f"cannot read id list {path}: {exc.strerror}", ExitCode.USAGE)
        return None
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # swapped since the stat
            report.skip(f"{path}: not a regular file, read at run time, not checked")
            return None
        return _read_one(report, path, stream, account, max_lines)


def _read_one(
    report: StepReport, path: str, stream: IO[bytes], account: str | None, max_lines: int
) -> ListCount | None:
    try:
        count = count_lines(path, stream, account, max_lines)
    except InputFileError as exc:
        report.fail(str(exc), exc.exit_code)
        return None
    except OSError as exc:
        report.fail(f"error reading id list {path}: {exc.strerror}", ExitCode.USAGE)
        return None
    _say(report, path, count)
    return count


def count_lines(name: str, stream: IO[bytes], account: str | None, max_lines: int) -> ListCount:
    """The usable and invalid lines of the list open in `stream`, up to `max_lines` lines.

    `InputFileError` for bytes that are not the list's encoding, anywhere in it.
    """
    text = ListText(name, stream)
    columns = ListColumns()
    count = ListCount()
    while text.lines < max_lines and (pieces := text.read()) is not None:
        for item in parse_pieces(pieces, name, columns, account, MAX_LINE_BYTES):
            if isinstance(item, CampaignRef):
                count.usable += 1
                count.first_account = count.first_account or item.account_name
                continue
            count.invalid += 1
            if len(count.shown) < SHOWN_INVALID:
                count.shown.append(item)
    count.lines = text.lines
    if not text.ended:
        before = stream.tell()
        text.validate_rest()
        count.unparsed_bytes = stream.tell() - before
    return count


def _say(report: StepReport, path: str, count: ListCount) -> None:
    usable = f"{count.usable} usable line{'' if count.usable == 1 else 's'}"
    if count.unparsed_bytes:
        usable += (
            f" in its first {count.lines} lines (the other {count.unparsed_bytes / _MB:.1f} MB "
            "checked only for their encoding)"
        )
    if not count.invalid:
        report.ok(
            f"{path}: {usable}"
            if count.usable
            else f"{path}: no id in it (blank, comments, a header)"
        )
        return
    more = count.invalid - len(count.shown)
    summary = f"{path}: {usable}, {count.invalid} invalid (each a failed campaign record)"
    report.fail(summary, ExitCode.CAMPAIGNS_FAILED)
    for line in count.shown:
        report.fail(line.message, ExitCode.CAMPAIGNS_FAILED)
    if more:
        report.fail(f"{path}: {more} more invalid lines not shown", ExitCode.CAMPAIGNS_FAILED)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
