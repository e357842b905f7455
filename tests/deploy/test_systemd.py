"""deploy/systemd and deploy/config.toml, read by systemd's own tools and run as the unit runs.

`systemd-analyze verify` reads both units as systemd 252 loads them (its unknown-key and
bad-value lines are warnings with exit 0, so any output fails); `systemd-analyze security
--offline=true` gives the exposure figure docs/operations.md quotes; `systemd-analyze
calendar` and `timespan` read the schedule and the timeout. The unit's ExecStart runs through
`/bin/sh -c` (a dated file name needs a shell), and `verify` checks that both /bin/sh and the
ExecStartPre's find exist; the poller's own path is checked by running the ExecStart's shell
command, unescaped as systemd does, against the simulator.

The production paths are mapped to a temporary folder (`PATHS`): the units and the config are
never edited otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import anyio
from deploy_files import (
    AUTH,
    CONFIG,
    DEPLOY,
    POLLER,
    SECRETS,
    install_config,
    to_tmp,
    write_credentials,
)
from helpers import clean_environ, metrics_exit_code

SERVICE = DEPLOY / "systemd" / "fota-poller.service"
TIMER = DEPLOY / "systemd" / "fota-poller.timer"


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, by key, in order (a key may repeat)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def command_line(value: str) -> list[str]:
    """An Exec*= value as systemd hands it to execve: "-" prefix off, %% and $$ unescaped.

    Only what these units use: a specifier other than %% or a backslash escape would need
    systemd's own parser, so the test refuses them.
    """
    value = value.removeprefix("-")
    assert re.search(r"%[^%]", value.replace("%%", "")) is None, f"a specifier in {value}"
    assert "\\" not in value, f"a backslash escape in {value}"
    return shlex.split(value.replace("%%", "%").replace("$$", "$"))


def deployed(root: Path, base_url: str) -> Path:
    """deploy/config.toml installed under `root`, pointed at the simulator: its path."""
    return install_config(root, base_url)


def credentials_directory(root: Path) -> Path:
    """What LoadCredential= makes: one 0600 file per credential, named by its id."""
    names = [setting.split(":", 1)[0] for setting in unit_settings(SERVICE)["LoadCredential"]]
    return write_credentials(root / "credentials", names)


def unit_environ(root: Path) -> dict[str, str]:
    """The environment systemd gives the service: its credentials and state folders."""
    state = root / "state"
    return clean_environ() | {
        "CREDENTIALS_DIRECTORY": str(root / "credentials"),
        "STATE_DIRECTORY": f"{state}:{state / 'runs'}",
    }


async def check(root: Path, config: Path) -> tuple[int, list[str]]:
    """`fota-poller check --config CONFIG` in the unit's environment: exit code, its lines."""
    result = await anyio.run_process(
        [POLLER, "check", "--config", str(config)], env=unit_environ(root), check=False
    )
    return result.returncode, (result.stdout + result.stderr).decode().splitlines()


def analyze(
    tool: Callable[[str], str], *args: str, cwd: Path | None = None, tz: str | None = None
) -> tuple[int, str]:
    """`systemd-analyze ARGS` (in time zone `tz`): its exit code and everything it printed."""
    environ = os.environ | ({"TZ": tz} if tz else {})
    result = subprocess.run(
        [tool("systemd-analyze"), *args],
        capture_output=True, text=True, cwd=cwd, env=environ, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def microseconds(tool: Callable[[str], str], span: str) -> int:
    """A systemd time span (`4h15m`) as systemd reads it."""
    code, output = analyze(tool, "timespan", span)
    assert code == 0, output
    return int(re.search(r"μs: (\d+)", output).group(1))  # type: ignore[union-attr]


def test_both_units_load_without_a_word_from_systemd_analyze_verify(tool, tmp_path):
    for unit in (SERVICE, TIMER):
        shutil.copy(unit, tmp_path)
    code, output = analyze(
        tool, "verify", "--man=no", "fota-poller.service", "fota-poller.timer", cwd=tmp_path
    )
    assert (code, output) == (0, "")


def test_the_service_is_exposed_at_most_3_0_and_ok(tool):
    code, output = analyze(tool, "security", "--offline=true", str(SERVICE))
    overall = re.search(r"Overall exposure level for fota-poller\.service: ([\d.]+) (\w+)", output)
    assert code == 0, output
    assert overall is not None, output
    assert float(overall.group(1)) <= 3.0, output
    assert overall.group(2) == "OK", output


def test_the_timer_fires_at_0215_utc_and_the_run_ends_well_before_the_next(tool):
    timer = unit_settings(TIMER)
    service = unit_settings(SERVICE)
    (calendar,) = timer["OnCalendar"]
    # Across New York's spring DST night (2027-03-14, when 02:15 local does not exist): three
    # nights in a row, each at 02:15 UTC, whatever the host's zone.
    code, output = analyze(
        tool, "calendar", "--iterations=3", "--base-time=2027-03-13 12:00 UTC", calendar,
        tz="America/New_York",
    )  # fmt: skip
    assert code == 0, output
    elapses = re.findall(r"\(in UTC\): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", output)
    assert elapses == [f"2027-03-{day} 02:15:00" for day in (14, 15, 16)], output
    assert timer["Persistent"] == ["true"]

    # The deadline the poller is given, and the time systemd allows the whole run.
    (exec_start,) = service["ExecStart"]
    script = command_line(exec_start)[-1]
    deadline = re.search(r"--deadline (\S+)", script).group(1)  # type: ignore[union-attr]
    assert deadline == tomllib.loads(CONFIG.read_text())["poll"]["deadline"]
    (timeout,) = service["TimeoutStartSec"]
    (delay,) = timer["RandomizedDelaySec"]
    minutes = 60 * 1_000_000
    # Past the deadline: the requests in flight, the logout, the commit and the metrics file.
    assert microseconds(tool, timeout) - microseconds(tool, deadline) >= 10 * minutes
    # The latest start plus the whole allowance ends hours before the next night's start.
    assert microseconds(tool, delay) + microseconds(tool, timeout) <= 20 * 60 * minutes


def test_the_unit_loads_every_credential_the_config_names():
    loaded = {setting.split(":", 1)[0] for setting in unit_settings(SERVICE)["LoadCredential"]}
    named = set(tomllib.loads(CONFIG.read_text())["auth"].values())
    assert loaded == named == set(SECRETS)


async def test_check_with_the_units_credentials_directory_passes(simulator, tmp_path):
    credentials_directory(tmp_path)
    async with simulator(auth=AUTH, campaigns=3) as sim:
        config = deployed(tmp_path, sim.base_url)
        code, lines = await check(tmp_path, config)
        stats = sim.auth.stats

    assert code == 0, lines
    # The steps (the config's values and their sources are the indented lines): every one ok.
    steps = [line.split()[:2] for line in lines if not line[:1].isspace()]
    assert all(verdict == "ok" for verdict, _ in steps), lines
    required = ("config", "credentials", "connect", "token", "session", "logout")
    assert set(required) <= {step for _, step in steps}, lines
    # Each secret is read from the unit's credentials directory, never shown.
    folder = tmp_path / "credentials"
    for key, name in (("app_key", "app-key"), ("app_secret", "app-secret"),
                      ("username", "username"), ("password", "password")):  # fmt: skip
        assert f"  auth.{key} = *** (file {folder / f'thingspace-{name}'})" in lines, lines
    assert (stats.token_requests, stats.login_requests, stats.logout_requests) == (1, 1, 1)


async def test_check_with_a_credential_file_missing_fails_naming_it(simulator, tmp_path):
    (credentials_directory(tmp_path) / "thingspace-password").unlink()
    async with simulator(auth=AUTH, campaigns=3) as sim:
        config = deployed(tmp_path, sim.base_url)
        code, lines = await check(tmp_path, config)
        stats = sim.auth.stats

    assert code == 2, lines
    missing = tmp_path / "credentials" / "thingspace-password"
    assert lines[-1] == (
        f"FAIL credentials cannot read auth.password_file {missing}: No such file or directory"
    )
    assert stats.token_requests == 0


async def test_the_units_commands_as_systemd_runs_them_write_the_nights_dated_file(
    simulator, tmp_path
):
    """ExecStartPre's cleanup, then ExecStart's shell line: a dated file, the metrics file."""
    service = unit_settings(SERVICE)
    credentials_directory(tmp_path)
    # The shell names the file by `date -u +%F`: a `date` that says the night is 2026-12-07.
    shims = tmp_path / "bin"
    shims.mkdir()
    date = shims / "date"
    date.write_text(f'#!/bin/sh\nexec {shutil.which("date")} -d "2026-12-07 02:15 UTC" "$@"\n')
    date.chmod(0o755)
    environ = unit_environ(tmp_path) | {"PATH": f"{shims}:/usr/sbin:/usr/bin:/sbin:/bin"}
    async with simulator(auth=AUTH, campaigns=6, devices_max=5) as sim:
        deployed(tmp_path, sim.base_url)
        runs = tmp_path / "state" / "runs"
        old, recent = runs / "2026-10-01.jsonl", runs / "2026-11-30.jsonl"
        for path, days in ((old, 40), (recent, 7)):
            path.write_text("{}\n")
            os.utime(path, (path.stat().st_atime, path.stat().st_mtime - days * 86400))
        for setting in (*service["ExecStartPre"], *service["ExecStart"]):
            command = [to_tmp(word, tmp_path) for word in command_line(setting)]
            result = await anyio.run_process(command, env=environ, check=False)
            assert result.returncode == 0, result.stderr.decode()[-3000:]

    assert sorted(path.name for path in runs.iterdir()) == ["2026-11-30.jsonl", "2026-12-07.jsonl"]
    run = json.loads((runs / "2026-12-07.jsonl").read_bytes().splitlines()[-1])
    assert (run["record"], run["complete"], run["campaigns_failed"]) == ("run", True, 0)
    assert metrics_exit_code(tmp_path / "textfile" / "fota_poller.prom") == 0
    assert command_line(service["ExecStart"][0])[:2] == ["/bin/sh", "-c"]
    assert command_line(service["ExecStart"][0])[2].startswith(
        "exec /opt/fota-poller/bin/fota-poller poll "
    )
