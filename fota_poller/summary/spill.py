"""Every campaign row of a night, worst first, in bounded memory: an external merge sort.

`summary --format json|csv` (and `--limit 0`) gives every campaign, worst first, so no row
can be dropped until the last line is read. Kept as tuples, a row costs about 280 bytes with
its sort key: a night of 100,000 campaigns peaked at 70 MB, 1,000,000 at 404 MB. So rows are
kept in memory up to `RUN_ROWS`, then that run is sorted and written to an anonymous
temporary file (`TMPDIR`; unlinked at once, so nothing is left behind) as frames of JSON
arrays, and the rows are merged back from the runs when the view reads them. Memory is one
run plus one frame per run, whatever the night's size (39 MB peak RSS at 1,000,000); a night
under `RUN_ROWS` campaigns (the demo, the 1 GB bench night's 2,000) never touches the disk.

JSON, not msgpack: a count in a file nobody validated may exceed 64 bits. The merge is
stable (`heapq.merge` breaks ties by run, runs are in file order, `list.sort` is stable), so
the order is exactly `sorted(rows, key=key)`'s.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import struct
from collections.abc import Callable, Iterator
from typing import IO, Any, Final

import msgspec

from fota_poller.errors import OutputError
from fota_poller.summary.row import CampaignRow

# Rows kept in memory before a run is written: about 4 MB of rows and sort keys.
RUN_ROWS: Final = 10_000
# Rows a frame holds: what each run's reader holds decoded during the merge (~20 KB).
_FRAME_ROWS: Final = 64
_LENGTH: Final = struct.Struct("<I")

_decoder = msgspec.json.Decoder(list[CampaignRow])


class SortedRows:
    """Rows taken one at a time and given back sorted by `key`, spilling past `RUN_ROWS`."""

    def __init__(self, key: Callable[[CampaignRow], Any], run_rows: int = RUN_ROWS) -> None:
        self._key = key
        self._run_rows = run_rows
        self._rows: list[CampaignRow] = []
        self._file: IO[bytes] | None = None
        # (offset, end) of each run written, in the order the rows came.
        self._runs: list[tuple[int, int]] = []

    def append(self, row: CampaignRow) -> None:
        """Keep a row; past `run_rows` kept, they are sorted and written out as one run."""
        self._rows.append(row)
        if len(self._rows) >= self._run_rows:
            self._spill()

    def sorted(self) -> Iterator[CampaignRow]:
        """Every row, sorted: read once (the runs are read back as it goes)."""
        self._rows.sort(key=self._key)
        if not self._runs:
            return iter(self._rows)
        assert self._file is not None  # noqa: S101 - a run was written to it
        try:
            self._file.flush()
        except OSError as exc:
            raise _spill_error(exc) from None
        fd = self._file.fileno()
        runs = [_read_run(fd, offset, end) for offset, end in self._runs]
        return heapq.merge(*runs, self._rows, key=self._key)

    def close(self) -> None:
        """Close (and so free) the temporary file, if one was written."""
        if self._file is not None:
            file, self._file = self._file, None
            # Closing flushes what a failed spill left buffered: on a full TMPDIR that
            # fails again, and would hide the spill's own error. The file is thrown away.
            with contextlib.suppress(OSError):
                file.close()

    def _spill(self) -> None:
        rows = self._rows
        rows.sort(key=self._key)
        try:
            if self._file is None:
                self._file = _temporary_file()
            offset = self._file.tell()
            for start in range(0, len(rows), _FRAME_ROWS):
                frame = msgspec.json.encode(rows[start : start + _FRAME_ROWS])
                self._file.write(_LENGTH.pack(len(frame)) + frame)
            self._runs.append((offset, self._file.tell()))
        except OSError as exc:
            raise _spill_error(exc) from None
        self._rows = []


def _temporary_file() -> IO[bytes]:
    # Imported here: tempfile (random, shutil) costs 5 ms that most nights never need.
    import tempfile  # noqa: PLC0415

    # Returned open: `SortedRows.close` closes it.
    return tempfile.TemporaryFile(prefix="fota-poller-summary-")


def _read_run(fd: int, offset: int, end: int) -> Iterator[CampaignRow]:
    # pread: the runs are read turn about from one file, each at its own offset.
    while offset < end:
        try:
            (length,) = _LENGTH.unpack(os.pread(fd, _LENGTH.size, offset))
            frame = os.pread(fd, length, offset + _LENGTH.size)
        except OSError as exc:
            raise _spill_error(exc) from None
        offset += _LENGTH.size + length
        yield from _decoder.decode(frame)


def _spill_error(exc: OSError) -> OutputError:
    import tempfile  # noqa: PLC0415 - see `_spill`

    try:
        folder = tempfile.gettempdir()
    except OSError:
        folder = "TMPDIR"
    where = f"{folder} (summary sorts a big night's campaigns there; TMPDIR names another)"
    return OutputError(where, exc.strerror or type(exc).__name__)
