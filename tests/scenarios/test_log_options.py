"""Log flags through the command line: a real `poll` against a simulator process, stderr a
pipe or a terminal (`-q`, `-v`, `--log-format`, NO_COLOR, the config's log format)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import credentials_environ, run_on_a_terminal, simulator_process

from fota_poller.simulator import SimulatorAuthOptions

ESC = "\x1b"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A simulator process serving 5 small campaigns: its base URL and its id lines."""
    ids = tmp_path_factory.mktemp("sim") / "ids.txt"
    with simulator_process("--campaigns", "5", "--devices", "1-3", "--write-ids", str(ids)) as url:
        yield url, ids.read_text(encoding="utf-8")


@pytest.fixture
def base_url(simulator: tuple[str, str]) -> str:
    return simulator[0]


def _poll(base_url: str, tmp_path: Path, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fota_poller",
        "poll",
        "--base-url",
        base_url,
        "--ids",
        str(tmp_path / "ids.txt"),
        "--output",
        str(tmp_path / "out.jsonl"),
        "--rate",
        "0",
        *flags,
    ]


@pytest.fixture
def ids(tmp_path: Path, simulator: tuple[str, str]) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text(simulator[1], encoding="utf-8")
    return path


def _environ(**extra: str) -> dict[str, str]:
    environ = credentials_environ(SimulatorAuthOptions()) | extra
    if "NO_COLOR" not in extra:
        environ.pop("NO_COLOR", None)
    return environ


def _stderr_events(result: subprocess.CompletedProcess[bytes]) -> list[tuple[str, str]]:
    lines = [json.loads(line) for line in result.stderr.decode().splitlines()]
    return [(line["level"], line["event"]) for line in lines]


def _run(command: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, env=environ, capture_output=True, timeout=60, check=False)


def test_quiet_hides_info_and_verbose_shows_debug(base_url, tmp_path, ids):
    default = _run(_poll(base_url, tmp_path), _environ())
    quiet = _run(_poll(base_url, tmp_path, "-q"), _environ())
    verbose = _run(_poll(base_url, tmp_path, "--verbose", "--log-level", "error"), _environ())

    assert [result.returncode for result in (default, quiet, verbose)] == [0, 0, 0]
    runs = {"default": default, "quiet": quiet, "verbose": verbose}
    levels = {name: {level for level, _ in _stderr_events(run)} for name, run in runs.items()}
    assert levels["default"] == {"info"}
    assert levels["quiet"] == set()  # a good run has nothing to warn about
    assert {"debug", "info"} <= levels["verbose"]  # -v wins over --log-level error
    assert ("debug", "auth.bearer_obtained") in _stderr_events(verbose)


def test_quiet_still_shows_a_warning(base_url, tmp_path, ids):
    # An id the simulator does not know fails its campaign: a warning, shown under -q.
    # (A line that is no id at all would be "nothing to poll", exit 2, before any request.)
    ids.write_text("0000123456-00001,00000000-0000-4000-8000-000000000000\n", encoding="utf-8")
    quiet = _run(_poll(base_url, tmp_path, "--quiet"), _environ())
    assert quiet.returncode == 1
    events = _stderr_events(quiet)
    assert ("warning", "campaign.failed") in events
    assert {level for level, _ in events} <= {"warning", "error"}


def test_quiet_and_verbose_together_are_refused(base_url, tmp_path, ids):
    result = _run(_poll(base_url, tmp_path, "-q", "-v"), _environ())
    assert result.returncode == 2
    assert b"not allowed with argument" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def _on_a_terminal(command: list[str], environ: dict[str, str]) -> tuple[int, str]:
    """Run `command` with stderr on a pseudo-terminal: its exit code and what it wrote there."""
    code, shown = run_on_a_terminal(command, environ, stdout=False)
    return code, shown.decode()


def test_json_logs_asked_for_on_a_terminal_are_json_lines(base_url, tmp_path, ids):
    code, shown = _on_a_terminal(_poll(base_url, tmp_path, "--log-format", "json"), _environ())
    assert code == 0
    lines = [json.loads(line) for line in shown.splitlines() if line.strip()]
    assert lines[0]["event"] == "run.started"
    assert lines[-1]["event"] == "run.finished"


def test_auto_on_a_terminal_is_console_lines(base_url, tmp_path, ids):
    code, shown = _on_a_terminal(_poll(base_url, tmp_path), _environ())
    assert code == 0
    assert "run.finished" in shown
    assert not any(line.startswith("{") for line in shown.splitlines())
    assert ESC in shown  # coloured, as NO_COLOR is not set


def test_no_color_console_logs_on_a_terminal_have_no_escape_byte(base_url, tmp_path, ids):
    code, shown = _on_a_terminal(_poll(base_url, tmp_path), _environ(NO_COLOR="1"))
    assert code == 0
    assert "run.finished" in shown
    assert ESC not in shown


def test_the_log_format_in_the_config_file_is_used_and_the_flag_wins(base_url, tmp_path, ids):
    config = tmp_path / "config.toml"
    config.write_text('[log]\nformat = "console"\n', encoding="utf-8")
    from_file = _run(_poll(base_url, tmp_path, "--config", str(config)), _environ())
    flag = _run(
        _poll(base_url, tmp_path, "--config", str(config), "--log-format", "json"), _environ()
    )
    assert b"run.finished" in from_file.stderr
    assert not from_file.stderr.startswith(b"{")
    assert _stderr_events(flag)[-1] == ("info", "run.finished")
