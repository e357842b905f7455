"""The benchmark runs end to end on a tiny size, so it does not rot; no figure is asserted."""

import json
import os
import subprocess
import sys

from helpers import ROOT

BENCH = ROOT / "bench" / "run.py"
# The bench's own way to start its server, and its tokens; appended: it shadows nothing.
sys.path.append(str(BENCH.parent))

from prerendered_server import TOKENS, start_prerendered  # noqa: E402


def test_quick_benchmark_prints_a_row_per_scenario_and_contender():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ")]
    cells = [[cell.strip() for cell in row] for row in rows if row[0].strip() != "scenario"]
    first_run = "fota-poller --state, 1st run"
    second_run = "fota-poller --state, 2nd run"
    changes_run = "fota-poller --state, 2nd run, --emit changes"
    state_runs = [first_run, second_run, changes_run]
    assert [(row[0], row[2]) for row in cells if len(row) == 10] == [
        ("throughput", "naive"),
        ("throughput", "tight"),
        ("throughput", "tight, file + fsync"),
        ("throughput", "tight, fota-poller's fields"),
        ("throughput", "fota-poller"),
        ("throughput", "fota-poller --output FILE"),
        ("memory", "fota-poller"),
        ("memory", "fota-poller"),
        ("single campaign", "naive"),
        ("single campaign", "fota-poller"),
        ("latency", "naive"),
        ("latency", "fota-poller"),
        ("rate", "fota-poller"),
        ("state", "fota-poller"),
        *(("state", run) for run in state_runs),
        *(("state memory", run) for run in [first_run, second_run] * 2),
    ]
    # The state table: the output's size for every run of the state scenarios, a database
    # size for every run with --state, and the wall time against the stateless run of the
    # same round where there is one.
    state = [row for row in cells if len(row) == 7]
    assert [(row[0], row[1], row[2]) for row in state] == [
        ("state", "200 x 20", "fota-poller"),
        *(("state", "200 x 20", run) for run in state_runs),
        ("state memory", "40 x 5", first_run),
        ("state memory", "40 x 5", second_run),
        ("state memory", "400 x 5", first_run),
        ("state memory", "400 x 5", second_run),
    ]
    assert state[0][3:4] + state[0][5:] == ["", "", ""]
    for row in state[1:]:
        assert int(row[5].replace(",", "")) > 0  # database bytes
        assert float(row[6]) > 0  # bytes per device
    assert all(row[3].endswith("x") for row in state[1:4])
    output_bytes = [int(row[4].replace(",", "")) for row in state]
    assert min(output_bytes) > 0
    # Nothing changed on the second run: --emit changes writes no device line.
    assert output_bytes[3] < output_bytes[2] / 5
    assert "cores" in done.stdout


def test_the_tight_client_with_fota_poller_s_fields_writes_fota_poller_s_device_lines(tmp_path):
    """The same-bytes contender's claim: its lines are fota-poller's but the run and times."""
    ids = tmp_path / "ids.txt"
    server, url = start_prerendered("--campaigns=6", "--devices=1-40", f"--write-ids={ids}")
    try:
        env = os.environ | TOKENS
        tight = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "tight_client.py"), "--fota-fields", str(ids),
             url, "4"],
            capture_output=True, env=env, timeout=60, check=True,
        )  # fmt: skip
        fota = subprocess.run(
            [sys.executable, "-m", "fota_poller", "poll", f"--ids={ids}", f"--base-url={url}",
             "--rate=0", "--log-level=warning"],
            capture_output=True, env=env, timeout=60, check=True,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait()

    def device_lines(out: bytes) -> list[bytes]:
        lines = [line for line in out.splitlines() if line.startswith(b'{"record":"device"')]
        # The run's own fields differ: the same length and the same place in the line.
        return sorted(
            line.replace(json.loads(line)["run_id"].encode(), b"R" * 36).replace(
                json.loads(line)["polled_at"].encode(), b"T" * 24
            )
            for line in lines
        )

    tight_lines = device_lines(tight.stdout)
    assert len(tight_lines) > 6
    assert tight_lines == device_lines(fota.stdout)
