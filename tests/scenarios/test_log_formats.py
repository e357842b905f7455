"""Issue 20: the machine log formats through the real CLI against a simulator process.

`--log-format journal` (and `auto` when `JOURNAL_STREAM` names stderr, as systemd sets it
for a service whose stderr is the journal) writes every line as `<N>` then one JSON object;
`--log-format ecs` writes Elastic Common Schema names. A refusal's line too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import credentials_environ, simulator_process

from fota_poller.observe.logs import JOURNAL_PRIORITIES
from fota_poller.simulator import SimulatorAuthOptions

JOURNAL_LINE = re.compile(r"^<([0-7])>(\{.*\})$")
UNKNOWN_ID = "0000123456-00001,00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A simulator process serving 3 small campaigns: its base URL and its id lines."""
    ids = tmp_path_factory.mktemp("sim") / "ids.txt"
    with simulator_process("--campaigns", "3", "--devices", "1-3", "--write-ids", str(ids)) as url:
        yield url, ids.read_text(encoding="utf-8")


def poll(
    tmp_path: Path, *args: str, journal_stream: str | None = None, ids: str = ""
) -> tuple[int, str]:
    """`fota-poller poll ARGS` with stderr in a file: its exit code and that file's text.

    `journal_stream` is JOURNAL_STREAM's value; "stderr" names the stderr file itself.
    """
    (tmp_path / "ids.txt").write_text(ids, encoding="utf-8")
    stderr_path = tmp_path / "stderr.log"
    env = credentials_environ(SimulatorAuthOptions())
    with stderr_path.open("wb") as stderr:
        if journal_stream == "stderr":
            status = os.fstat(stderr.fileno())
            journal_stream = f"{status.st_dev}:{status.st_ino}"
        if journal_stream is not None:
            env["JOURNAL_STREAM"] = journal_stream
        done = subprocess.run(
            [sys.executable, "-m", "fota_poller", "poll", "--ids", str(tmp_path / "ids.txt"),
             "--output", str(tmp_path / "out.jsonl"), "--rate", "0", *args],
            env=env, stderr=stderr, stdout=subprocess.DEVNULL, timeout=60, check=False,
        )  # fmt: skip
    return done.returncode, stderr_path.read_text(encoding="utf-8")


def journal_events(stderr: str) -> list[dict[str, object]]:
    """Every line `<N>{json}`, N the priority of its level; the events, checked."""
    lines = stderr.splitlines()
    assert lines
    events = []
    for line in lines:
        match = JOURNAL_LINE.match(line)
        assert match, line
        event = json.loads(match[2])
        assert int(match[1]) == JOURNAL_PRIORITIES[str(event["level"])], line
        assert event["run_id"], line
        assert event["event"], line
        assert event["timestamp"], line
        events.append(event)
    assert len({event["run_id"] for event in events}) == 1
    return events


def test_every_line_of_a_journal_night_has_its_priority_then_json(tmp_path, simulator):
    base_url, ids = simulator
    good, good_err = poll(tmp_path, "--base-url", base_url, "--log-format", "journal", ids=ids)
    failed, failed_err = poll(
        tmp_path, "--base-url", base_url, "--log-format", "journal", ids=ids + UNKNOWN_ID + "\n"
    )
    assert (good, failed) == (0, 1)
    assert journal_events(good_err)[-1]["event"] == "run.finished"
    levels = {(event["level"], event["event"]) for event in journal_events(failed_err)}
    assert ("warning", "campaign.failed") in levels  # <4>: `journalctl -p warning` finds it


def test_a_refusal_in_journal_format_is_one_error_line(tmp_path):
    code, stderr = poll(tmp_path, "--log-format", "journal", "--lock-file", str(tmp_path / "no/l"))
    assert code == 2
    [event] = journal_events(stderr)
    assert stderr.startswith("<3>")
    assert (event["event"], event["exit_code"]) == ("run.refused", 2)


@pytest.mark.parametrize(
    ("journal_stream", "journal"),
    [("stderr", True), ("another file", False), ("garbage", False)],
)
def test_auto_writes_journal_lines_only_when_journal_stream_is_stderr(
    tmp_path, simulator, journal_stream, journal
):
    base_url, ids = simulator
    if journal_stream == "another file":
        status = tmp_path.stat()  # a real device:inode, but not stderr's
        journal_stream = f"{status.st_dev}:{status.st_ino}"
    code, stderr = poll(tmp_path, "--base-url", base_url, journal_stream=journal_stream, ids=ids)
    assert code == 0, stderr
    if journal:
        assert journal_events(stderr)[-1]["event"] == "run.finished"
    else:
        events = [json.loads(line) for line in stderr.splitlines()]  # plain JSON, no prefix
        assert events[-1]["event"] == "run.finished"


def test_auto_refusal_on_the_journal_has_the_prefix(tmp_path):
    code, stderr = poll(tmp_path, "--lock-file", str(tmp_path / "no/l"), journal_stream="stderr")
    assert code == 2
    [event] = journal_events(stderr)
    assert event["event"] == "run.refused"


def ecs_events(stderr: str) -> list[dict[str, object]]:
    events = [json.loads(line) for line in stderr.splitlines()]
    assert events
    for event in events:
        assert event["@timestamp"], event
        assert event["log.level"] in JOURNAL_PRIORITIES, event
        assert event["message"] == event["event"]["action"], event  # type: ignore[index]
        assert event["fota_poller"]["run_id"], event  # type: ignore[index]
    return events


def test_ecs_lines_of_a_night_and_a_refusal(tmp_path, simulator):
    base_url, ids = simulator
    code, stderr = poll(tmp_path, "--base-url", base_url, "--log-format", "ecs", ids=ids)
    assert code == 0, stderr
    assert ecs_events(stderr)[-1]["message"] == "run.finished"
    code, stderr = poll(tmp_path, "--log-format", "ecs", "--lock-file", str(tmp_path / "no/l"))
    assert code == 2
    [refusal] = ecs_events(stderr)
    assert (refusal["log.level"], refusal["message"]) == ("error", "run.refused")
    assert refusal["process"] == {"exit_code": 2}
    assert refusal["error"]["message"]  # type: ignore[index]
