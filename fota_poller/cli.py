"""Command line: `main()`, the table of subcommands, dispatch, and an error as one exit code.

`entry()` is the console script and `python -m fota_poller`: `main()`, then the process
ends without the interpreter's teardown (see `entry`).

Each subcommand is `fota_poller.commands.<name>`: `add_parser(commands)` adds its options,
`run(args)` does its work, importing that work (a `core.py` beside it) only when it runs. So
`--version` loads no subcommand, and `--help` none of their work (bench/startup.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Final, NoReturn, Protocol, cast

from fota_poller._version import __version__
from fota_poller.commands.options import CronSafeParser
from fota_poller.commands.streams import (
    answers_to_devnull,
    reopen_closed_descriptors,
    stdout_reader_gone,
)
from fota_poller.errors import ExitCode, FotaPollerError
from fota_poller.observe.stderr import quiet_exit, say
from fota_poller.observe.structlog_import import load_structlog

# Every subcommand, in the order `--help` lists them: its module under fota_poller.commands.
COMMANDS: Final = (
    "poll",
    "simulate",
    "demo",
    "state",
    "check",
    "summary",
    "report",
    "completion",
    "schema",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    # Typed as the base class: every add_parser takes the subparsers of an ArgumentParser.
    parser: argparse.ArgumentParser = CronSafeParser(
        prog="fota-poller",
        description="Poll ThingSpace FOTA upgrade campaigns; one JSON line per device.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        _command(name).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fota-poller` console script.

    Standard streams closed at start get /dev/null first (commands/streams.py); whatever
    stdout and stderr became, the interpreter's last flush of them cannot change the exit
    code (observe/stderr.py's `quiet_exit`).
    """
    reopen_closed_descriptors()
    try:
        return _main(argv)
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise
        # The reader of a command's answer quit (`fota-poller schema | true`): 141, as `poll`
        # and `summary` give, without a traceback.
        return int(ExitCode.OUTPUT_CLOSED)
    except OSError as exc:
        # What no command words itself: an answer that cannot be written (`schema`,
        # `summary` or `check` with stdout on a full disk, an I/O error). One line and
        # EX_IOERR, as `poll` gives for an output it cannot write, never a traceback.
        where = f"{exc.filename}: " if exc.filename else "writing stdout: " if exc.errno else ""
        say(f"fota-poller: {where}{exc.strerror or exc}")
        return int(ExitCode.OUTPUT_FAILED)
    finally:
        quiet_exit()


def entry() -> NoReturn:
    """The `fota-poller` console script and `python -m fota_poller`: `main()`, then exit at once.

    An interpreter's teardown frees every object and module one by one: about 40 ms of a
    10-campaign poll's 0.3 s on the 2-core machine of bench/README.md (`bench/startup.py`
    prints both), after every run. Nothing is left for it to do: every file a command
    writes is closed by the command (the output committed, the state closed, the metrics
    file renamed in place), logs are written a line at a time, and `main` has flushed
    stdout and stderr (`quiet_exit`). A program using the package calls `main()`, which
    returns, and keeps its teardown.
    """
    code = main()
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--version"]:
        # What argparse's version action prints, without building the parser: the
        # subcommands' options import the config and msgspec, 0.1 s of a 2-core machine's
        # time that `--version` (a health check in scripts) has no use for (bench/startup.py).
        print(f"fota-poller {__version__}")  # noqa: T201 - the answer itself
        return 0
    parser = build_parser()
    args = parser.parse_args(arguments)
    args.root_parser = parser  # `completion` writes the script of the whole command line
    if args.command not in ("poll", "report"):  # their product is on stdout with `-`: kept
        answers_to_devnull()
    load_structlog()  # before the command's modules import it (observe/structlog_import.py)
    try:
        return _command(args.command).run(args)
    except FotaPollerError as exc:
        say(f"fota-poller: {exc}")  # the one-line user error
        return int(exc.exit_code)
    except KeyboardInterrupt:
        # A SIGINT outside the run's own signal handling (before it is set up, or a second
        # signal racing the end of the run) is still a run cut short by SIGINT: exit 4, as
        # the exit-code table says, not 1.
        import structlog  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

        structlog.get_logger("fota_poller").warning("run.interrupted")
        return int(ExitCode.CUT_SHORT)


class CommandModule(Protocol):
    """What every module under fota_poller.commands offers cli.py."""

    def add_parser(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the subcommand and its options."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the subcommand's work; its exit code."""


def _command(name: str) -> CommandModule:
    """The module of subcommand `name` (imported on first use)."""
    return cast("CommandModule", importlib.import_module(f"fota_poller.commands.{name}"))
