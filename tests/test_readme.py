"""The README's commands, config reference, metrics table and record examples stay true."""

import json
import re
import shlex
from pathlib import Path

import jsonschema
import msgspec
import pytest

from fota_poller.cli import build_parser
from fota_poller.config import Config
from fota_poller.observe.metrics import RunMetrics, _registry
from fota_poller.output.records import Record

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "docs" / "records.schema.json").read_text(encoding="utf-8")
)
# Commands that a block not marked as an example may hold: each is run by `make test`
# (this suite), by `make demo`, or by a test (`fota-poller schema`: test_schema.py).
RUN_BY_THE_PROJECT = {"make demo", "make test", "fota-poller schema"}
SHELL_LANGUAGES = {"sh", "bash", "console", "shell"}
_SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<"}
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_COMMAND = re.compile(r"(?:^|[\s/=])fota-poller (\S.*)$")


def blocks():
    """(language, body, the paragraph just before the block) of every fenced block."""
    for match in _BLOCK.finditer(README):
        before = README[: match.start()].rstrip("\n").rsplit("\n\n", 1)[-1]
        yield match.group(1), match.group(2), before


def fota_poller_argv(line):
    """The arguments of the fota-poller command on a line, without shell redirections."""
    found = None if line.lstrip().startswith("#") else _COMMAND.search(line)
    if found is None:
        return None
    argv = []
    for token in shlex.split(found.group(1)):
        if token in _SHELL_OPERATORS or re.match(r"^\d?>", token):
            break
        argv.append(token)
    return argv


def readme_commands():
    return [
        argv
        for _, body, _ in blocks()
        for line in body.splitlines()
        if (argv := fota_poller_argv(line)) is not None
    ]


def test_every_fota_poller_command_in_the_readme_parses():
    commands = readme_commands()
    parser = build_parser()

    assert len(commands) >= 7
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README command does not parse: fota-poller {shlex.join(argv)}")


def test_every_shell_block_is_run_by_the_project_or_marked_as_an_example():
    unmarked = []
    for language, body, before in blocks():
        if language not in SHELL_LANGUAGES or before.startswith("Example"):
            continue
        for line in body.splitlines():
            command = line.split("#", 1)[0].strip()
            if command and command not in RUN_BY_THE_PROJECT:
                unmarked.append(command)

    assert unmarked == []


def test_config_reference_lists_every_config_key():
    documented = set(re.findall(r"^\| `(\w+\.\w+)` \|", README, re.MULTILINE))
    keys = {
        f"{section.name}.{field.name}"
        for section in msgspec.structs.fields(Config)
        for field in msgspec.structs.fields(section.type)
    }

    assert documented == keys


def test_config_reference_names_only_real_flags():
    flags = set(re.findall(r"\| `(--[\w-]+)` \|", README))
    parser_flags = {
        option
        for action in build_parser()._subparsers._group_actions[0].choices["poll"]._actions
        for option in action.option_strings
    }

    assert flags
    assert flags <= parser_flags


def test_metrics_table_lists_every_metric_written():
    metrics = RunMetrics(finished_at=1.0, duration_s=1.0, exit_code=0, complete=True)
    written = {metric.name for metric in _registry(metrics, None).collect()}
    documented = set(re.findall(r"^\| `(fota_poller_\w+)(?:\{\w+\})?` \|", README, re.MULTILINE))

    assert documented == written


def test_record_examples_are_valid_records_of_all_three_kinds():
    validator = jsonschema.Draft202012Validator(SCHEMA)
    examples = [json.loads(body) for language, body, _ in blocks() if language == "json"]

    assert {example["record"] for example in examples} == {"device", "campaign", "run"}
    for example in examples:
        assert validator.is_valid(example), example
        msgspec.convert(example, type=Record)
