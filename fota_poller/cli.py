"""Command line: `poll`, `check`, `summary`, `state`, `schema`, `simulate`, `demo`, `completion`.

argparse and dispatch only; an error is one line and an exit code. Each subcommand's options
live in a module of their own (`poll_options.py`, `check_command.py`, `summary_command.py`,
`state_command.py`, `demo_command.py`, `simulate.py`, `completion.py`), imported when the
parser is built, not at the top: `--version` loads none of them. The work is imported only
when its command runs (`app.py` wires a `poll` run; `check_run.py`, `summary_run.py`,
`state_run.py`, `demo.py`): `--help` loads none of it (bench/startup.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fota_poller._version import __version__
from fota_poller.argparsing import CronSafeParser
from fota_poller.errors import ExitCode, FotaPollerError
from fota_poller.observe.stderr import quiet_exit, say
from fota_poller.standard_streams import (
    answers_to_devnull,
    reopen_closed_descriptors,
    stdout_reader_gone,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    # Imported here, not at the top: `--version` needs none of them (bench/startup.py).
    from fota_poller import (  # noqa: PLC0415
        check_command,
        completion,
        demo_command,
        poll_options,
        simulate,
        state_command,
        summary_command,
    )

    # Typed as the base class: every add_*_parser takes the subparsers of an ArgumentParser.
    parser: argparse.ArgumentParser = CronSafeParser(
        prog="fota-poller",
        description="Poll ThingSpace FOTA upgrade campaigns; one JSON line per device.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    poll_options.add_poll_parser(commands)
    simulate.add_simulate_parser(commands)
    demo_command.add_demo_parser(commands)
    state_command.add_state_parser(commands)
    check_command.add_check_parser(commands)
    summary_command.add_summary_parser(commands)
    completion.add_completion_parser(commands)
    commands.add_parser(
        "schema",
        help="print the JSON Schema of the output records",
        description="Print the JSON Schema every output line validates against.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fota-poller` console script.

    Standard streams closed at start get /dev/null first (standard_streams.py); whatever
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
    if args.command != "poll":
        answers_to_devnull()
    try:
        if args.command == "poll":
            args.log_level = args.verbosity or args.log_level  # -q and -v win over --log-level
            # Imported here, not at the top: `--version` and `--help` must not load aiohttp
            # and the pipeline (bench/startup.py).
            from fota_poller import app  # noqa: PLC0415

            config = app.poll_config(args)
            app.check_state(config)
            return app.poll(config, app.check_poll_sources(config, args.ids), args.config_read)
        return _dispatch(args, parser)
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


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Every subcommand but `poll`; their modules are loaded already by build_parser."""
    from fota_poller import (  # noqa: PLC0415
        check_command,
        completion,
        demo_command,
        simulate,
        state_command,
        summary_command,
    )

    if args.command == "schema":
        from fota_poller.output.schema import render_schema  # noqa: PLC0415

        sys.stdout.write(render_schema())
        return 0
    if args.command == "completion":
        return completion.completion_command(args, parser)
    command = {
        "simulate": simulate.simulate_command,
        "state": state_command.state_command,
        "check": check_command.check_command,
        "summary": summary_command.summary_command,
        "demo": demo_command.demo_command,
    }[args.command]
    return command(args)
