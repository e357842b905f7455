"""`poll`'s config: one-line errors and exit code 2, flags over the file, the example config."""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path

import msgspec
import pytest
from helpers import ROOT, run_cli

from fota_poller.cli import build_parser
from fota_poller.commands.poll.core import poll_config
from fota_poller.config import Config, load_config
from fota_poller.errors import ConfigError

TOKENS = {"THINGSPACE_BEARER_TOKEN": "b", "THINGSPACE_SESSION_TOKEN": "s"}


def poll_with_config(tmp_path: Path, config: Path):
    """`poll --config CONFIG` over an empty id list: the result and its stderr lines."""
    ids = tmp_path / "ids"
    ids.write_text("")
    result = run_cli(["poll", "--config", str(config), "--ids", str(ids)], env=TOKENS)
    return result, result.stderr.decode().splitlines()


def test_a_bad_config_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[poll]\nconcurency = 4\n")
    result, lines = poll_with_config(tmp_path, config)
    assert result.returncode == 2
    assert len(lines) == 1
    assert "concurency" in lines[0]
    assert "poll" in lines[0]
    assert result.stdout == b""


def test_a_config_that_is_not_utf8_is_one_line_naming_the_byte_and_exit_2(
    tmp_path: Path,
) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b"[poll]\nrate = 4\n# caf\xe9\n")
    result, lines = poll_with_config(tmp_path, config)
    assert result.returncode == 2
    assert len(lines) == 1
    assert str(config) in lines[0]
    assert "not UTF-8" in lines[0]
    assert "byte 0xe9 at offset 21 (line 3)" in lines[0]
    assert result.stdout == b""


def test_a_config_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # tomllib alone refuses it ("Invalid statement (at line 1, column 1)"); a BOM is valid
    # UTF-8 and the TOML test suite expects parsers to accept it at the start.
    config = tmp_path / "c.toml"
    config.write_bytes(codecs.BOM_UTF8 + b"[poll]\nrate = 4\n")
    assert load_config(config).poll.rate == 4


def test_a_wrong_type_in_the_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[poll]\nrate = "fast"\n')
    with pytest.raises(ConfigError, match=r"`poll\.rate`"):
        load_config(config)


def test_missing_tokens_name_the_variables_and_exit_2(tmp_path: Path) -> None:
    ids = tmp_path / "ids"
    ids.write_text("")
    result = run_cli(["poll", "--ids", str(ids)], env={"THINGSPACE_BEARER_TOKEN": "b"})
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert "THINGSPACE_SESSION_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr.decode()


def test_an_unreadable_id_list_exits_2_and_leaves_yesterdays_output(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    output.write_text("yesterday\n")
    result = run_cli(
        ["poll", "--ids", str(tmp_path / "missing.txt"), "--output", str(output)], env=TOKENS
    )
    assert result.returncode == 2
    assert "missing.txt" in result.stderr.decode()
    assert len(result.stderr.decode().splitlines()) == 1
    assert output.read_text() == "yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[poll]\nrate = 3\nconcurrency = 4\n[api]\naccount = "0001-01"\n')
    args = build_parser().parse_args(["poll", "--config", str(config), "--ids", "-", "--rate", "7"])
    merged = poll_config(args)
    assert merged.poll.rate == 7
    assert merged.poll.concurrency == 4
    assert merged.api.account == "0001-01"


def test_a_flag_value_the_config_could_not_hold_is_refused(tmp_path: Path) -> None:
    args = build_parser().parse_args(["poll", "--ids", "-", "--concurrency", "0"])
    with pytest.raises(ConfigError, match="concurrency"):
        poll_config(args)


def test_the_example_config_shows_every_key_with_its_default() -> None:
    example = ROOT / "config.example.toml"
    text = example.read_text()
    # A key shown commented out is an example value; a key set is the default.
    uncommented = "\n".join(
        line[2:] if line.startswith("# ") and " = " in line else line for line in text.splitlines()
    )
    shown = tomllib.loads(uncommented)
    active = tomllib.loads(text)
    defaults = msgspec.to_builtins(Config())
    for section, values in defaults.items():
        for key, default in values.items():
            assert key in shown.get(section, {}), f"{section}.{key} missing from the example"
            if key in active.get(section, {}):
                assert active[section][key] == default, f"{section}.{key} differs from default"
    assert load_config(example) == Config()
