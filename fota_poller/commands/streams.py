"""Standard streams closed at start (`<&-`, `>&-`, `2>&-`): /dev/null on their descriptors.

A closed descriptor 0, 1 or 2 is the next number a socket gets: uvloop then aborts the
process when it closes that socket (`Assertion 'fd > STDERR_FILENO' failed`, exit 134), and
a write meant for stdout or stderr would land in a connection. So `main` first opens
/dev/null on every one that is closed.

Python made `sys.stdin`, `sys.stdout` or `sys.stderr` None for a descriptor closed at start,
and None they stay: that is how the rest of the package knows the stream was closed. A
closed stdin read as an id list (`--ids -`) or by `summary -` is refused (exit 2, "stdin is
closed"); `poll`'s records to a closed stdout are refused before any request (exit 141,
output/sink.py); a command's answer whose reader quits is exit 141 too (`write_answer`,
and `cli.main` for the commands that write without it); log lines to a closed stderr are
dropped and counted (observe/stderr.py).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

from fota_poller.errors import ExitCode

_STANDARD_FDS = (0, 1, 2)


def reopen_closed_descriptors() -> None:
    """Open /dev/null on each of descriptors 0, 1 and 2 that is closed."""
    for fd in _STANDARD_FDS:
        try:
            os.fstat(fd)
        except OSError:  # EBADF: closed
            null = os.open(os.devnull, os.O_RDWR)
            # os.open takes the lowest free number, which is `fd` when the lower ones are open.
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def answers_to_devnull() -> None:
    """For a command whose answer is only on stdout: a closed stdout takes it like /dev/null.

    Its exit code still says what it found (`check`, `summary`, `state`). Not for `poll`,
    whose records must not vanish unseen.
    """
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115, PTH123 - for the process


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (a write would be EPIPE)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    return False


def write_answer(write: Callable[[TextIO], object]) -> int:
    """`write(sys.stdout)`, flushed: 0, or 141 when the reader of stdout quit (`| head`)."""
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # What stays buffered goes to /dev/null at exit (cli.main's `quiet_exit`).
        return int(ExitCode.OUTPUT_CLOSED)
    return 0


def write_lines(lines: Iterable[str]) -> int:
    """Write `lines` to stdout as they come: 0, or 141 when its reader quit."""
    return write_answer(lambda stdout: stdout.writelines(lines))
