"""`fota-poller report [FILE|-] --state FILE.db -o report.html`: the night as one HTML page.

The options only: `core.py` reads and draws, imported when the command runs, so that building
the command line never loads the reading nor the page (bench/startup.py).
"""

from __future__ import annotations

import argparse
from typing import Final

from fota_poller.commands.options import add_config_option, add_state_option

REPORT_EPILOG = """\
FILE is the night's records file written by `poll --output` (- or none: stdin), as for
`summary`; the state database gives the devices stuck past --stuck-after and the nights
before. Every count on the page is the one `summary FILE --state FILE.db --format json`
prints (models: `summary FILE --by model --format json`'s). The page is one file that
fetches nothing: inline style, charts drawn as inline SVG, no script.

--limit: the campaigns listed, worst first (default 1000; 0: every one). Totals are over all.

exit codes:
  0   the page was written (whether or not the night needs a look: the page says)
  2   FILE cannot be read or is no text, no --state (nor config state.path), a state
      database that cannot be used, a bad --stuck-after, --limit, --nights or --config
  74  the page cannot be written (a full disk, a folder that is not there or not writable,
      something at --output that is not a regular file)
  75  a poll run holds a write transaction on the state database: try again later
  141 the reader of stdout closed the pipe (--output -)
"""

# Campaigns listed without --limit: a thousand keep the page under a megabyte (bench/).
DEFAULT_LIMIT: Final = 1000
# Nights of history drawn without --nights.
DEFAULT_NIGHTS: Final = 30


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` subcommand and its options to `commands`."""
    report = commands.add_parser(
        "report",
        help="the night and its history as one self-contained HTML page, for a person",
        description="Write an HTML report of the night: the fleet by phase tonight and over "
        "the nights, campaigns worst first with their burn-up, what moved, stuck devices, "
        "and late successes and failures by model.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("file", nargs="?", default="-", metavar="FILE", help="records file")
    add_state_option(report, "the state database poll keeps (config state.path)")
    report.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="write the page here, replaced whole (- for stdout)",
    )
    report.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"campaigns listed at most, worst first (default {DEFAULT_LIMIT}; 0: all)",
    )
    report.add_argument(
        "--nights",
        type=int,
        default=DEFAULT_NIGHTS,
        metavar="N",
        help=f"nights of history drawn (default {DEFAULT_NIGHTS})",
    )
    report.add_argument(
        "--stuck-after",
        default="7d",
        metavar="DURATION",
        help="a pending or unknown status older than this is stuck (default 7d)",
    )
    add_config_option(report)


def run(args: argparse.Namespace) -> int:
    """Read the night and the state, write the page, return the exit code."""
    from fota_poller.commands.report import core  # noqa: PLC0415 - see the module's docstring

    return core.run(args)
