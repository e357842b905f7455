"""`fota-poller summary [FILE|-]`: a night's records read at a glance, without jq.

The options only: `core.py` reads and prints, imported when the command runs, so that building
the command line never loads the reading and the formats (bench/startup.py).
"""

from __future__ import annotations

import argparse
from typing import Final

from fota_poller.commands.options import add_config_option, add_format_option, add_state_option

SUMMARY_EPILOG = """\
FILE is a records file written by `poll --output` (- or none: stdin). Device lines are
skipped unread: only campaign and run lines are decoded, so memory stays flat.

--limit: the table and markdown show the worst 50 campaigns by default (totals are over all);
json and csv give every campaign unless --limit is given; 0 is no limit.

--sort: which campaigns are worst. failed-share (default): the highest share of failed
devices among campaigns of 20 devices or more (a smaller campaign counts as share 0), then
the most failed; failed: the most failed devices; pending: the most pending, stalled ones
first; stalled: the campaigns the state's history finds stalled, longest first (needs the
state database). Failed polls come first in every order; ties go to more failed, more
pending, then account and upgrade id.

On a terminal the table fits its width: upgrade ids cut to their first 8 characters, the
account named once above the table when every row shares it, firmware and status cut
(...) before any number is. --wide shows every column whole, as a file gets it.

--by model: one row per device model over the night's campaigns (from their `device_models`,
written by `poll --inventory`), worst failed share first; then the devices no model accounts
for (no inventory, inventory failed, not in the device list). Not with --state.

exit codes:
  0   the run finished (a run line), complete, and every campaign was polled
  1   the night needs a look: no run line (the run did not finish), an incomplete run, a
      campaign whose poll failed, a campaign whose inventory failed (`poll --inventory`),
      or lines that are no record (counted on stderr)
  2   FILE cannot be read or is no text (a line over 16 MB holding NUL bytes), a bad
      --stuck-after or --config, or a --state database that cannot be used
  74  the temporary file cannot be written: past 10,000 campaigns without a --limit, the
      rows are sorted in runs spilled to TMPDIR (a few hundred bytes a campaign)
  141 the reader of stdout closed the pipe (e.g. `| head`)
"""

_FORMATS: Final = ("table", "json", "csv", "markdown")
_BY: Final = ("campaign", "model")
# summary/order.py's SORTS (a test holds them equal): not imported, see the module's docstring.
_SORTS: Final = ("failed-share", "failed", "pending", "stalled")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `summary` subcommand and its options to `commands`."""
    summary = commands.add_parser(
        "summary",
        help="read a night's records at a glance: campaigns worst first, totals, the run",
        description="Summarise a records file: per campaign its devices by phase, worst "
        "first; devices by phase and raw status; failed campaigns by error kind; the run.",
        epilog=SUMMARY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    summary.add_argument("file", nargs="?", default="-", metavar="FILE", help="records file")
    add_format_option(summary, _FORMATS, "a table, JSON, CSV or a markdown table")
    summary.add_argument(
        "--failed-only",
        action="store_true",
        help="only campaigns with failed devices or a failed poll",
    )
    summary.add_argument(
        "--limit", type=int, metavar="N", help="campaigns (or models) shown at most"
    )
    summary.add_argument(
        "--sort",
        choices=_SORTS,
        help="which campaigns come first: failed-share (default), failed, pending, stalled",
    )
    summary.add_argument(
        "--wide",
        action="store_true",
        help="on a terminal, the table with whole ids and every column (as a file gets it)",
    )
    summary.add_argument(
        "--by",
        choices=_BY,
        default="campaign",
        help="one row per campaign (default) or per device model (needs `poll --inventory`)",
    )
    add_state_option(
        summary,
        "also count, per campaign, devices stuck past --stuck-after (state database; config "
        "state.path)",
    )
    summary.add_argument(
        "--stuck-after",
        default="7d",
        metavar="DURATION",
        help="a pending or unknown status older than this is stuck (default 7d)",
    )
    add_config_option(summary)


def run(args: argparse.Namespace) -> int:
    """Read the file, print the summary, return the exit code."""
    from fota_poller.commands.summary import core  # noqa: PLC0415 - see the module's docstring

    return core.run(args)
