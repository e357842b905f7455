"""Operator habits every command shares: no abbreviated flags, one did-you-mean per typo.
The habits of `poll`: tests/commands/poll/test_poll_habits.py; the simulator's:
tests/commands/simulate/."""

from __future__ import annotations

import argparse

import pytest
from helpers import run_cli

from fota_poller.cli import build_parser
from fota_poller.commands.poll.core import poll_config

# Long enough that their redaction never touches a log line's words.
TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-q7", "THINGSPACE_SESSION_TOKEN": "session-q7"}


def every_parser(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from every_parser(child)


def test_no_parser_accepts_an_abbreviated_flag() -> None:
    parsers = list(every_parser(build_parser()))
    assert len(parsers) >= 8  # poll, simulate, demo, schema, state and its subcommands
    assert all(not parser.allow_abbrev for parser in parsers)


@pytest.mark.parametrize(
    ("argv", "suggested"),
    [
        (["poll", "--conc", "2", "--ids", "x"], "--concurrency"),
        (["poll", "--ids", "x", "--out", "night.jsonl"], "--output"),
        (["poll", "--ids", "x", "--concurency", "2"], "--concurrency"),
        (["poll", "--ids", "x", "--outptu", "y"], "--output"),  # --status is alike too
        (["pol", "--ids", "x"], "poll"),
        (["sumary", "night.jsonl"], "summary"),  # schema is alike too
        (["poll", "--ids", "x", "--emit", "chnges"], "changes"),
        (["simulate", "--campaign", "3"], "--campaigns"),
    ],
)
def test_a_typo_fails_with_exit_2_and_one_line_naming_the_one_best_match(argv, suggested) -> None:
    result = run_cli(argv, env=TOKENS)
    assert result.returncode == 2
    assert result.stdout == b""
    # One line, no usage block: in a cron mail the fix is the whole message.
    [error] = result.stderr.decode().splitlines()
    assert error.startswith("fota-poller")
    assert ": error: " in error
    assert error.endswith(f"(did you mean {suggested}?)")
    assert "choose from" not in error


def test_two_typos_get_one_suggestion_each_on_one_line() -> None:
    result = run_cli(["poll", "--ids", "x", "--conc=2", "--outptu", "y"], env=TOKENS)
    assert result.returncode == 2
    [error] = result.stderr.decode().splitlines()
    assert error.endswith("(did you mean --concurrency for --conc, --output for --outptu?)")


def test_a_word_like_no_flag_gets_no_suggestion_and_the_usage() -> None:
    result = run_cli(["poll", "--ids", "x", "--zzzzzz"], env=TOKENS)
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "unrecognized arguments: --zzzzzz" in stderr
    assert "did you mean" not in stderr
    # Nothing to suggest: argparse's usage is then the best help there is.
    assert stderr.startswith("usage: fota-poller")


def test_an_invalid_choice_like_none_keeps_argparse_s_list_of_choices() -> None:
    result = run_cli(["state", "lst"], env=TOKENS)
    assert result.returncode == 2
    error = result.stderr.decode().splitlines()[-1]
    assert error.endswith("invalid choice: 'lst' (choose from 'info', 'stuck', 'forget')")


def parse_poll(*argv: str):
    args = build_parser().parse_args(["poll", *argv])
    return args, poll_config(args)
