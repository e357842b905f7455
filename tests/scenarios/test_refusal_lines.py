"""Issue 20, acceptance 5: with `--log-format json`, every stderr line of every refused or
failed night is a JSON object carrying `run_id` and `level`: refusals (2, 75) included, as
are auth (3), an API never heard from (4) and an output that cannot be written (74).

A log pipeline's `| json` must parse the one line that explains a failed night.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from helpers import clean_environ, credentials_environ, token_environ

from fota_poller.regular_files import hold_lock
from fota_poller.simulator import SimulatorAuthOptions

TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-r20", "THINGSPACE_SESSION_TOKEN": "session-r20"}


async def poll_json(*args: str, env: dict[str, str], fsize: int | None = None) -> tuple[int, str]:
    """`fota-poller poll ARGS --log-format json` as a process: its exit code and stderr."""
    setup = []
    if fsize is not None:  # writes past it fail with EFBIG (Python ignores SIGXFSZ): exit 74
        setup.append(
            f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, {(fsize, fsize)})"
        )
    setup.append("import sys; from fota_poller.cli import main; sys.exit(main(sys.argv[1:]))")
    command = [sys.executable, "-c", "\n".join(setup), "poll", *args, "--log-format", "json"]
    done = await anyio.run_process(command, env=env, check=False)
    return done.returncode, done.stderr.decode()


def assert_every_line_is_json_with_run_id_and_level(stderr: str) -> list[dict[str, object]]:
    lines = stderr.splitlines()
    assert lines, "no line at all"
    events = [json.loads(line) for line in lines]  # a plain line fails here
    for event in events:
        assert event["run_id"], event
        assert event["level"] in {"debug", "info", "warning", "error"}, event
        assert event["timestamp"], event
    assert len({event["run_id"] for event in events}) == 1  # one run, one id
    return events


def write_ids(tmp_path: Path, simulator) -> Path:
    ids = tmp_path / "ids.txt"
    simulator.catalog.write_ids(ids)
    return ids


@pytest.mark.parametrize(
    "refusal",
    ["bad config key", "no credentials", "missing id list", "missing output folder"],
)
async def test_a_refusal_before_the_run_is_one_json_line(tmp_path, refusal) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("0000123456-00001,e3a8d1b2-5c4f-4a6e-9b7d-0c1e2f3a4b5c\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nconcurency = 3\n", encoding="utf-8")
    args = ["--ids", str(ids), "--base-url", "http://127.0.0.1:9"]
    env = clean_environ() | TOKENS
    if refusal == "bad config key":
        args += ["--config", str(config)]
    elif refusal == "no credentials":
        env = clean_environ()
    elif refusal == "missing id list":
        args[1] = str(tmp_path / "nope.txt")
    else:
        args += ["--output", str(tmp_path / "nowhere" / "out.jsonl")]

    code, stderr = await poll_json(*args, env=env)

    assert code == 2, stderr
    [event] = assert_every_line_is_json_with_run_id_and_level(stderr)
    assert (event["event"], event["level"], event["exit_code"]) == ("run.refused", "error", 2)


async def test_a_lock_held_by_another_run_is_one_json_line_exit_75(tmp_path, simulator) -> None:
    lock = tmp_path / "poll.lock"
    async with simulator(campaigns=2) as sim:
        ids = write_ids(tmp_path, sim)
        with hold_lock(str(lock)):
            code, stderr = await poll_json(
                "--ids", str(ids), "--base-url", sim.base_url, "--lock-file", str(lock),
                env=token_environ(sim.options),
            )  # fmt: skip
    assert code == 75, stderr
    [event] = assert_every_line_is_json_with_run_id_and_level(stderr)
    assert (event["event"], event["exit_code"]) == ("run.refused", 75)


async def test_refused_credentials_exit_3_in_json_lines(tmp_path, simulator) -> None:
    auth = SimulatorAuthOptions()
    async with simulator(campaigns=2, auth=auth) as sim:
        ids = write_ids(tmp_path, sim)
        env = credentials_environ(auth) | {"THINGSPACE_PASSWORD": "not-the-password"}
        code, stderr = await poll_json("--ids", str(ids), "--base-url", sim.base_url, env=env)
    assert code == 3, stderr
    events = assert_every_line_is_json_with_run_id_and_level(stderr)
    assert "auth.failed" in [event["event"] for event in events]


async def test_an_api_never_heard_from_exits_4_in_json_lines(tmp_path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("0000123456-00001,e3a8d1b2-5c4f-4a6e-9b7d-0c1e2f3a4b5c\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nmax_startup_outage_s = 0.5\n", encoding="utf-8")
    code, stderr = await poll_json(
        "--ids", str(ids), "--base-url", "http://127.0.0.1:9", "--config", str(config),
        env=clean_environ() | TOKENS,
    )  # fmt: skip
    assert code == 4, stderr
    assert_every_line_is_json_with_run_id_and_level(stderr)


async def test_an_output_that_cannot_be_written_exits_74_in_json_lines(tmp_path, simulator) -> None:
    async with simulator(campaigns=20, devices_min=50, devices_max=50) as sim:
        ids = write_ids(tmp_path, sim)
        code, stderr = await poll_json(
            "--ids", str(ids), "--base-url", sim.base_url,
            "--output", str(tmp_path / "out.jsonl"),
            env=token_environ(sim.options), fsize=4096,
        )  # fmt: skip
    assert code == 74, stderr
    events = assert_every_line_is_json_with_run_id_and_level(stderr)
    assert any(event["level"] == "error" for event in events)
