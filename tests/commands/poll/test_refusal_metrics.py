"""Issue 20: the metrics file is rewritten for every exit of `poll`, refusals included.

A config that cannot be read (the metrics file then comes from `--metrics-file`), an id list
that is not there, the lock held by another run: monitoring's `FotaPollerRunFailed` sees
each, with its exit code, where before the file kept the last good night's figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import clean_environ, metrics_exit_code, run_cli

from fota_poller.regular_files import hold_lock

TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-m20", "THINGSPACE_SESSION_TOKEN": "session-m20"}
GOOD_NIGHT = "fota_poller_last_run_exit_code 0.0\n"


@pytest.fixture
def night(tmp_path: Path) -> dict[str, Path]:
    ids = tmp_path / "ids.txt"
    ids.write_text("0000123456-00001,e3a8d1b2-5c4f-4a6e-9b7d-0c1e2f3a4b5c\n", encoding="utf-8")
    metrics = tmp_path / "poll.prom"
    metrics.write_text(GOOD_NIGHT, encoding="utf-8")  # the last night's, a success
    return {"ids": ids, "metrics": metrics, "folder": tmp_path}


@pytest.mark.parametrize("refusal", ["bad config key", "missing id list", "lock held"])
def test_a_refused_run_rewrites_the_metrics_file_with_its_exit_code(night, refusal) -> None:
    args = ["poll", "--ids", str(night["ids"]), "--base-url", "http://127.0.0.1:9"]
    args += ["--metrics-file", str(night["metrics"])]
    expected = 2
    lock = night["folder"] / "poll.lock"
    if refusal == "bad config key":
        config = night["folder"] / "config.toml"
        config.write_text("[poll]\nconcurency = 3\n", encoding="utf-8")
        args += ["--config", str(config)]
    elif refusal == "missing id list":
        args[2] = str(night["folder"] / "nope.txt")
    else:
        args += ["--lock-file", str(lock)]
        expected = 75

    with hold_lock(str(lock) if refusal == "lock held" else None):
        done = run_cli(args, env=clean_environ() | TOKENS)

    assert done.returncode == expected, done.stderr
    assert metrics_exit_code(night["metrics"]) == expected


def test_a_metrics_path_that_is_no_file_is_left_as_it_is_on_a_refusal(night) -> None:
    folder = night["folder"] / "metrics-folder"
    folder.mkdir()
    args = ["poll", "--ids", str(night["folder"] / "nope.txt"), "--metrics-file", str(folder)]
    done = run_cli(args, env=clean_environ() | TOKENS)
    assert done.returncode == 2
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_a_refusal_on_a_broken_stderr_counts_the_log_lines_it_lost(night) -> None:
    # No credentials, -v and a log reader gone: the config.read line is lost before the
    # refusal, and the refusal's metrics file counts it.
    read_end, write_end = os.pipe()
    os.close(read_end)
    args = ["poll", "-v", "--ids", str(night["ids"]), "--metrics-file", str(night["metrics"])]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fota_poller", *args],
            env=clean_environ(),
            stderr=write_end,
            stdout=subprocess.PIPE,
            check=False,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 2
    assert metrics_exit_code(night["metrics"]) == 2
    dropped = [
        line
        for line in night["metrics"].read_text().splitlines()
        if line.startswith("fota_poller_last_run_log_lines_dropped ")
    ]
    assert dropped
    assert float(dropped[0].split()[1]) >= 1
