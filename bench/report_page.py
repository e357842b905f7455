"""`fota-poller report` on 1,000 campaigns x 30 nights: its time, peak RSS and page size.

.venv/bin/python bench/report_page.py [--campaigns 1000] [--nights 30] [--rounds 3]

The night is real: `fota-poller simulate --evolve` (1 to 200 devices a campaign, two
accounts, an inventory) polled by `poll --state --inventory --output`, so the records file,
the state database (its devices, their stuck times) and the models are what a night leaves.

The history is real too: the simulator's day is advanced and the fleet polled --nights
times, so the state database keeps --nights committed nights of each campaign.

Printed: per round the wall time, CPU seconds and peak RSS (os.wait4's ru_maxrss) of the
whole `report` process, and the page's size; then the medians. Targets (issue 22): under
3 s and 100 MB, the page under 1 MB. Not a test: nothing asserts on these figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from machine import machine

TOKENS = {
    "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
    "THINGSPACE_SESSION_TOKEN": "sim-session-token",
}


def poll_nights(campaigns: int, nights: int, folder: Path) -> tuple[Path, Path]:
    """The records of the last of `nights` polls of an evolving simulator, and the state."""
    ids, state, records = folder / "ids.txt", folder / "state.db", folder / "night.jsonl"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "fota_poller", "simulate", "--port", "0",
            "--campaigns", str(campaigns), "--devices", "1-200", "--evolve", "3",
            "--evolve-share", "0.1", "--late-share", "0.1", "--write-ids", str(ids),
            "--accounts", "0000123456-00001,0000123456-00002",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        found = re.search(r"listening on (http://[^\s;]+)", server.stderr.readline())
        if found is None:
            raise SystemExit("bench: the simulator did not start")
        url = found.group(1)
        for night in range(nights):
            if night:
                day = urllib.request.Request(f"{url}/_simulator/day", method="POST")
                urllib.request.urlopen(day, timeout=60).close()
            poll = [
                sys.executable, "-m", "fota_poller", "poll", f"--ids={ids}", f"--base-url={url}",
                "--rate=0", "--concurrency=50", "--log-level=warning", "--inventory",
                f"--state={state}", f"--output={records}",
            ]  # fmt: skip
            subprocess.run(poll, check=True, env=os.environ | TOKENS)
    finally:
        server.terminate()
        server.wait()
    return records, state


def measure(command: list[str], folder: Path) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, exit code, stderr) of one run."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=folder)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        err.seek(0)
        said = err.read().decode(errors="replace").strip()
    code = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="copy the last page here, to look at")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        records, state = poll_nights(args.campaigns, args.nights, folder)
        page = folder / "report.html"
        report = ["report", str(records), "--state", str(state), "-o", str(page)]
        report += ["--nights", str(args.nights), "--limit", str(args.campaigns)]
        command = [sys.executable, "-m", "fota_poller", *report]
        print(machine())
        print(f"{args.campaigns:,} campaigns, {args.nights} nights polled")
        print(f"{'round':>5} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>12} {'page MB':>8}  notes")
        runs = []
        for number in range(1, args.rounds + 1):
            wall, cpu, rss, code, said = measure(command, folder)
            if code:
                raise SystemExit(f"bench: report exited {code}: {said}")
            size = page.stat().st_size / 1e6
            runs.append((wall, cpu, rss, size))
            print(f"{number:>5} {wall:>7.2f} {cpu:>6.2f} {rss:>12.1f} {size:>8.3f}  {said}")
        wall, cpu = (statistics.median(run[i] for run in runs) for i in (0, 1))
        rss, size = max(run[2] for run in runs), max(run[3] for run in runs)
        print(f"median wall {wall:.2f} s, CPU {cpu:.2f} s; peak RSS {rss:.1f} MB", end="")
        print(f"; page {size:.3f} MB")
        charts = page.read_text().count('<svg class="spark"')
        print(f"the page: {charts:,} burn-up charts")
        if args.keep is not None:
            shutil.copyfile(page, args.keep)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
