"""Config errors read like flag errors: a did-you-mean for an unknown key or table, a bad value
named as it was given (the flag, or the key and the file, or the variable that named the file),
one line of bounded length whatever the file holds, exit 2, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import refusal, run_cli
from test_docs import config_rows

from fota_poller.cli import build_parser
from fota_poller.config import CONFIG_ENV, Config, apply_overrides, load_config
from fota_poller.config_sources import FLAGS
from fota_poller.errors import ConfigError

TOKENS = {"THINGSPACE_BEARER_TOKEN": "b", "THINGSPACE_SESSION_TOKEN": "s"}


def refused(tmp_path: Path, text: str) -> str:
    """The one-line error of `load_config` on a file holding `text`."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"config {path}: ")
    return message.removeprefix(f"config {path}: ")


# -- unknown keys and tables ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "[poll]\nconcurency = 4\n",
            "unknown key poll.concurency (did you mean poll.concurrency?)",
        ),
        ("[pol]\nrate = 4\n", "unknown table [pol] (did you mean [poll]?)"),
        (
            "[phases]\nsuceeded = ['x']\n",
            "unknown key phases.suceeded (did you mean phases.succeeded?)",
        ),
        # A key in the wrong table, or at the top: the key of that name where it belongs.
        (
            "[poll]\nbase_url = 'http://x'\n",
            "unknown key poll.base_url (did you mean api.base_url?)",
        ),
        ("rate = 4\n", "unknown key rate (did you mean poll.rate?)"),
        ("[poll]\npath = 'x'\n", "unknown key poll.path (did you mean output.path or state.path?)"),
        ("[poll.retry]\nmax = 1\n", "unknown table [poll.retry]"),
    ],
)
def test_an_unknown_key_or_table_names_the_closest_real_one(tmp_path, text, said):
    assert refused(tmp_path, text) == said


def test_an_unknown_key_like_no_real_one_gets_no_suggestion(tmp_path):
    assert refused(tmp_path, "[poll]\nxyzzy = 1\n") == "unknown key poll.xyzzy"
    assert refused(tmp_path, "[nonsense]\n") == "unknown table [nonsense]"


@pytest.mark.parametrize(
    "key", ['"\\u001b[2J\\u001b[31mrate"', '"con\\ncurrency"', '"\\u2028x"', '"\\u009b31m"']
)
def test_a_key_with_control_characters_is_shown_escaped(tmp_path, key):
    message = refused(tmp_path, f"[poll]\n{key} = 1\n")
    assert re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", message) is None
    assert message.startswith("unknown key poll.'")


def test_ten_thousand_unknown_keys_are_one_short_line_with_a_count(tmp_path):
    keys = "".join(f"k{number} = 1\n" for number in range(10_000))
    message = refused(tmp_path, f"[poll]\n{keys}")
    assert message == "unknown key poll.k0; and 9,999 more unknown keys"


def test_a_huge_key_is_cut(tmp_path):
    message = refused(tmp_path, f"[poll]\n{'a' * 100_000} = 1\n")
    assert len(message) < 300
    assert "cut, 100005 chars" in message


# -- a bad value: named by the key and the file --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[poll]\nrate = -1\n", "`poll.rate`: must be a number >= 0, not -1"),
        ("[poll]\nconcurrency = 0\n", "`poll.concurrency`: must be an integer >= 1, not 0"),
        ("[poll]\ntimeout_s = 0\n", "`poll.timeout_s`: must be a number > 0, not 0"),
        ('[poll]\nrate = "fast"\n', "`poll.rate`: Expected `float`, got `str`"),
        (
            "[discover]\nstatuses = ['Queued', 'b$d']\n",
            '`discover.statuses`: must match ^[A-Za-z0-9_ -]{1,64}$, not "b$d"',
        ),
        (
            '[api]\nbase_url = "ftp://h"\n',
            "api.base_url 'ftp://h' is not an http:// or https:// URL with a host",
        ),
    ],
)
def test_a_bad_value_in_the_file_names_the_key(tmp_path, text, said):
    assert refused(tmp_path, text) == said


# -- a bad value: named by the flag ----------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        ({"poll": {"rate": -1.0}}, "--rate: must be a number >= 0, not -1.0"),
        ({"poll": {"concurrency": 0}}, "--concurrency: must be an integer >= 1, not 0"),
        ({"poll": {"timeout_s": 0.0}}, "--timeout: must be a number > 0, not 0.0"),
        ({"poll": {"max_attempts": -3}}, "--max-attempts: must be an integer >= 1, not -3"),
        ({"poll": {"deadline": "45"}}, "--deadline: duration '45' has no unit"),
        (
            {"discover": {"statuses": ["ok", "b$"]}},
            '--status: must match ^[A-Za-z0-9_ -]{1,64}$, not "b$"',
        ),
        ({"api": {"base_url": "h:80"}}, "--base-url 'h:80' is not an http:// or https:// URL"),
    ],
)
def test_a_bad_value_from_a_flag_names_the_flag(flags, said):
    with pytest.raises(ConfigError) as raised:
        apply_overrides(Config(), **flags)
    assert str(raised.value).startswith(said)
    assert "poll." not in str(raised.value)


def test_a_flag_named_error_holds_when_the_file_set_other_keys(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[poll]\nrate = 5\nconcurrency = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^--concurrency: must be an integer >= 1, not 0$"):
        apply_overrides(load_config(path), poll={"rate": 3.0, "concurrency": 0})


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--rate", "-1", "--rate: must be a number >= 0, not -1.0"),
        ("--concurrency", "0", "--concurrency: must be an integer >= 1, not 0"),
    ],
)
def test_poll_names_the_flag_of_a_bad_value_in_one_line_exit_2(tmp_path, flag, value, said):
    ids = tmp_path / "ids.txt"
    ids.write_text("")
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nrate = 5\nconcurrency = 2\n", encoding="utf-8")
    done = run_cli(["poll", "-c", str(config), "--ids", str(ids), flag, value], env=TOKENS)

    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2
    assert len(lines) == 1, lines
    assert refusal(lines[0]) == f"fota-poller: {said}"
    assert done.stdout == b""


def test_a_value_argparse_cannot_read_stays_argparses_error(tmp_path):
    done = run_cli(["poll", "--ids", "-", "--rate", "fast"], env=TOKENS, stdin=b"")

    assert done.returncode == 2
    assert "argument --rate: invalid float value: 'fast'" in done.stderr.decode()


def test_a_config_the_variable_names_is_named_by_the_variable_in_its_error(tmp_path):
    config = tmp_path / "night.toml"
    config.write_text("[poll]\nconcurency = 4\n", encoding="utf-8")
    for path in (config, tmp_path / "missing.toml"):
        env = TOKENS | {CONFIG_ENV: str(path)}
        done = run_cli(["poll", "--ids", "-"], env=env, stdin=b"")

        [line] = done.stderr.decode().splitlines()
        assert done.returncode == 2
        assert str(path) in line
        assert refusal(line).endswith(f"(the file ${CONFIG_ENV} names)")


# -- one list of which flag sets which key ---------------------------------------------------


def test_flags_name_each_key_as_the_docs_reference_and_the_options_do():
    documented = {key: flag.strip("`") for key, (_, flag) in config_rows().items() if flag}
    assert documented == dict(FLAGS)
    commands = build_parser()._subparsers._group_actions[0].choices
    for key, flag in FLAGS.items():
        action = commands["poll"]._option_string_actions[flag]
        assert f"config {key}" in action.help, (key, flag)
        check = commands["check"]._option_string_actions.get(flag)
        assert check is None or f"config {key}" in check.help, (key, flag)


def test_every_command_that_reads_the_config_suggests_the_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nconcurency = 4\n", encoding="utf-8")
    for command in (["check"], ["state", "info"], ["summary", "-"], ["poll", "--ids", "-"]):
        done = run_cli([*command, "-c", str(config)], env=TOKENS, stdin=b"")
        shown = (done.stdout + done.stderr).decode()
        assert done.returncode == 2, (command, shown)
        assert "unknown key poll.concurency (did you mean poll.concurrency?)" in shown, command
        assert "Traceback" not in shown, command
