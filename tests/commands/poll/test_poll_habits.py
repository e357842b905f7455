"""Operator habits of `poll`: short flags, the default config from the environment, durations
with units, the metrics file on a refused start, an empty night warned about, records on a
terminal. A one-column header: tests/ids/test_one_column_lists.py."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import anyio.to_thread
import msgspec
import pytest
from helpers import UPGRADE, clean_environ, run_cli, run_on_a_terminal

from fota_poller.cli import build_parser
from fota_poller.commands.poll.core import poll_config
from fota_poller.simulator import SimulatorOptions

# Long enough that their redaction never touches a log line's words.
TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-q7", "THINGSPACE_SESSION_TOKEN": "session-q7"}


def parse_poll(*argv: str):
    args = build_parser().parse_args(["poll", *argv])
    return args, poll_config(args)


def test_short_flags_for_output_and_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[poll]\nconcurrency = 3\n")
    args, parsed = parse_poll("-c", str(config), "-o", "night.jsonl")
    assert parsed.output.path == "night.jsonl"
    assert parsed.poll.concurrency == 3
    assert args.config_read == {"path": str(config), "from": "--config"}


def test_the_config_comes_from_the_environment_and_the_flag_wins(tmp_path, monkeypatch) -> None:
    from_env = tmp_path / "env.toml"
    from_env.write_text("[poll]\nconcurrency = 5\n")
    from_flag = tmp_path / "flag.toml"
    from_flag.write_text("[poll]\nconcurrency = 6\n")
    monkeypatch.setenv("FOTA_POLLER_CONFIG", str(from_env))

    args, parsed = parse_poll()
    assert parsed.poll.concurrency == 5
    assert args.config_read == {"path": str(from_env), "from": "FOTA_POLLER_CONFIG"}
    assert parse_poll("--config", str(from_flag))[1].poll.concurrency == 6


def test_a_missing_config_named_by_the_environment_is_one_line_and_exit_2(tmp_path) -> None:
    ids = tmp_path / "ids"
    ids.write_text("")
    env = TOKENS | {"FOTA_POLLER_CONFIG": str(tmp_path / "absent.toml")}
    result = run_cli(["poll", "--ids", str(ids)], env=env)
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1
    assert "absent.toml" in result.stderr.decode()


def test_an_empty_night_warns_and_debug_names_the_config_read(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[log]\nlevel = "debug"\n')
    ids = tmp_path / "ids"
    ids.write_text("# nothing tonight\n")
    metrics = tmp_path / "run.prom"
    env = TOKENS | {"FOTA_POLLER_CONFIG": str(config)}
    result = run_cli(["poll", "--ids", str(ids), "--metrics-file", str(metrics)], env=env)
    assert result.returncode == 0
    logs = [msgspec.json.decode(line) for line in result.stderr.splitlines()]
    read = [line for line in logs if line["event"] == "config.read"]
    assert read == [read[0]]
    assert read[0]["path"] == str(config)
    assert read[0]["from"] == "FOTA_POLLER_CONFIG"
    warned = [line for line in logs if line["event"] == "run.no_campaigns"]
    assert [line["level"] for line in warned] == ["warning"]
    # The alert rule of docs/operations.md: sum(fota_poller_last_run_campaigns) == 0.
    campaigns = re.findall(
        r"^fota_poller_last_run_campaigns\{.*\} (\S+)$", metrics.read_text(), re.MULTILINE
    )
    assert campaigns
    assert sum(float(value) for value in campaigns) == 0


def test_a_night_with_campaigns_does_not_warn(tmp_path) -> None:
    # From a pipe, read by the run: the line is a failed campaign (invalid_input), and as
    # no line is usable, the run says "nothing to poll" (exit 2) rather than "no campaigns".
    result = run_cli(["poll", "--ids", "-"], env=TOKENS, stdin=b"not-an-account,not-an-id\n")
    assert result.returncode == 2
    assert b"input.nothing_to_poll" in result.stderr
    assert b"run.no_campaigns" not in result.stderr


def test_missing_credentials_still_write_the_metrics_file(tmp_path) -> None:
    ids = tmp_path / "ids"
    ids.write_text(f"0000123456-00001,{UPGRADE}\n")
    metrics = tmp_path / "run.prom"
    result = run_cli(["poll", "--ids", str(ids), "--metrics-file", str(metrics)])
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1
    assert "fota_poller_last_run_exit_code 2.0" in metrics.read_text()


@pytest.mark.parametrize("deadline", ["45", "0.5"])
def test_a_bare_deadline_is_one_line_asking_for_a_unit(tmp_path, deadline) -> None:
    ids = tmp_path / "ids"
    ids.write_text("")
    result = run_cli(["poll", "--ids", str(ids), "--deadline", deadline], env=TOKENS)
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert f"{deadline}m" in line
    assert "no unit" in line


def test_a_deadline_with_its_unit_still_works(tmp_path) -> None:
    assert parse_poll("--deadline", "45m")[1].poll.deadline.seconds == 2700


async def test_records_on_a_terminal_get_no_bar_and_one_hint(simulator, tmp_path) -> None:
    options = SimulatorOptions(campaigns=40, devices_min=1, devices_max=30)
    async with simulator(campaigns=40, devices_min=1, devices_max=30) as sim:
        ids = tmp_path / "ids.csv"
        sim.catalog.write_ids(ids)
        argv = [sys.executable, "-m", "fota_poller", "poll", "--ids", str(ids)]
        argv += ["--base-url", sim.base_url, "--rate", "0"]
        env = clean_environ() | {
            "THINGSPACE_BEARER_TOKEN": options.bearer_token,
            "THINGSPACE_SESSION_TOKEN": options.session_token,
        }
        exit_code, output = await anyio.to_thread.run_sync(run_on_a_terminal, argv, env)
    shown = output.decode("utf-8", errors="replace")
    assert exit_code == 0
    lines = [line for line in re.split(r"\r?\n", shown) if line]
    records = [msgspec.json.decode(line) for line in lines if '"record"' in line]
    assert records[-1]["record"] == "run"
    assert records[-1]["campaigns_ok"] == options.campaigns
    # Every line is a whole JSON line or a whole log line: no bar glued to the front of one.
    assert "campaigns/s" not in shown
    assert "\r" not in shown.replace("\r\n", "")
    hints = [line for line in lines if "--output" in line]
    assert len(hints) == 1
    assert "summary" in hints[0]
