"""What can be told about a state database's file without letting SQLite open it.

SQLite itself changes a file it merely opens: a read-write connection to a WAL database
creates the -wal and -shm files and, when it is the last to close, checkpoints the -wal into
the file and deletes it; a read-only one leaves the -wal and -shm it created behind. So a
file to refuse is refused from here where that is possible (its folder, its 100-byte header,
its permissions), and a reader is opened in the one mode that leaves the file as it found it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Final

from fota_poller.errors import NotARegularFileError, StateError
from fota_poller.regular_files import read_regular, require_regular

# https://www.sqlite.org/fileformat.html#the_database_header
HEADER_BYTES: Final = 100
_MAGIC: Final = b"SQLite format 3\x00"
_PAGE_SIZE: Final = struct.Struct(">H")  # at 16; 1 means 65536
_COUNTER_AND_PAGES: Final = struct.Struct(">II")  # at 24: change counter, pages in the file
_WORD: Final = struct.Struct(">I")
_USER_VERSION_AT: Final = 60
_APPLICATION_ID_AT: Final = 68
_VALID_FOR_AT: Final = 92  # the change counter the page count is valid for
_LARGEST_PAGE: Final = 65536
_COMPANIONS: Final = ("-wal", "-shm", "-journal")  # the files SQLite keeps beside the database


def wal_path(path: Path) -> Path:
    """The -wal file beside the database: while it exists it may hold committed changes."""
    return path.with_name(path.name + "-wal")


def require_usable_path(path: Path, *, create: bool) -> bool:
    """True when the database file exists; a `StateError` for a missing folder or file."""
    folder = path.parent
    if not folder.is_dir():
        raise StateError(f"state database {path}: its folder {folder} does not exist")
    # SQLite would follow a link, and wait on a FIFO; a run would write through either. It
    # writes the companion files by name too: a -wal linked elsewhere would be truncated.
    exists = _regular_or_absent(path, f"state database {path}")
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        _regular_or_absent(companion, f"state database {path}: {companion}")
    if not exists and not create:
        raise StateError(f"no state database at {path}")
    return exists


def _regular_or_absent(path: Path, named: str) -> bool:
    try:
        return require_regular(path)
    except NotARegularFileError as exc:
        raise StateError(f"{named}: {exc.strerror}") from None
    except OSError as exc:
        raise StateError(f"cannot reach {named}: {exc.strerror}") from None


def read_header(path: Path) -> bytes:
    """The file's first 100 bytes (fewer for a shorter file; none for an empty one)."""
    try:
        header = read_regular(path, HEADER_BYTES)
    except NotARegularFileError as exc:
        raise StateError(f"state database {path}: {exc.strerror}") from None
    except OSError as exc:
        raise StateError(f"cannot read state database {path}: {exc.strerror}") from None
    if header is None:
        raise StateError(f"no state database at {path}")
    return header


def not_ours(path: Path) -> StateError:
    """The refusal of another program's SQLite file."""
    return StateError(f"{path} is not a fota-poller state database")


def newer_schema(path: Path, version: int, newest: int) -> StateError:
    """The refusal of a database written by a newer fota-poller."""
    return StateError(
        f"state database {path} has schema version {version}, newer than this fota-poller "
        f"understands ({newest}); upgrade fota-poller"
    )


def validate_header(path: Path, header: bytes, *, application_id: int, newest: int) -> None:
    """Refuse, from its header, a file that is not SQLite, not ours, newer, or cut short.

    Only when no -wal file exists: committed changes in one (a schema upgrade among them)
    are not in the header yet. An application id of 0 is decided by SQLite (empty or not).
    """
    if len(header) < HEADER_BYTES or not header.startswith(_MAGIC):
        raise StateError(f"{path} is not an SQLite database: a corrupt file or another program's")
    found_id = _WORD.unpack_from(header, _APPLICATION_ID_AT)[0]
    if found_id not in {0, application_id}:
        raise not_ours(path)
    version = _WORD.unpack_from(header, _USER_VERSION_AT)[0]
    if found_id == application_id and version > newest:
        raise newer_schema(path, version, newest)
    page_size = _PAGE_SIZE.unpack_from(header, 16)[0]
    page_size = _LARGEST_PAGE if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):  # noqa: PLR2004 - the format's least
        raise StateError(f"state database {path} is corrupt: page size {page_size}")
    counter, pages = _COUNTER_AND_PAGES.unpack_from(header, 24)
    valid_for = _WORD.unpack_from(header, _VALID_FOR_AT)[0]
    size = path.stat().st_size
    # SQLite would read the missing pages as zeros and fail half-way through a run, or,
    # worse, read a campaign cut in half as a campaign whose devices are gone.
    if pages and valid_for == counter and size < pages * page_size:
        raise StateError(
            f"state database {path} is cut short: {size} bytes, its header says {pages * page_size}"
        )


def writable(path: Path) -> bool:
    """Whether this process may write `path`, as the kernel would answer an open for writing.

    access(2) refuses on a read-only mount and for an immutable file, to root too; it allows
    root a 0444 file because root may write it. It is asked rather than opening the file:
    closing any descriptor of a database file drops every POSIX lock SQLite holds on it in
    this process (https://www.sqlite.org/howtocorrupt.html, 2.2).
    """
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def require_writable(path: Path, *, exists: bool) -> None:
    """Refuse, before SQLite opens anything, a database that could not be written."""
    folder = path.parent
    if not writable(folder):
        # WAL mode writes the -wal and -shm files beside the database.
        raise StateError(f"state database {path} is read-only: its folder {folder} is read-only")
    if exists and not writable(path):
        raise StateError(f"state database {path} is read-only")


def reader_mode(path: Path, *, wal_in_use: bool) -> str:
    """The URI mode that reads the database and leaves the file and its folder as they were.

    A -wal file exists: read through it with `ro`, which neither checkpoints nor deletes.
    None does and this process could write: `rw` (the caller sets query_only), whose close
    removes the -wal and -shm it made. None does and it could not: `immutable`, which
    reads the file alone and creates nothing; `ro` would fail for want of a -shm file on a
    read-only mount, or leave -wal and -shm files owned by this user, which the service's
    user then could not write.
    """
    if wal_in_use:
        return "ro"
    if writable(path) and writable(path.parent):
        return "rw"
    return "ro&immutable=1"
