"""Start-up time of the `fota-poller` console script: `--version` and `poll --help`.

Each command runs `--runs` times (default 10) as a fresh process; the median wall time is
printed next to its target (issue 12: 0.15 s and 0.25 s on the 2-core development machine).
A figure, not a test: no test asserts on it. `python -X importtime -m fota_poller --version`
shows what is loaded when a figure grows.

    .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The command and its target median, in seconds.
COMMANDS = {
    ("--version",): 0.15,
    ("poll", "--help"): 0.25,
}


def console_script() -> str:
    """The installed `fota-poller` next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "fota-poller"
    found = str(beside) if beside.exists() else shutil.which("fota-poller")
    if found is None:
        sys.exit("startup.py: no fota-poller console script; run `make lint` first")
    return found


def median_seconds(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of `runs` fresh processes of argv.

    One unmeasured warm-up first (the page cache, not the figure). The CPU time is the figure
    to trust on a busy machine: the wall time grows with the load, the CPU time hardly.
    """
    subprocess.run(argv, capture_output=True, check=True)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    """Print one line per command: its median, its target, and whether it meets it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    args = parser.parse_args()
    script = console_script()
    load = os.getloadavg()[0]
    print(f"{args.runs} runs each; load average {load:.2f} on {os.cpu_count()} cores")
    print("| command | median wall | median CPU | target |")
    print("|---|---|---|---|")
    for command, target in COMMANDS.items():
        wall, cpu = median_seconds([script, *command], args.runs)
        verdict = "ok" if wall <= target else "over"
        name = f"`fota-poller {' '.join(command)}`"
        print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | <= {target} s ({verdict}) |")


if __name__ == "__main__":
    main()
