"""An argparse parser for a crontab: no abbreviations, and a "did you mean" for a typo.

argparse accepts any unambiguous prefix of a long option (`--conc 2` is `--concurrency 2`);
in a crontab a typo must fail, not pick a flag, so every parser here refuses prefixes. A
refused option or an unknown subcommand names the closest real ones instead.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

# Where a subparser leaves its suggestions for the top-level parser, which reports the error:
# argparse hands a subcommand's unrecognized arguments up to the top level, options unnamed.
_HINTS = "_fota_poller_did_you_mean"
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


class CronSafeParser(argparse.ArgumentParser):
    """`ArgumentParser` with `allow_abbrev=False` and close-match suggestions in its errors.

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
        hints: list[str] = list(getattr(parsed, _HINTS, []))
        # A subcommand's own suggestions (made first, by its parser) are the ones that fit.
        for extra in [] if hints else extras:
            if extra.startswith("-"):
                hints.extend(_close(extra.split("=", 1)[0], self._option_string_actions))
        if hints:
            setattr(parsed, _HINTS, hints)
        return parsed, extras

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse all of `args`; an unknown argument is an error that suggests the closest."""
        parsed, extras = self.parse_known_args(args, namespace)
        hints: list[str] = getattr(parsed, _HINTS, [])
        if hasattr(parsed, _HINTS):
            delattr(parsed, _HINTS)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{_did_you_mean(hints)}")
        return parsed

    def error(self, message: str) -> NoReturn:
        """Exit 2 with the usage and `message`, plus the closest choice for an invalid one."""
        choice = _INVALID_CHOICE.search(message)
        if choice is not None:
            choices = re.findall(r"'([^']*)'", choice.group(2))
            message += _did_you_mean(_close(choice.group(1), choices))
        super().error(message)


def _close(word: str, candidates: Iterable[str]) -> list[str]:
    """The options `word` abbreviates, else the two closest by spelling."""
    names = list(candidates)
    prefixed = [name for name in names if len(word) > len("--") and name.startswith(word)]
    return prefixed or difflib.get_close_matches(word, names, n=2, cutoff=0.5)


def _did_you_mean(hints: list[str]) -> str:
    unique = list(dict.fromkeys(hints))
    return f" (did you mean {' or '.join(unique)}?)" if unique else ""
