"""`fota-poller state`: the operator's look into the state database: `info`, `stuck`, `forget`.

The options only: `commands/state/core.py` answers (imported when the command runs, so building the
command line never loads SQLite, msgspec and the output layer; bench/startup.py).
"""

from __future__ import annotations

import argparse
import textwrap

from fota_poller.commands.options import add_config_option, add_format_option, add_state_option

_DATABASE_ERRORS = """\
  2   no database at FILE.db, or one that cannot be used: a missing folder, a corrupt or cut
      short file, another program's SQLite file, a schema newer than this fota-poller's"""

INFO_EPILOG = f"""\
exit codes:
  0   the numbers were printed
{_DATABASE_ERRORS}
"""

STUCK_EPILOG = f"""\
The devices come longest stuck first (the oldest status). A status's age is counted from
the first run that saw the device in it: "stuck since" is never older than the first night
fota-poller saw the device, however long it sat there before. --by campaign counts them per
campaign instead, the most stuck first, with the oldest status time of each.

exit codes:
  0   the devices were listed (none is not an error)
{_DATABASE_ERRORS};
      a --stuck-after that is no duration, a --limit under 1, or a bad --config
"""

FORGET_EPILOG = f"""\
CAMPAIGN is accountName,upgradeId, or a bare upgradeId for that upgrade on every account.

exit codes:
  0   every campaign named was removed
  1   a campaign named is not in the database (the others were removed)
{_DATABASE_ERRORS};
      a CAMPAIGN that is no upgrade id, or a read-only database or folder
  75  a poll run holds the state (its lock, FILE.db.lock, or a write transaction); nothing
      was removed: try again later
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `state` subcommand and its `info`, `stuck` and `forget` to `commands`."""
    state = commands.add_parser(
        "state",
        help="look into the state database (--state): info, stuck devices, forget a campaign",
        description="Look into the state database that `poll --state` keeps.",
        epilog="Each subcommand's --help gives its exit codes (2: the database cannot be used).",
    )
    subcommands = state.add_subparsers(dest="state_command", required=True, metavar="SUBCOMMAND")
    info = _subcommand(
        subcommands,
        "info",
        "the database's path, schema version, campaigns, devices, last run and size",
        INFO_EPILOG,
    )
    add_format_option(info, ("text", "json"), "aligned lines, or one JSON object")
    stuck = _subcommand(
        subcommands,
        "stuck",
        "devices in a pending or unknown phase whose status has not changed for longer than "
        "--stuck-after, and not known on target (poll --inventory), as JSON lines (a table on "
        "a terminal); phases as `poll` gives them, with the config's [phases]",
        STUCK_EPILOG,
    )
    # `--for` was this option's name, as `summary` calls it `--stuck-after`: kept, hidden, for
    # one release (CHANGELOG).
    stuck_after = stuck.add_mutually_exclusive_group(required=True)
    stuck_after.add_argument(
        "--stuck-after",
        metavar="DURATION",
        help="list devices whose status is older than this, e.g. 7d, 36h, 1d12h",
    )
    stuck_after.add_argument("--for", dest="stuck_after", help=argparse.SUPPRESS)
    stuck.add_argument(
        "--status",
        action="append",
        metavar="S1,S2",
        help="only devices in these raw statuses (case, spaces, _ and - ignored); repeatable",
    )
    stuck.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="only the N longest stuck devices (or, with --by campaign, most stuck campaigns)",
    )
    stuck.add_argument(
        "--by",
        choices=("device", "campaign"),
        default="device",
        help="one line per device (default), or per campaign: its stuck devices counted",
    )
    add_format_option(stuck, ("table", "json"), "a table, or JSON lines")
    forget = _subcommand(
        subcommands,
        "forget",
        "remove finished campaigns and their devices from the database, in one transaction",
        FORGET_EPILOG,
    )
    forget.add_argument("campaigns", nargs="+", metavar="CAMPAIGN", help="a campaign to remove")


def _subcommand(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    does: str,
    epilog: str,
) -> argparse.ArgumentParser:
    parser = subcommands.add_parser(
        name,
        help=does,
        description=textwrap.fill(f"{does[0].upper()}{does[1:]}.", 88),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_state_option(parser, "the state database (config state.path)")
    add_config_option(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `state info`, `state stuck` or `state forget`: the exit code."""
    from fota_poller.commands.state import core  # noqa: PLC0415 - see the module's docstring

    return core.run(args)
