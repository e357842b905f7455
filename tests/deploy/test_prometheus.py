"""deploy/prometheus/ read by promtool, as Prometheus will read it.

The rules load (`promtool check rules`) and every alert fires and stays quiet where it
should on two hosts (`promtool test rules`); and the metrics file of a real run of every
exit code passes `promtool check metrics` (format and lint: a gauge named like a counter, a
missing HELP), so the rules read what the poller writes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import (
    ACCOUNT,
    ROOT,
    UPGRADE,
    clean_environ,
    credentials_environ,
    metrics_exit_code,
    token_environ,
    watched_poller,
    write_unknown_ids,
)

from fota_poller.regular_files import hold_lock
from fota_poller.simulator import SimulatorAuthOptions

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "fota-poller.rules.yml"
RULE_TESTS = PROMETHEUS / "fota-poller.rules.test.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-p20", "THINGSPACE_SESSION_TOKEN": "session-p20"}
# Every exit of `poll` that writes a metrics file (README.md, "Exit codes"); 130 stands for
# 129, 130 and 143, one path.
EXIT_CODES = [0, 1, 2, 3, 4, 74, 75, 130, 141]


def alerts(text: str) -> dict[str, str]:
    """Each alert of a rules file, by name: its block of lines."""
    blocks = re.split(r"^      - alert: ", text, flags=re.MULTILINE)[1:]
    return {block.split("\n", 1)[0].strip(): block for block in blocks}


def promtool(tool: Callable[[str], str], *args: str, stdin: bytes | None = None) -> str:
    """Run promtool; its output, the test failing with it when promtool exits non-zero."""
    done = subprocess.run(
        [tool("promtool"), *args], input=stdin, capture_output=True, check=False, timeout=60
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, output
    return output


# -- the rules ------------------------------------------------------------------------------


def test_the_rules_load(tool) -> None:
    output = promtool(tool, "check", "rules", str(RULES))
    assert f"SUCCESS: {len(alerts(RULES.read_text()))} rules found" in output


def test_every_alert_fires_and_stays_quiet_where_it_should(tool) -> None:
    output = promtool(tool, "test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in output


def test_the_rule_tests_have_a_firing_and_a_quiet_case_of_every_alert() -> None:
    tests = RULE_TESTS.read_text()
    quiet = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts: \[\]", tests))
    firing = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels:", tests))
    names = set(alerts(RULES.read_text()))
    assert names - quiet == set(), "no quiet case"
    assert names - firing == set(), "no firing case"
    assert (quiet | firing) - names == set(), "a test of no rule"


def test_every_alert_has_a_for_a_severity_annotations_and_a_runbook_in_the_docs() -> None:
    runbook = set(re.findall(r"^### (FotaPoller\w+)$", OPERATIONS.read_text(), re.MULTILINE))
    for name, block in alerts(RULES.read_text()).items():
        assert re.search(r"^        for: \d+[mh]$", block, re.MULTILINE), name
        assert re.search(r"^          severity: (critical|warning|info)$", block, re.MULTILINE)
        assert "          summary: " in block, name
        assert "          description: " in block, name
        if name != "FotaPollerMetricsAbsent":  # absent() has no instance to name
            assert "{{ $labels.instance }}" in block, name
        link = re.search(r"^          runbook_url: docs/operations\.md#(\w+)$", block, re.MULTILINE)
        assert link is not None, name
        assert link[1] == name.lower(), name
        assert name in runbook, f"{name} has no runbook section in docs/operations.md"


# -- metrics files of real runs -------------------------------------------------------------


async def poll(
    *args: str, env: dict[str, str], stdout: int | None = None, fsize: int | None = None
) -> int:
    """`fota-poller poll ARGS` as a process (file writes capped at `fsize` bytes): its exit."""
    setup = []
    if fsize is not None:  # writes past it fail with EFBIG (Python ignores SIGXFSZ): exit 74
        setup.append(f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, {(fsize,) * 2})")
    setup.append("import sys; from fota_poller.cli import main; sys.exit(main(sys.argv[1:]))")
    command = [sys.executable, "-c", "\n".join(setup), "poll", *args]
    done = await anyio.run_process(
        command, env=env, check=False, stdout=stdout if stdout is not None else subprocess.PIPE
    )
    return done.returncode


async def night_ending_in(code: int, folder: Path, simulator) -> tuple[int, Path]:
    """A real run that exits `code`, with a metrics file: (its exit code, the file).

    Each exit is reached the cheapest way the suite has (tests/scenarios/test_refusal_lines.py,
    test_signals.py, test_closed_streams.py).
    """
    metrics = folder / "fota_poller.prom"
    flags = ["--ids", str(folder / "ids.txt"), "--metrics-file", str(metrics)]
    flags += ["--log-format", "json"]
    if code in (2, 4):
        exit_code = await without_an_api(code, folder, flags)
    elif code == 130:
        exit_code = await second_signal(folder, flags, simulator)
    else:
        exit_code = await against_the_simulator(code, folder, flags, simulator)
    return exit_code, metrics


async def without_an_api(code: int, folder: Path, flags: list[str]) -> int:
    """2: an id list that is not there; 4: an API never heard from for its 0.5 s outage."""
    (folder / "ids.txt").write_text(f"{ACCOUNT},{UPGRADE}\n", encoding="utf-8")
    config = folder / "config.toml"
    config.write_text("[poll]\nmax_startup_outage_s = 0.5\n", encoding="utf-8")
    if code == 2:
        flags[1] = str(folder / "no-such-list.txt")
    flags += ["--base-url", "http://127.0.0.1:9", "--config", str(config)]
    return await poll(*flags, env=clean_environ() | TOKENS)


async def second_signal(folder: Path, flags: list[str], simulator) -> int:
    """130: a second SIGINT while 100,000 ids still wait for their record."""
    write_unknown_ids(folder / "ids.txt", ACCOUNT, 100_000)
    config = folder / "config.toml"
    config.write_text("[poll]\ngrace_s = 0\n", encoding="utf-8")
    async with simulator(campaigns=1) as sim:
        args = ["poll", *flags, "--config", str(config), "--base-url", sim.base_url]
        args += ["--output", str(folder / "night.jsonl"), "--log-level", "info"]
        async with watched_poller(*args, env=token_environ(sim.options)) as poller:
            await poller.wait_for("run.started")
            poller.signal(signal.SIGINT)
            await poller.wait_for("run.signal_stop")
            poller.signal(signal.SIGINT)
            exit_code, _ = await poller.finish()
    return exit_code


async def against_the_simulator(code: int, folder: Path, flags: list[str], simulator) -> int:
    """0 (with a state database: every metric there is), 1, 3, 74, 75 and 141."""
    auth = SimulatorAuthOptions()
    ids = folder / "ids.txt"
    async with simulator(campaigns=20 if code == 74 else 3, auth=auth) as sim:
        sim.catalog.write_ids(ids)
        flags += ["--base-url", sim.base_url]
        env = token_environ(sim.options)
        output = ["--output", str(folder / "night.jsonl")]
        extra: dict[str, Any] = {}
        if code == 0:
            output += ["--state", str(folder / "state.db")]
        elif code == 1:  # two upgrade ids ThingSpace does not know: two failed campaigns
            write_unknown_ids(folder / "unknown.txt", ACCOUNT, 2)
            with ids.open("a", encoding="utf-8") as lines:
                lines.write((folder / "unknown.txt").read_text(encoding="utf-8"))
        elif code == 3:
            env = credentials_environ(auth) | {"THINGSPACE_PASSWORD": "not-the-password"}
        elif code == 74:  # the output outgrows a 16 kB cap; a metrics file is ~4 kB
            extra["fsize"] = 16 * 1024
        elif code == 75:
            output += ["--lock-file", str(folder / "poll.lock")]
        if code == 141:  # no --output, and the reader of stdout gone
            read_end, write_end = os.pipe()
            os.close(read_end)
            try:
                return await poll(*flags, env=env, stdout=write_end)
            finally:
                os.close(write_end)
        with hold_lock(str(folder / "poll.lock") if code == 75 else None):
            return await poll(*flags, *output, env=env, **extra)


@pytest.mark.parametrize("code", EXIT_CODES)
async def test_the_metrics_file_of_a_real_run_passes_promtool_check_metrics(
    code, tool, tmp_path, simulator
) -> None:
    exit_code, metrics = await night_ending_in(code, tmp_path, simulator)

    assert exit_code == code
    assert metrics_exit_code(metrics) == code
    # Lint problems are failures too: promtool says nothing about a good file.
    assert promtool(tool, "check", "metrics", stdin=metrics.read_bytes()) == ""
