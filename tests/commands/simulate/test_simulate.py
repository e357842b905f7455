"""`fota-poller simulate` as an operator meets it: a busy port, its help, its exit summary."""

from __future__ import annotations

import socket

from helpers import run_cli

from fota_poller.cli import build_parser
from fota_poller.commands.simulate import exit_summary
from fota_poller.simulator import SimulatorStats


def test_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["simulate", "--port", str(port)])
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert f"127.0.0.1:{port}" in line
    assert "address already in use" in line


def test_simulate_help_shows_every_default() -> None:
    simulate = build_parser()._subparsers._group_actions[0].choices["simulate"]  # type: ignore[union-attr]
    formatter = simulate._get_formatter()
    text = " ".join(run_cli(["simulate", "--help"]).stdout.decode().split())
    for action in simulate._actions:
        if action.option_strings == ["-h", "--help"]:
            continue
        described = formatter._get_help_string(action)
        assert "default" in described, action.option_strings
        shown = " ".join(described[described.rindex("(default") :].split())
        assert shown in text, shown


def test_the_exit_summary_is_aligned_lines() -> None:
    stats = SimulatorStats()
    stats.requests_total = 1234
    stats.requests_by_status = {200: 1200, 429: 30, 503: 4}
    stats.faults_by_kind = {"429": 30, "outage": 4}
    lines = exit_summary(stats).splitlines()
    assert lines[0] == "simulator served:"
    assert "{" not in exit_summary(stats)
    ends = {len(line) for line in lines[1:]}
    assert len(ends) == 1  # right-aligned counts
    assert any(line.split() == ["requests", "1,234"] for line in lines)
    assert any(line.split() == ["status", "429", "30"] for line in lines)
    assert any(line.split() == ["faults", "34"] for line in lines)
