"""`fota-poller summary` on a ~1 GB night against `jq -c 'select(.record=="campaign")'`.

.venv/bin/python bench/summary.py [--campaigns 2000] [--file NIGHT.jsonl] [--rounds 3]

Writes the night with `fota-poller demo` (the simulator polled through the real poll path;
1 to 2,000 devices a campaign, about 550 bytes a device line) unless --file names one, then
runs each contender --rounds times on the same file, warm in the page cache, and prints the
median wall time and the largest peak RSS of each (os.wait4: the child's own maxrss, as
`/usr/bin/time -v` reports it). Targets (issue 12): summary's peak RSS under 60 MB, and
faster than jq. Not a test: nothing asserts on these figures.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one run, its stdout thrown away."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, process.returncode


def write_night(campaigns: int, folder: Path) -> Path:
    path = folder / "night.jsonl"
    command = [sys.executable, "-m", "fota_poller", "demo", "--campaigns", str(campaigns)]
    subprocess.run([*command, "--output", str(path)], check=True, stderr=subprocess.DEVNULL)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--file", type=Path, help="an existing night instead of a new one")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="summary-bench-"))
    try:
        night = args.file or write_night(args.campaigns, folder)
        size = night.stat().st_size
        with night.open("rb") as lines:
            line_count = sum(1 for _ in lines)  # also warms the page cache for every contender
        print(f"night: {night}: {size / 1e9:.2f} GB, {line_count} lines")
        contenders = {
            "summary --format json": [
                sys.executable, "-m", "fota_poller", "summary", str(night), "--format", "json",
            ],
        }  # fmt: skip
        jq = shutil.which("jq")
        if jq is None:
            print("jq: not installed, not measured")
        else:
            contenders["jq -c 'select(.record==\"campaign\")'"] = [
                jq, "-c", 'select(.record=="campaign")', str(night),
            ]  # fmt: skip
        print(f"{'contender':<40} {'median wall s':>14} {'peak RSS MB':>12} {'exit':>5}")
        for name, command in contenders.items():
            runs = [measure(command) for _ in range(args.rounds)]
            wall = statistics.median(run[0] for run in runs)
            rss = max(run[1] for run in runs)
            codes = sorted({run[2] for run in runs})
            print(f"{name:<40} {wall:>14.2f} {rss:>12.1f} {codes!s:>5}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
