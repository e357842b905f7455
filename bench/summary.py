"""`fota-poller summary` on a ~1 GB night and on a night of many campaigns, in every format.

.venv/bin/python bench/summary.py [--campaigns 2000] [--many 100000] [--file NIGHT.jsonl]
                                  [--rounds 3] [--baseline DIR]

Two nights, each measured on its own:
- "big": `fota-poller demo --campaigns 2000` (the simulator polled through the real poll
  path; 1 to 2,000 devices a campaign, about 550 bytes a device line): ~1.08 GB, 2,000
  campaigns. --file names an existing night instead.
- "many": --many campaigns x 1-3 devices, from the pre-rendered server (the one `bench/run.py`
  uses) polled by `fota-poller poll --rate 0 --output`: 100,000 campaigns, ~180 MB. Here
  json and csv (every campaign, worst first) keep the most state. --many 0 skips it.

Each contender (summary in each --format, and `jq -c 'select(.record=="campaign")'`) runs
--rounds times on the same file, warm in the page cache, stdout thrown away; printed: the
median wall time, the median CPU seconds (user + sys: the steadier figure on a shared
machine) and the largest peak RSS (os.wait4: the child's own maxrss, as `/usr/bin/time -v`
reports it). --baseline DIR (a folder holding another version's `fota_poller` package, e.g.
a `git worktree` of main) adds each summary format run from there (PYTHONPATH), round by
round in turn with this checkout's, so that a change is judged on the same machine at the
same load. Targets (issue 12): summary's peak RSS under 60 MB in every format, and faster
than jq. Not a test: nothing asserts on these figures.
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

from prerendered_server import TOKENS, start_prerendered

FORMATS = ("json", "csv", "markdown", "table")


Contender = tuple[list[str], dict[str, str]]


def measure(contender: Contender, folder: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one run, stdout thrown away."""
    command, env = contender
    started = time.perf_counter()
    # Run from `folder`: `-m` puts the working directory first on sys.path, and a checkout
    # there would shadow the package (or --baseline's PYTHONPATH).
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=folder, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, process.returncode


def write_night(campaigns: int, folder: Path) -> Path:
    path = folder / "night.jsonl"
    command = [sys.executable, "-m", "fota_poller", "demo", "--campaigns", str(campaigns)]
    subprocess.run([*command, "--output", str(path)], check=True, stderr=subprocess.DEVNULL)
    return path


def write_many(campaigns: int, folder: Path) -> Path:
    """A night of `campaigns` x 1-3 devices: the pre-rendered server, polled by `poll`."""
    ids, path = folder / "many-ids.txt", folder / "many.jsonl"
    server, url = start_prerendered(
        f"--campaigns={campaigns}", "--devices=1-3", f"--write-ids={ids}"
    )
    try:
        poll = [
            sys.executable, "-m", "fota_poller", "poll", f"--ids={ids}", f"--base-url={url}",
            "--rate=0", "--concurrency=50", "--log-level=warning", f"--output={path}",
        ]  # fmt: skip
        subprocess.run(poll, check=True, env=os.environ | TOKENS)
    finally:
        server.terminate()
        server.wait()
    return path


def contenders(night: Path, baseline: Path | None) -> dict[str, Contender]:
    summary = [sys.executable, "-m", "fota_poller", "summary", str(night)]
    here = dict(os.environ)
    commands: dict[str, Contender] = {}
    for form in FORMATS:
        commands[f"summary --format {form}"] = ([*summary, "--format", form], here)
        if baseline is not None:
            env = here | {"PYTHONPATH": str(baseline)}
            commands[f"  baseline --format {form}"] = ([*summary, "--format", form], env)
    jq = shutil.which("jq")
    if jq is not None:
        commands["jq -c 'select(.record==\"campaign\")'"] = (
            [jq, "-c", 'select(.record=="campaign")', str(night)], here,
        )  # fmt: skip
    return commands


def bench(name: str, night: Path, rounds: int, baseline: Path | None, folder: Path) -> None:
    size = night.stat().st_size
    with night.open("rb") as lines:
        # Also warms the page cache for every contender.
        line_count = campaigns = 0
        for line in lines:
            line_count += 1
            campaigns += line.startswith(b'{"record":"campaign"')
    print(f"\n{name} night: {night}: {size / 1e9:.2f} GB, {line_count} lines", end="")
    print(f", {campaigns} campaigns")
    if shutil.which("jq") is None:
        print("jq: not installed, not measured")
    header = f"{'contender':<40} {'median wall s':>14} {'median CPU s':>13} {'peak RSS MB':>12}"
    print(f"{header} {'exit':>5}")
    runs: dict[str, list[tuple[float, float, float, int]]] = {}
    commands = contenders(night, baseline)
    for _ in range(rounds):  # round by round: each contender once per round, in turn
        for contender, command in commands.items():
            runs.setdefault(contender, []).append(measure(command, folder))
    for contender, measured in runs.items():
        wall = statistics.median(run[0] for run in measured)
        cpu = statistics.median(run[1] for run in measured)
        rss = max(run[2] for run in measured)
        codes = sorted({run[3] for run in measured})
        print(f"{contender:<40} {wall:>14.2f} {cpu:>13.2f} {rss:>12.1f} {codes!s:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--campaigns", type=int, default=2000, help="of the big night")
    parser.add_argument("--many", type=int, default=100_000, help="of the many night; 0: none")
    parser.add_argument("--file", type=Path, help="an existing night instead of the big one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another version's package folder")
    args = parser.parse_args()
    baseline = None if args.baseline is None else args.baseline.resolve()
    folder = Path(tempfile.mkdtemp(prefix="summary-bench-"))
    try:
        night = args.file or write_night(args.campaigns, folder)
        bench("big", night.resolve(), args.rounds, baseline, folder)
        if args.many:
            bench("many", write_many(args.many, folder), args.rounds, baseline, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
