"""`fota-poller ARGS` in a child that kills itself with SIGKILL at one chosen point of the run.

tests/scenarios/test_state_crash.py runs it as a script:

    python state_crash_runner.py --point P [--nth N] [--commit-every K] --marker FILE -- poll ...

The points are put in place by patching the package from outside (no hook in package code):

- `before_rename`: the output file's commit is called (every record written, buffered) and
  has not renamed anything yet;
- `linked_before_rename`: the output file (unnamed until then, O_TMPFILE) has just been
  given its temporary name beside the output, and is not renamed yet;
- `after_rename`: the output file is renamed into place, the state not yet committed;
- `at_commit`: the Nth state commit that has something staged has run its `UPDATE runs` and
  is executing `COMMIT` (an SQLite trace callback, called as the statement starts);
- `after_commit`: the Nth state commit has returned;
- `vanish_before_rename`: no kill: the output's folder is removed just before the output
  file's commit, which then fails for real (exit 74).

Just before it kills itself (or removes the folder) the child writes `POINT:N` to the marker
file, so that a test can tell the point was reached. `--commit-every` sets how many campaigns
the state commits at once on stdout (`state_sync.COMMIT_EVERY`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

from fota_poller import cli
from fota_poller.output import staging
from fota_poller.run import state_sync
from fota_poller.state import store

POINTS = (
    "none",
    "before_rename",
    "linked_before_rename",
    "after_rename",
    "at_commit",
    "after_commit",
)
VANISH = "vanish_before_rename"


class Point:
    """Where the child dies, and the marker it leaves just before."""

    def __init__(self, name: str, nth: int, marker: Path) -> None:
        self.name = name
        self.nth = nth
        self.marker = marker
        self.commits = 0  # state commits with something staged, so far
        self.armed = False

    def reached(self) -> None:
        self.marker.write_text(f"{self.name}:{self.nth}\n", encoding="utf-8")

    def die(self) -> None:
        self.reached()
        os.kill(os.getpid(), signal.SIGKILL)


def install(point: Point) -> None:
    """Patch the package so that the child dies (or loses its folder) at `point`."""
    _around_file_commit(point)
    _around_state_commit(point)


def _around_file_commit(point: Point) -> None:
    original = staging.StagedFile.commit

    def file_commit(self: staging.StagedFile) -> None:
        if point.name == "before_rename":
            point.die()
        if point.name == VANISH:
            point.reached()
            shutil.rmtree(self.path.parent)
        original(self)
        if point.name == "after_rename":
            point.die()

    # Between the link and the rename the file has a temporary name: that step is the point.
    original_link = staging._link

    def link(descriptor: int, folder: int, output_name: str) -> str:
        name = original_link(descriptor, folder, output_name)
        if point.name == "linked_before_rename":
            point.die()
        return name

    staging.StagedFile.commit = file_commit  # type: ignore[method-assign]
    staging._link = link


def _around_state_commit(point: Point) -> None:
    original_commit = store.StateStore.commit
    original_open = store.open_database

    def state_commit(self: store.StateStore, committed_at: str) -> None:
        counted = self.staged > 0
        if counted:
            point.commits += 1
            point.armed = point.name == "at_commit" and point.commits == point.nth
        original_commit(self, committed_at)
        point.armed = False
        if counted and point.name == "after_commit" and point.commits == point.nth:
            point.die()

    def trace(statement: str) -> None:
        # Called as a statement starts: the COMMIT has not made anything durable yet.
        if point.armed and statement.strip().upper() == "COMMIT":
            point.die()

    def open_database(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
        connection = original_open(path, read_only=read_only)
        connection.set_trace_callback(trace)
        return connection

    store.StateStore.commit = state_commit  # type: ignore[method-assign]
    store.open_database = open_database


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--point", choices=(*POINTS, VANISH), required=True)
    parser.add_argument("--nth", type=int, default=1)
    parser.add_argument("--commit-every", type=int)
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.commit_every is not None:
        state_sync.COMMIT_EVERY = args.commit_every  # type: ignore[misc]
    install(Point(args.point, args.nth, args.marker))
    return cli.main(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
