"""Every command reads the config `poll` reads: `--config`, else $FOTA_POLLER_CONFIG, else /etc.

Issue 19's bug: `check`, `state` and `summary` read only `--config`, so `check` with no flag
tested the defaults, not the night's config. Each runs here as a process with only the
variable set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest
from helpers import clean_environ, credentials_environ, run_cli, token_environ

from fota_poller.config import CONFIG_ENV
from fota_poller.simulator import SimulatorAuthOptions

TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-c19", "THINGSPACE_SESSION_TOKEN": "session-c19"}


def without_config() -> dict[str, str]:
    return {k: v for k, v in clean_environ().items() if k != CONFIG_ENV}


def test_check_reads_the_config_the_variable_names_and_says_which(tmp_path: Path) -> None:
    config = tmp_path / "night.toml"
    # Port 9 (discard) is closed on loopback: the connect step names it, so the base URL
    # came from this file.
    config.write_text('[api]\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    env = without_config() | credentials_environ(SimulatorAuthOptions())
    done = run_cli(["check"], env=env | {CONFIG_ENV: str(config)})

    lines = done.stdout.decode().splitlines()
    assert lines[0].split() == ["ok", "config", str(config)]
    assert done.returncode == 4, done.stdout
    assert any(line.startswith("FAIL connect") and "127.0.0.1:9" in line for line in lines)

    # Without the variable: the defaults, said as such.
    done = run_cli(["check"], env=env)
    assert done.stdout.decode().splitlines()[0].split() == ["ok", "config", "defaults"]


async def test_state_and_summary_read_the_config_the_variable_names(tmp_path, simulator) -> None:
    db, night, ids = tmp_path / "state.db", tmp_path / "night.jsonl", tmp_path / "ids.txt"
    config = tmp_path / "night.toml"
    config.write_text(f'[state]\npath = "{db}"\n', encoding="utf-8")
    async with simulator(campaigns=3) as sim:
        sim.catalog.write_ids(ids)
        command = [sys.executable, "-m", "fota_poller", "poll", "--ids", str(ids)]
        command += ["--base-url", sim.base_url, "--output", str(night), "--state", str(db)]
        done = await anyio.run_process(command, env=token_environ(sim.options), check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    env = without_config() | {CONFIG_ENV: str(config)}

    # state info: no --state, no --config; the variable's state.path.
    info = run_cli(["state", "info", "--format", "json"], env=env)
    assert info.returncode == 0, info.stderr
    answer = json.loads(info.stdout)
    assert (answer["path"], answer["campaigns"]) == (str(db), 3)
    refused = run_cli(["state", "info"], env=without_config())
    assert refused.returncode == 2
    assert b"no state database" in refused.stderr

    # summary: the variable's state.path gives every campaign its stuck count.
    summary = run_cli(["summary", str(night), "--format", "json"], env=env)
    assert summary.returncode == 0, summary.stderr
    assert [row["stuck"] for row in json.loads(summary.stdout)["rows"]] == [0, 0, 0]
    alone = run_cli(["summary", str(night), "--format", "json"], env=without_config())
    assert [row["stuck"] for row in json.loads(alone.stdout)["rows"]] == [None, None, None]


def test_every_config_reading_command_takes_the_same_config_flag(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[nonsense]\n", encoding="utf-8")
    for command in (["check"], ["state", "info"], ["summary", "-"], ["poll", "--ids", "-"]):
        done = run_cli([*command, "-c", str(bad)], env=without_config(), stdin=b"")
        shown = (done.stdout + done.stderr).decode()
        assert done.returncode == 2, (command, shown)
        assert "nonsense" in shown, command  # the file was read: its bad table is named
        assert "unrecognized arguments" not in shown, command


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_config_variable_naming_no_config_file_is_exit_2_at_once(tmp_path: Path, kind) -> None:
    # Every command now reads the file the variable names: a FIFO nobody writes must not
    # hold it, /dev/zero must not be read for ever, 2 MB is no config.
    if kind == "fifo":
        path = tmp_path / "config.toml"
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "config.toml"
        path.write_text("# padding\n" * 200_000, encoding="utf-8")
    env = without_config() | {CONFIG_ENV: str(path)} | TOKENS
    for command in (["check"], ["state", "info"], ["summary", "-"], ["poll", "--ids", "-"]):
        done = run_cli(command, env=env, stdin=b"", timeout=20)
        shown = (done.stdout + done.stderr).decode()
        assert done.returncode == 2, (command, shown)
        assert str(path) in shown, command
        assert "Traceback" not in shown, command
