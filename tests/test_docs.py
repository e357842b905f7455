"""The documents stay true: README.md and docs/*.md, their commands, tables, examples and links."""

import json
import re
import shlex
from pathlib import Path
from typing import get_args

import jsonschema
import msgspec
import pytest

from fota_poller.cli import build_parser
from fota_poller.config import Config
from fota_poller.errors import state_exit_codes
from fota_poller.model.phases import BUILTIN_PHASES
from fota_poller.model.records import ErrorKind, Record
from fota_poller.observe.metrics import RunMetrics, _registry

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCHEMA = json.loads((ROOT / "docs" / "records.schema.json").read_text(encoding="utf-8"))
# Commands that a block not marked as an example may hold: each is run by `make test`
# (this suite), by `make demo`, or by a test (`fota-poller schema`: test_schema.py).
RUN_BY_THE_PROJECT = {"make demo", "make test", "fota-poller schema"}
# A block whose paragraph names this file is run, as written, by tests/test_doc_examples.py.
RUN_BY_EXAMPLES = "tests/test_doc_examples.py"
SHELL_LANGUAGES = {"sh", "bash", "console", "shell"}
_SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<"}
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_COMMAND = re.compile(r"(?:^|[\s/=])fota-poller (\S.*)$")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$", re.MULTILINE)
_MAP_LINE = re.compile(r"^- `(fota_poller/[^`]+)`: \S")


def read(path):
    return path.read_text(encoding="utf-8")


def doc_id(path):
    return path.relative_to(ROOT).as_posix()


def blocks(text):
    """(language, body, the paragraph just before the block) of every fenced block."""
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n\n", 1)[-1]
        yield match.group(1), match.group(2), before


def prose(text):
    """The text without its fenced blocks and HTML comments, where links and headings live."""
    return re.sub(r"<!--.*?-->", "", _BLOCK.sub("", text), flags=re.DOTALL)


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


def commands(text):
    return [
        argv
        for _, body, _ in blocks(text)
        for line in body.splitlines()
        if (argv := fota_poller_argv(line)) is not None
    ]


def poll_parser():
    return build_parser()._subparsers._group_actions[0].choices["poll"]


def test_the_documents_hold_fota_poller_commands():
    assert len([argv for doc in DOCS for argv in commands(read(doc))]) >= 10


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_fota_poller_command_parses(doc):
    parser = build_parser()

    for argv in commands(read(doc)):
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{doc_id(doc)}: command does not parse: fota-poller {shlex.join(argv)}")


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_shell_block_is_run_by_the_project_or_marked_as_an_example(doc):
    unmarked = []
    for language, body, before in blocks(read(doc)):
        if (
            language not in SHELL_LANGUAGES
            or before.startswith("Example")
            or RUN_BY_EXAMPLES in before
        ):
            continue
        for line in body.splitlines():
            command = line.split("#", 1)[0].strip()
            if command and command not in RUN_BY_THE_PROJECT:
                unmarked.append(command)

    assert unmarked == []


def config_rows():
    """{key: (default cell, flag cell)} of the configuration reference."""
    text = read(ROOT / "docs" / "configuration.md")
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in text.splitlines()
        if re.match(r"^\| `\w+\.\w+` \|", line)
    ]
    return {key.strip("`"): (default, flag) for key, _, default, flag, _ in rows}


def test_config_reference_lists_every_config_key():
    keys = {
        f"{section.name}.{field.name}"
        for section in msgspec.structs.fields(Config)
        for field in msgspec.structs.fields(section.type)
    }

    assert set(config_rows()) == keys


def test_config_reference_gives_every_default_as_the_config_has_it():
    # Lists, as JSON spells them (a tuple default is a list in the documents too).
    defaults = json.loads(msgspec.json.encode(Config()))
    wrong = {}
    for key, (cell, _) in config_rows().items():
        section, name = key.split(".")
        literal = re.match(r"`([^`]*)`", cell)
        if cell.startswith("unset"):
            documented = None
        else:
            assert literal is not None, f"{key}: default {cell!r} is neither unset nor `a value`"
            try:
                documented = json.loads(literal.group(1))
            except json.JSONDecodeError:
                documented = literal.group(1)
        if documented != defaults[section].get(name):
            wrong[key] = (cell, defaults[section].get(name))

    assert wrong == {}


def test_config_reference_names_the_flag_that_sets_each_key():
    flags = {
        option: action.help or ""
        for action in poll_parser()._actions
        for option in action.option_strings
    }
    documented = {key: flag.strip("`") for key, (_, flag) in config_rows().items() if flag}

    assert documented
    for key, flag in documented.items():
        assert flag in flags, f"{key}: {flag} is not a flag of poll"
        assert f"config {key}" in flags[flag], f"{flag}'s help does not name config {key}"


def test_configuration_lists_every_flag_of_poll():
    text = read(ROOT / "docs" / "configuration.md")
    documented = set(re.findall(r"\| `(--[\w-]+)` \|", text))
    # A flag with a short form is one row: `-q`, `--quiet`.
    short_rows = re.findall(r"\| `(-\w)`, `(--[\w-]+)` \|", text)
    documented |= {long for _, long in short_rows}
    parser_flags = {
        option
        for action in poll_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }

    assert documented == parser_flags
    # And each short form documented is that flag's.
    for short, long in short_rows:
        action = next(a for a in poll_parser()._actions if long in a.option_strings)
        assert short in action.option_strings, f"{short} is not {long}'s short form"


def test_metrics_table_lists_every_metric_written():
    text = read(ROOT / "docs" / "operations.md")
    # A run with a state database: it writes every metric there is.
    metrics = RunMetrics(
        finished_at=1.0,
        duration_s=1.0,
        exit_code=0,
        complete=True,
        devices_by_change={"new": 1, "changed": 0, "gone": 0},
        campaigns_stalled=0,
    )
    written = {metric.name for metric in _registry(metrics, None).collect()}
    documented = set(re.findall(r"^\| `(fota_poller_\w+)(?:\{\w+\})?` \|", text, re.MULTILINE))

    assert documented == written


def test_record_examples_are_valid_records_of_all_three_kinds():
    validator = jsonschema.Draft202012Validator(SCHEMA)
    text = read(ROOT / "docs" / "records.md")
    examples = [json.loads(body) for language, body, _ in blocks(text) if language == "json"]

    assert {example["record"] for example in examples} == {"device", "campaign", "run"}
    for example in examples:
        assert validator.is_valid(example), example
        msgspec.convert(example, type=Record)


def test_records_describe_every_error_kind():
    text = read(ROOT / "docs" / "records.md")
    described = set(re.findall(r"^- `(\w+)`", text, re.MULTILINE)) | set(
        re.findall(r"^- `\w+`, `(\w+)`", text, re.MULTILINE)
    )

    assert set(get_args(ErrorKind)) <= described


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for _, heading in _HEADING.findall(prose(read(path))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_relative_link_points_at_a_file_that_exists(doc):
    broken = []
    for target in _LINK.findall(prose(read(doc))):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        missing = not linked.is_file()
        if missing or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)

    assert broken == []


def test_the_link_checker_sees_links_and_headings():
    links = [target for doc in DOCS for target in _LINK.findall(prose(read(doc)))]

    assert "docs/records.md" in links
    assert slug("Sizing `--rate` and `--concurrency`") == "sizing---rate-and---concurrency"
    assert "exit-codes" in anchors(ROOT / "README.md")


def module_map():
    """The modules the map in docs/development.md names, in its order."""
    text = prose(read(ROOT / "docs" / "development.md"))
    section = text.split("### Module map", 1)[1].split("\n#", 1)[0]
    entries = [line for line in section.splitlines() if line.startswith("- ")]
    malformed = [line for line in entries if not _MAP_LINE.match(line)]
    assert malformed == [], "a module map line is `- `fota_poller/path.py`: its job`"
    return [_MAP_LINE.match(line).group(1) for line in entries]


def test_module_map_names_every_module_once_and_no_other():
    named = module_map()
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "fota_poller").rglob("*.py")}

    assert len(named) == len(set(named)), "a module is named twice"
    assert sorted(modules - set(named)) == [], "missing from the module map"
    assert sorted(set(named) - modules) == [], "in the module map, not in the package"


def test_records_list_the_built_in_phase_table():
    text = read(ROOT / "docs" / "records.md")
    documented = {
        phase: tuple(re.findall(r"`([^`]+)`", statuses))
        for phase, statuses in re.findall(r"^\| `(\w+)` \| (.+) \|$", text, re.MULTILINE)
    }
    assert documented == {p: s for p, s in BUILTIN_PHASES.items() if s}


def test_the_state_database_exit_codes_are_one_table_that_matches_the_code():
    text = (ROOT / "docs" / "change-feed.md").read_text(encoding="utf-8")
    section = text.split("### Exit codes of the state database", 1)[1].split("\n#", 1)[0]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}

    assert listed == {int(code) for code in state_exit_codes().values()} == {2, 74, 75}
