"""An argparse parser for a crontab: no abbreviations, and a "did you mean" for a typo.

argparse accepts any unambiguous prefix of a long option (`--conc 2` is `--concurrency 2`);
in a crontab a typo must fail, not pick a flag, so every parser here refuses prefixes. A
refused option or an unknown subcommand names the one closest real name instead, on one
line: `fota-poller: error: unrecognized arguments: --conc 2 (did you mean --concurrency?)`.
The usage block is left out there (the line already says what to type); an error with no
close match keeps argparse's usage, which then is the best help there is.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final, NoReturn

# Where a subparser leaves its suggestions for the top-level parser, which reports the error:
# argparse hands a subcommand's unrecognized arguments up to the top level, options unnamed.
_HINTS: Final = "_fota_poller_did_you_mean"
_INVALID_CHOICE: Final = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")
# How alike (difflib's ratio) a name must be to a typo to be offered: `pol` and `poll` are
# 0.86, `sumary` and `summary` 0.92; `lst` and `stuck` (0.5) are not alike enough to help.
_CUTOFF: Final = 0.6


class CronSafeParser(argparse.ArgumentParser):
    """`ArgumentParser` with `allow_abbrev=False` and one close-match suggestion per typo.

    Subparsers made by `add_subparsers().add_parser` are of this class too (argparse makes
    them of the parent's class), so one parser at the top covers every subcommand.
    """

    # ArgumentParser's own signature, passed through whole: only allow_abbrev is decided here.
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, noting for each unknown option the closest of this parser's."""
        parsed, extras = super().parse_known_args(args, namespace)
        hints: list[tuple[str, str]] = list(getattr(parsed, _HINTS, []))
        # A subcommand's own suggestions (made first, by its parser) are the ones that fit.
        for extra in [] if hints else extras:
            if extra.startswith("-"):
                option = extra.split("=", 1)[0]
                best = _closest(option, self._option_string_actions)
                if best is not None:
                    hints.append((option, best))
        if hints:
            setattr(parsed, _HINTS, hints)
        return parsed, extras

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse all of `args`; an unknown argument is an error that suggests the closest."""
        parsed, extras = self.parse_known_args(args, namespace)
        hints: list[tuple[str, str]] = getattr(parsed, _HINTS, [])
        if hasattr(parsed, _HINTS):
            delattr(parsed, _HINTS)
        if extras:
            message = f"unrecognized arguments: {' '.join(extras)}"
            if hints:
                self._one_line(f"{message} {_did_you_mean(hints)}")
            self.error(message)
        return parsed

    def error(self, message: str) -> NoReturn:
        """Exit 2: one line naming the closest choice for an invalid one, else argparse's.

        argparse's own error is the usage, then `message`; an invalid choice with a close match
        is one line whose suggestion stands in for argparse's list of every choice.
        """
        choice = _INVALID_CHOICE.search(message)
        if choice is not None:
            word = choice.group(1)
            best = _closest(word, _choices(choice.group(2)))
            if best is not None:
                self._one_line(
                    f"{message[: choice.start()]}invalid choice: {word!r} (did you mean {best}?)"
                )
        super().error(message)

    def _one_line(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    """The one name `word` most likely meant: of those it abbreviates, else of all, the most alike.

    None when nothing is alike enough (`_CUTOFF`): no suggestion beats a wrong one.
    """
    names = list(candidates)
    prefixed = [name for name in names if len(word) > len("--") and name.startswith(word)]
    best = difflib.get_close_matches(
        word, prefixed or names, n=1, cutoff=0 if prefixed else _CUTOFF
    )
    return best[0] if best else None


def _choices(listed: str) -> list[str]:
    # argparse lists them as `'poll', 'simulate'` (quoted) or `poll, simulate` (newer Pythons).
    return [name.strip().strip("'") for name in listed.split(",")]


def _did_you_mean(hints: list[tuple[str, str]]) -> str:
    """`(did you mean --concurrency?)`; with several typos, which name goes with which."""
    unique = list(dict.fromkeys(hints))
    if len(unique) == 1:
        return f"(did you mean {unique[0][1]}?)"
    return f"(did you mean {', '.join(f'{best} for {typo}' for typo, best in unique)}?)"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """`-c/--config FILE`, the same on every command that reads a config (commands/common.py)."""
    # Imported when a parser is built, never for `--version` (bench/startup.py): config.py
    # loads msgspec, pathlib costs `--version` a sixth of its time.
    import pathlib  # noqa: PLC0415

    from fota_poller.config import CONFIG_ENV, DEFAULT_CONFIG_PATH  # noqa: PLC0415

    parser.add_argument(
        "-c",
        "--config",
        type=pathlib.Path,
        metavar="FILE",
        help=f"TOML config file (default ${CONFIG_ENV}, else {DEFAULT_CONFIG_PATH} if it exists)",
    )


def add_state_option(parser: argparse.ArgumentParser, what: str) -> None:
    """`--state FILE.db`: the state database, one type (a path as text) and one metavar."""
    parser.add_argument("--state", metavar="FILE.db", help=what)


def add_format_option(parser: argparse.ArgumentParser, choices: Sequence[str], what: str) -> None:
    """`--format`: the first of `choices` on a terminal, json otherwise (commands/common.py)."""
    parser.add_argument(
        "--format",
        choices=choices,
        help=f"{what} (default: {choices[0]} on a terminal, else json)",
    )
