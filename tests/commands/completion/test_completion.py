"""`fota-poller completion bash|zsh`: the scripts, driven in a real bash as a Tab would.

Each bash case sources the script the CLI printed and calls its completion function with
COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT set as bash sets them for a Tab at the end
of the line, then prints COMPREPLY, one word a line.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, clean_environ, run_cli
from test_docs import blocks, read

from fota_poller.cli import build_parser
from fota_poller.commands.completion import FILE_DESTS, parsers

# What a Tab does: the words so far, the last one being completed (maybe empty).
_COMPLETE = """
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
"$(complete -p fota-poller | sed -E 's/.* -F ([^ ]+) .*/\\1/')"
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory) -> Path:
    result = run_cli(["completion", "bash"])
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    path = tmp_path_factory.mktemp("completion") / "fota-poller.bash"
    path.write_bytes(result.stdout)
    return path


def complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """COMPREPLY for a Tab after `words` (the last one is the word being completed)."""
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", _COMPLETE, "bash", str(script), *words],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [word for word in result.stdout.splitlines() if word]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["po"], ["poll"]),
        (["poll", "--conc"], ["--concurrency"]),
        (["summary", "--for"], ["--format"]),
        (
            ["state", "stuck", "--st"],
            ["--state", "--stuck-after", "--status"],
        ),  # a subcommand's subcommand
        (["poll", "--emit", ""], ["all", "changes"]),
        (["completion", ""], ["bash", "zsh"]),
        # The worst nights: nothing matches, and nothing is made up.
        (["zzz"], []),
        (["poll", "--zz"], []),
        (["completion", "fi"], []),
    ],
    ids=" ".join,
)
def test_bash_completes_commands_flags_and_choices(bash_script, words, expected) -> None:
    assert complete(bash_script, "fota-poller", *words) == expected


def test_bash_offers_file_names_after_a_flag_that_takes_a_file(bash_script, tmp_path) -> None:
    (tmp_path / "night-ids.txt").touch()
    (tmp_path / "night.jsonl").touch()
    (tmp_path / "other.txt").touch()

    assert complete(bash_script, "fota-poller", "poll", "--ids", "night-", cwd=tmp_path) == [
        "night-ids.txt"
    ]
    assert sorted(complete(bash_script, "fota-poller", "summary", "ni", cwd=tmp_path)) == [
        "night-ids.txt",
        "night.jsonl",
    ]
    # A flag that takes no file gets no file names.
    assert complete(bash_script, "fota-poller", "poll", "--concurrency", "ni", cwd=tmp_path) == []


def test_every_subcommand_and_flag_of_the_parser_is_completed(bash_script) -> None:
    # A subcommand added later is in the script too, with every one of its flags.
    checked = 0
    for path, parser in _commands(build_parser(), ()):
        # A hidden alias (help=SUPPRESS, `state stuck --for`) is not offered.
        shown = [a for a in parser._actions if a.help != argparse.SUPPRESS]
        flags = sorted(s for a in shown for s in a.option_strings if s.startswith("--"))
        assert sorted(complete(bash_script, "fota-poller", *path, "--")) == flags, path
        names = _subcommand_names(parser)
        if names:
            assert sorted(complete(bash_script, "fota-poller", *path, "")) == sorted(names), path
        checked += 1
    assert checked >= 12  # the top level, 8 subcommands, state's 3


def test_every_argument_that_takes_a_file_is_marked_and_every_mark_is_used() -> None:
    actions = [action for parser in parsers(build_parser()) for action in parser._actions]
    takes_a_file = {
        action.dest
        for action in actions
        if re.search(r"FILE|PATH", str(action.metavar or "")) or action.type is Path
    }
    assert takes_a_file == FILE_DESTS


def test_the_zsh_script_names_every_subcommand_and_flag() -> None:
    # zsh is not installed on the machines this suite runs on (nor in CI), so the script
    # cannot be driven as bash's is: it is checked for what compsys reads.
    result = run_cli(["completion", "zsh"])
    assert result.returncode == 0, result.stderr.decode()
    script = result.stdout.decode()
    assert script.startswith("#compdef fota-poller\n")
    for path, parser in _commands(build_parser(), ()):
        assert all(name in script for name in path), path
        for action in parser._actions:
            assert all(option in script for option in action.option_strings), action.dest
    # File arguments complete with zsh's _files, the others not.
    ids = [line for line in script.splitlines() if "--ids[" in line]  # poll's and check's
    [concurrency] = [line for line in script.splitlines() if "--concurrency[" in line]
    assert len(ids) == 2, ids
    assert all(line.endswith(':FILE:_files"') for line in ids), ids
    assert "_files" not in concurrency, concurrency


def test_an_unknown_shell_is_a_one_line_error_and_exit_2() -> None:
    result = run_cli(["completion", "fish"])
    assert result.returncode == 2
    assert result.stdout == b""
    usage, error = result.stderr.decode().splitlines()
    assert usage.startswith("usage: fota-poller completion")
    assert "invalid choice: 'fish'" in error


def test_the_documented_bash_example_runs_as_written_and_completes(tmp_path) -> None:
    # docs/installation.md's per-user bash install, with HOME in a temporary folder and
    # `fota-poller` on PATH as this checkout's: the file lands where bash-completion looks.
    [body] = [
        body
        for _, body, before in blocks(read(ROOT / "docs" / "installation.md"))
        if "tests/commands/completion/test_completion.py" in before
    ]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fota-poller").write_text(f'#!/bin/sh\nexec {sys.executable} -m fota_poller "$@"\n')
    (bin_dir / "fota-poller").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    environ = clean_environ() | {"HOME": str(home), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run(["bash", "-e", "-c", body], env=environ, check=True, timeout=60)

    written = home / ".local/share/bash-completion/completions/fota-poller"
    assert complete(written, "fota-poller", "poll", "--conc") == ["--concurrency"]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    """(the words that reach it, parser) of the command line and each subcommand."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


def _subcommand_names(parser: argparse.ArgumentParser) -> list[str]:
    return [
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    ]
