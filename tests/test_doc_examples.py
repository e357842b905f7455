"""The docs' examples run as written: the two-shell simulator examples of README.md and
docs/simulator.md, and every grep and jq line over a records or log file (below).

Each block whose paragraph names this file holds `fota-poller simulate ...` (the first shell)
and `fota-poller poll ...` (the second). The simulator is started as its own process on a
free port in place of 8080 (the one change); the poll runs with the block's own environment
variables and flags, in a fresh folder, and its output is checked.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from helpers import ROOT, clean_environ, credentials_environ, simulator_process
from test_docs import DOCS, RUN_BY_EXAMPLES, blocks, doc_id, read

from fota_poller.model.records import Record
from fota_poller.simulator import SimulatorAuthOptions

_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def examples():
    """(doc, simulate argv, poll environment, poll argv) of every block run here."""
    found = []
    for doc in DOCS:
        for _, body, before in blocks(read(doc)):
            if RUN_BY_EXAMPLES not in before:
                continue
            lines = body.replace("\\\n", " ").splitlines()
            first, second = (shlex.split(line, comments=True) for line in lines if line.strip())
            environment = dict(t.split("=", 1) for t in second if _ASSIGNMENT.match(t))
            command = [t for t in second if not _ASSIGNMENT.match(t)]
            assert first[:2] == ["fota-poller", "simulate"], first
            assert command[:2] == ["fota-poller", "poll"], command
            simulate_argv, argv = first[1:], command[1:]
            found.append((doc, simulate_argv, environment, argv))
    return found


def test_the_two_simulator_examples_are_found():
    assert {doc_id(doc) for doc, *_ in examples()} == {"README.md", "docs/simulator.md"}


def _example_id(value):
    return doc_id(value) if isinstance(value, Path) else ""


@pytest.mark.parametrize(("doc", "simulate", "environment", "poll"), examples(), ids=_example_id)
def test_the_simulator_example_runs_as_written(tmp_path, doc, simulate, environment, poll):
    assert simulate[0] == "simulate"
    # The one change: a free port in place of 8080 (given or default), the last --port winning.
    server = subprocess.Popen(
        [sys.executable, "-m", "fota_poller", *simulate, "--port", "0"],
        cwd=tmp_path,
        env=clean_environ(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        ready = server.stderr.readline()
        assert "listening on" in ready, ready
        base_url = ready.rsplit(" ", 1)[-1].strip()
        argv = [base_url if arg == "http://127.0.0.1:8080" else arg for arg in poll]
        assert base_url in argv
        polled = subprocess.run(
            [sys.executable, "-m", "fota_poller", *argv],
            cwd=tmp_path,
            env=clean_environ() | environment,
            capture_output=True,
            timeout=300,
            check=False,
        )
    finally:
        server.terminate()
        _, served = server.communicate(timeout=30)
    assert polled.returncode == 0, polled.stderr.decode()[-2000:]
    assert polled.stdout == b""  # the records went to --output
    output = tmp_path / argv[argv.index("--output") + 1]
    with output.open("rb") as records:
        *_, last = records  # streamed: the README's night is about 520 MB
    run = msgspec.json.decode(last)
    ids = tmp_path / simulate[simulate.index("--write-ids") + 1]
    assert run["record"] == "run"
    assert run["complete"] is True
    assert run["campaigns_ok"] == len(ids.read_text().splitlines()) == run["campaigns_total"]
    # The simulator's exit summary: aligned lines, not a Python dict.
    assert "simulator served:" in served
    assert "{" not in served
    output.unlink()  # half a gigabyte need not wait for the end of the session


# -- grep and jq examples, run against a real night's records and log lines ------------------
# A line of a shell block that greps or jq's a records file (`*.jsonl`) or a log file
# (`*.log`) is run by bash, the file replaced by a real one, and must print something: a
# pattern written with spaces (`"record": "device"`) matches no compact line, and fails.
_FILTERS = re.compile(r"(?:^|\|)\s*(?:grep|jq)\s")
_RECORDS_FILE = re.compile(r"(?<![\w>])[^\s'\"|]*\.jsonl\b")
_LOG_FILE = re.compile(r"(?<![\w>])[^\s'\"|]*\.log\b")


def filter_examples():
    """(doc, line) of every shell line that greps or jq's a records or log file."""
    found = []
    for doc in DOCS:
        for language, body, _ in blocks(read(doc)):
            if language not in {"sh", "bash", "shell", "console"}:
                continue
            for line in body.replace("\\\n", " ").splitlines():
                command = line.strip()
                if "fota-poller " in command or not _FILTERS.search(command):
                    continue  # a run of the poller is not a filter over its files
                if _RECORDS_FILE.search(command) or _LOG_FILE.search(command):
                    found.append((doc, command))
    return found


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A real night: its records (one campaign failed) and its JSON log lines, as files."""
    folder = tmp_path_factory.mktemp("night")
    ids = folder / "ids.txt"
    with simulator_process("--campaigns", "3", "--devices", "1-3", "--write-ids", str(ids)) as url:
        with ids.open("a", encoding="utf-8") as more:  # an id the simulator does not know
            more.write("0000123456-00001,00000000-0000-4000-8000-000000000000\n")
        with (folder / "night.log").open("wb") as log:
            done = subprocess.run(
                [sys.executable, "-m", "fota_poller", "poll", "--ids", str(ids), "--base-url",
                 url, "--output", str(folder / "night.jsonl"), "--log-format", "json"],
                env=credentials_environ(SimulatorAuthOptions()), stderr=log, timeout=60,
                check=False,
            )  # fmt: skip
    assert done.returncode == 1
    return folder / "night.jsonl", folder / "night.log"


def test_the_grep_and_jq_examples_are_found():
    assert "docs/records.md" in {doc_id(doc) for doc, _ in filter_examples()}
    assert len(filter_examples()) >= 4


@pytest.mark.parametrize(
    ("doc", "command"),
    filter_examples(),
    ids=lambda value: doc_id(value) if isinstance(value, Path) else value[:40],
)
def test_a_grep_or_jq_example_matches_real_lines(night, doc, command):
    records, log = night
    command = _RECORDS_FILE.sub(str(records), command)
    command = _LOG_FILE.sub(str(log), command)
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, timeout=30, check=False
    )
    shown = done.stdout.decode().strip()
    assert done.returncode == 0, f"{doc_id(doc)}: {command}\n{done.stderr.decode()}"
    assert shown not in {"", "0"}, f"{doc_id(doc)}: {command} matched no line"


def test_the_record_examples_are_lines_as_written():
    # Compact, in the records' key order: what a grep copied from one of them must match.
    for language, body, _ in blocks(read(ROOT / "docs" / "records.md")):
        if language == "json":
            line = body.strip().encode()
            assert msgspec.json.encode(msgspec.json.decode(line, type=Record)) == line, line[:80]
