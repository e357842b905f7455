"""`fota-poller schema`: the JSON Schema every output line validates against, on stdout."""

from __future__ import annotations

import argparse
import sys


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `schema` to the command line."""
    commands.add_parser(
        "schema",
        help="print the JSON Schema of the output records",
        description="Print the JSON Schema every output line validates against.",
    )


def run(_args: argparse.Namespace) -> int:
    """Print the schema: exit 0."""
    from fota_poller.output.schema import render_schema  # noqa: PLC0415 - loads msgspec

    sys.stdout.write(render_schema())
    return 0
