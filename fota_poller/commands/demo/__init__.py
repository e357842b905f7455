"""`fota-poller demo`'s options; `core.py` runs it, imported only then (bench/startup.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `demo` subcommand and its options to `commands`."""
    demo = commands.add_parser(
        "demo",
        help="poll the built-in simulator end to end and summarise",
        description="Start the simulator in-process, poll all its campaigns with the real poll "
        "code path, write the records to a file and print a summary to stderr.",
    )
    demo.add_argument("--output", type=Path, default=Path("demo-output.jsonl"), metavar="FILE")
    demo.add_argument("--campaigns", type=int, default=300, metavar="N")
    demo.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the poll's exit code."""
    from fota_poller.commands.demo import core  # noqa: PLC0415 - see the module's docstring

    return core.run(args)
