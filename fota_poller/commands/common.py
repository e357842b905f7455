"""What every command shares once its options are parsed: the output format it answers in."""

from __future__ import annotations

import sys


def output_format(chosen: str | None, on_terminal: str) -> str:
    """The format asked for; else `on_terminal` when stdout is a terminal, JSON otherwise."""
    if chosen is not None:
        return chosen
    return on_terminal if sys.stdout.isatty() else "json"
