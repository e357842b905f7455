"""The two-shell simulator examples of README.md and docs/simulator.md, run as written.

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
from helpers import clean_environ
from test_docs import DOCS, RUN_BY_EXAMPLES, blocks, doc_id, read

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
