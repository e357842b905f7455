"""`fota-poller simulate`'s options for the account device list, and the options they make.

Kept apart from simulate.py, which holds the server's other options; like it, this module
imports the simulator only inside a function (`cli.py` imports both for the parser).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from fota_poller.simulator.inventory import InventoryOptions

# The simulator's quirk names (simulator/inventory.py QUIRKS), repeated so that building the
# parser does not load the simulator; a test holds the two equal.
QUIRKS: Final = (
    "stuck",
    "backwards",
    "null_last",
    "string_last",
    "empty_last",
    "duplicate",
    "foreign",
)


def add_inventory_arguments(simulate: argparse.ArgumentParser) -> None:
    """Add the device list's options to the `simulate` parser, in a group of their own."""
    group = simulate.add_argument_group("the account device list (docs/simulator.md)")
    group.add_argument(
        "--late-share",
        type=float,
        default=0.05,
        metavar="SHARE",
        help="share of the not-succeeded devices of ended campaigns that run the target "
        "firmware anyway (late successes)",
    )
    group.add_argument(
        "--extra-devices",
        type=int,
        default=25,
        metavar="N",
        help="devices in no campaign, in each account",
    )
    group.add_argument(
        "--inventory-page-size", type=int, default=1000, metavar="N", help="devices per page"
    )
    group.add_argument(
        "--inventory-quirk",
        choices=QUIRKS,
        help="make the device list misbehave (each is described in docs/simulator.md)",
    )


def inventory_options(args: argparse.Namespace) -> InventoryOptions:
    """The device list options the flags ask for (checked with the others by the catalogue)."""
    from fota_poller.simulator.inventory import InventoryOptions  # noqa: PLC0415 - see docstring

    return InventoryOptions(
        late_share=args.late_share,
        extra_devices=args.extra_devices,
        page_size=args.inventory_page_size,
        quirk=args.inventory_quirk,
    )
