"""Start-up time of the `fota-poller` console script: `--version`, `poll --help`, a short poll.

Each command runs `--runs` times (default 10) as a fresh process; the median wall time is
printed next to its target (issue 12: 0.15 s and 0.25 s on the 2-core development machine).
Then a poll of 10 campaigns of 100 devices from the pre-rendered server, a run of a few
milliseconds: start-up and exit are most of it. It runs twice, in turn: as the console
script (`cli.entry`, which ends the process without the interpreter's teardown) and through
`main()` returning, as a program using the package calls it (the teardown kept): the
difference is what the teardown costs a run.
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
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prerendered_server import TOKENS, start_prerendered

# The command and its target median, in seconds.
COMMANDS = {
    ("--version",): 0.15,
    ("poll", "--help"): 0.25,
}
# `main()` returning, then the interpreter's exit: what a program using the package does.
THROUGH_MAIN = "import sys; from fota_poller.cli import main; sys.exit(main())"


def console_script() -> str:
    """The installed `fota-poller` next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "fota-poller"
    found = str(beside) if beside.exists() else shutil.which("fota-poller")
    if found is None:
        sys.exit("startup.py: no fota-poller console script; run `make lint` first")
    return found


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh process of argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=os.environ | TOKENS)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def median_seconds(*argvs: list[str], runs: int) -> list[tuple[float, float]]:
    """Median wall and CPU seconds of `runs` fresh processes of each argv, taken in turn.

    One unmeasured warm-up of each first (the page cache, not the figure). The CPU time is
    the figure to trust on a busy machine: the wall time grows with the load, the CPU time
    hardly.
    """
    for argv in argvs:
        timed(argv)
    times: list[list[tuple[float, float]]] = [[] for _ in argvs]
    for _ in range(runs):
        for argv, kept in zip(argvs, times, strict=True):
            kept.append(timed(argv))
    return [
        (statistics.median(t[0] for t in kept), statistics.median(t[1] for t in kept))
        for kept in times
    ]


def short_poll(script: str, runs: int) -> None:
    """Print the 10-campaign poll as the console script and through `main()`, in turn."""
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as folder:
        ids = Path(folder) / "ids.txt"
        server, url = start_prerendered(
            "--campaigns=10", "--devices=100-100", f"--write-ids={ids}", who="startup.py"
        )
        try:
            options = ["poll", f"--ids={ids}", f"--base-url={url}", "--rate=0"]
            options += ["--concurrency=10", "--log-level=warning"]
            (entry, entry_cpu), (main_, main_cpu) = median_seconds(
                [script, *options], [sys.executable, "-c", THROUGH_MAIN, *options], runs=runs
            )
        finally:
            server.terminate()
            server.wait()
    print(f"| `fota-poller poll`, 10 x 100 devices | {entry:.3f} s | {entry_cpu:.3f} s | |")
    print(f"| the same through `main()`, with teardown | {main_:.3f} s | {main_cpu:.3f} s | |")


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
        [(wall, cpu)] = median_seconds([script, *command], runs=args.runs)
        verdict = "ok" if wall <= target else "over"
        name = f"`fota-poller {' '.join(command)}`"
        print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | <= {target} s ({verdict}) |")
    short_poll(script, args.runs)


if __name__ == "__main__":
    main()
