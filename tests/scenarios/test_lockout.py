"""Never locked, across nights: a rejected login is remembered, so runs do not add up to five.

Each run is a `fota-poller` process against the simulator, whose auth routes lock the
account after five consecutive failed logins (as ThingSpace does) and count every login.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import msgspec
from helpers import assert_calm, credentials_environ

from fota_poller.simulator import RunningSimulator, SimulatorAuthOptions

AUTH = SimulatorAuthOptions()
WRONG = "not-the-password"


async def run(sim: RunningSimulator, tmp_path: Path, command: str, *flags: str, password: str):
    """`poll` (over the simulator's ids) or `check` as a process: (exit code, stdout, stderr)."""
    env = credentials_environ(AUTH) | {"THINGSPACE_PASSWORD": password}
    args = [sys.executable, "-m", "fota_poller", command, "--base-url", sim.base_url, *flags]
    if command == "poll":
        args += ["--ids", str(tmp_path / "ids.txt"), "--output", str(tmp_path / "out.jsonl")]
        args += ["--rate", "0", "--log-format", "json"]
    result = await anyio.run_process(args, env=env, check=False)
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert_calm(stderr)
    assert password not in stdout + stderr
    return result.returncode, stdout, stderr


def refusal_lines(stdout: str, stderr: str) -> list[str]:
    """The lines saying that a remembered login is not tried again."""
    lines = stdout.splitlines()
    for line in stderr.splitlines():
        event = json.loads(line)
        if event["event"] == "auth.failed":
            lines.append(event["error"])
    return [line for line in lines if "not tried again" in line]


async def test_ten_runs_with_a_wrong_password_make_one_login_and_never_lock(tmp_path, simulator):
    async with simulator(campaigns=2, auth=AUTH) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        codes = []
        for night in range(10):
            command = "check" if night % 3 == 1 else "poll"
            code, stdout, stderr = await run(sim, tmp_path, command, password=WRONG)
            codes.append(code)
            if night:
                lines = refusal_lines(stdout, stderr)
                assert lines  # `check`: its FAIL line, and the log line both say it
                for line in lines:
                    assert "at 20" in line  # since when
                    assert "fota-poller check --login" in line  # how to clear it
        stats = sim.auth.stats
        assert codes == [3] * 10
        assert stats.login_requests == 1
        assert not stats.locked

        # The password corrected: the next run logs in and polls.
        code, _, stderr = await run(sim, tmp_path, "poll", password=AUTH.password)
        assert code == 0, stderr
        assert (stats.login_requests, stats.sessions_issued) == (2, 1)

        # The wrong one again: still remembered, not tried.
        code, _, _ = await run(sim, tmp_path, "poll", password=WRONG)
        assert (code, stats.login_requests) == (3, 2)


async def test_check_login_tries_exactly_once_and_a_success_clears_the_memory(tmp_path, simulator):
    async with simulator(campaigns=2, auth=AUTH) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        stats = sim.auth.stats
        code, _, _ = await run(sim, tmp_path, "poll", password=WRONG)
        assert (code, stats.login_requests) == (3, 1)

        # The operator says so, the password still wrong: exactly one more attempt.
        code, stdout, _ = await run(sim, tmp_path, "check", "--login", password=WRONG)
        assert code == 3
        assert "the session login was rejected" in stdout
        assert stats.login_requests == 2
        for command in ("poll", "check", "poll"):
            code, _, _ = await run(sim, tmp_path, command, password=WRONG)
            assert code == 3
        assert stats.login_requests == 2

        # The account's password set to the one the runs hold: refused until the operator
        # clears the memory; then the next runs log in.
        sim.auth.options = msgspec.structs.replace(AUTH, password=WRONG)
        code, _, _ = await run(sim, tmp_path, "poll", password=WRONG)
        assert (code, stats.login_requests) == (3, 2)
        code, stdout, _ = await run(sim, tmp_path, "check", "--login", password=WRONG)
        assert code == 0, stdout
        code, _, stderr = await run(sim, tmp_path, "poll", password=WRONG)
        assert code == 0, stderr
        assert (stats.login_requests, stats.login_failures, stats.sessions_issued) == (4, 2, 2)
        assert not stats.locked


async def test_with_a_state_database_the_memory_is_kept_beside_it_and_in_the_users_folder(
    tmp_path, simulator
):
    state = tmp_path / "state.db"
    async with simulator(campaigns=2, auth=AUTH) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        code, _, _ = await run(sim, tmp_path, "poll", "--state", str(state), password=WRONG)
        assert code == 3
        memory = tmp_path / "state.db.login-failures"
        assert memory.stat().st_mode & 0o777 == 0o600
        assert WRONG.encode() not in memory.read_bytes()
        # check finds it with the same --state, and without it in the copy kept in the
        # user's own folder ($XDG_STATE_HOME here).
        for flags in (["--state", str(state)], []):
            code, stdout, _ = await run(sim, tmp_path, "check", *flags, password=WRONG)
            assert code == 3
            assert "not tried again" in stdout
        assert sim.auth.stats.login_requests == 1
        # And the copy is cleared with the rest: one try, which succeeds, then a poll logs in.
        sim.auth.options = msgspec.structs.replace(AUTH, password=WRONG)
        code, stdout, _ = await run(sim, tmp_path, "check", "--login", password=WRONG)
        assert code == 0, stdout
        code, _, stderr = await run(sim, tmp_path, "poll", "--state", str(state), password=WRONG)
        assert code == 0, stderr
        assert sim.auth.stats.login_requests == 3
