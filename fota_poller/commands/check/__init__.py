"""`fota-poller check`: its options; the preflight itself is commands/check/core.py's.

Kept apart so that building the command line does not import aiohttp and the token
provider: `fota-poller --version` and every other command start without them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fota_poller.commands.options import add_config_option, add_state_option

if TYPE_CHECKING:
    from fota_poller.model.refs import CampaignRef


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `check` and its options."""
    check = commands.add_parser(
        "check",
        help="preflight: config, files and folders, id lists, credentials, connect, token, "
        "one login and logout",
        description="Check that a run can start: the config, the files and folders it writes "
        "(a file made and removed in each), the credentials' presence, the id lists it reads "
        "(counted, never polled) and discovery, a connection to the base URL, a token, one "
        "session opened and closed, with --inventory the first page of one account's device list, "
        "and optionally one upgrade polled. Give it the night's "
        "--ids, --status, --output, --metrics-file, --state and --lock-file. One line per step; "
        "the exit codes are poll's (4 at once when the API is unreachable). A login rejected "
        "before (by any run) is not tried again unless --login is given.",
    )
    add_config_option(check)
    check.add_argument("--base-url", help="API base URL (config api.base_url)")
    check.add_argument(
        "--login",
        action="store_true",
        help="try one login even if one with these credentials was rejected before; a "
        "success forgets the rejection (docs/credentials.md)",
    )
    check.add_argument(
        "--ids",
        action="append",
        metavar="FILE",
        help="an id list the night reads (repeatable): its lines are read and counted, never "
        "polled; - (stdin) and a FIFO are left to the night",
    )
    check.add_argument(
        "--status",
        action="extend",
        type=_statuses,
        metavar="S1,S2",
        help="the statuses the night discovers (config discover.statuses): the first report "
        "page of each account and status is fetched",
    )
    check.add_argument("--account", help="account for bare upgrade ids (config api.account)")
    check.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the output poll writes (config output.path): its folder must be writable",
    )
    check.add_argument(
        "--metrics-file",
        metavar="PATH.prom",
        help="the metrics file poll writes (config output.metrics_file): its folder must be "
        "writable",
    )
    add_state_option(
        check,
        "the state database poll uses (config state.path): failed logins are kept beside it",
    )
    check.add_argument(
        "--lock-file",
        metavar="FILE",
        help="the lock file poll uses (config poll.lock_file): failed logins are kept beside it "
        "when there is no state database",
    )
    check.add_argument(
        "--inventory",
        action="store_true",
        default=None,
        help="the night joins the device list (config inventory.enabled): the first page of "
        "one account's list is fetched",
    )
    check.add_argument(
        "--upgrade",
        type=_campaign_ref,
        metavar="ACCOUNT,ID",
        help="also poll this one upgrade campaign",
    )


def run(args: argparse.Namespace) -> int:
    """Run the preflight (imported only now); the exit code of its first failed step, else 0."""
    from fota_poller.commands.check import core  # noqa: PLC0415 - see the module docstring

    return core.run(args)


def _statuses(text: str) -> list[str]:
    """`A, B` as `poll --status` reads it: each status once trimmed, empty ones dropped."""
    return [status.strip() for status in text.split(",") if status.strip()]


def _campaign_ref(text: str) -> CampaignRef:
    from fota_poller.model.refs import CampaignRef  # noqa: PLC0415 - msgspec: only when given

    account, separator, upgrade_id = text.partition(",")
    if not separator or not account.strip() or not upgrade_id.strip():
        msg = f"expected ACCOUNT,ID, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return CampaignRef(account.strip(), upgrade_id.strip())
