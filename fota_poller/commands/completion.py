"""`fota-poller completion {bash,zsh}`: the shell completion script, printed on stdout.

The script is made by shtab from the parser itself, so it knows every subcommand and flag of
the installed version, and it is static: the shell never starts Python to complete a word.
shtab is imported only here, when the script is asked for: `--version` and `--help` must not
pay for it (bench/startup.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Final

SHELLS: Final = ("bash", "zsh")

# The arguments that name a file, by dest, in every subcommand that has them: the shell
# offers file names there. Kept here rather than on each add_argument, so that building
# the parser for a poll never imports shtab. tests/commands/completion/ checks each still exists.
FILE_DESTS: Final = frozenset(
    {"config", "file", "ids", "lock_file", "metrics_file", "output", "state", "write_ids"}
)

COMPLETION_EPILOG = """\
bash: fota-poller completion bash > ~/.local/share/bash-completion/completions/fota-poller
zsh:  fota-poller completion zsh > DIR/_fota-poller   (DIR on $fpath, before compinit)
Run it again after an upgrade: the script lists the flags of the version that wrote it.
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `completion` subcommand to `commands`."""
    completion = commands.add_parser(
        "completion",
        help="print the bash or zsh completion script",
        description="Print the shell completion script for every subcommand and flag.",
        epilog=COMPLETION_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell the script is for")


def run(args: argparse.Namespace) -> int:
    """Write the completion script of the whole command line for `args.shell` on stdout: exit 0.

    `args.root_parser` is the parser this command line was parsed with (cli.py puts it
    there), built for this run and used for no other: its file arguments are marked for
    file-name completion on the way.
    """
    root_parser: argparse.ArgumentParser = args.root_parser
    import shtab  # noqa: PLC0415 - only this subcommand needs it (bench/startup.py)

    for parser in parsers(root_parser):
        for action in parser._actions:  # noqa: SLF001 - argparse lists a parser's actions only here
            if action.dest in FILE_DESTS:
                # shtab reads this attribute, which argparse does not declare.
                action.complete = shtab.FILE  # type: ignore[attr-defined]
    sys.stdout.write(shtab.complete(root_parser, shell=args.shell))
    return 0


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and the parsers of all its subcommands, at any depth (`state stuck` too)."""
    yield parser
    for action in parser._actions:  # noqa: SLF001 - as above
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001 - argparse's own class
            for subparser in dict.fromkeys(action.choices.values()):
                yield from parsers(subparser)
