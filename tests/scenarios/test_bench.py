"""The benchmark runs end to end on a tiny size, so it does not rot; no figure is asserted."""

import subprocess
import sys

from helpers import ROOT

BENCH = ROOT / "bench" / "run.py"


def test_quick_benchmark_prints_a_row_per_scenario_and_contender():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split("|")[1:4] for line in done.stdout.splitlines() if line.startswith("| ")]
    cells = [tuple(cell.strip() for cell in row) for row in rows]
    assert [(scenario, contender) for scenario, _, contender in cells[1:]] == [
        ("throughput", "naive"),
        ("throughput", "fota-poller"),
        ("memory", "fota-poller"),
        ("memory", "fota-poller"),
        ("single campaign", "naive"),
        ("single campaign", "fota-poller"),
        ("latency", "naive"),
        ("latency", "fota-poller"),
        ("rate", "fota-poller"),
    ]
    assert "cores" in done.stdout
