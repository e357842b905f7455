"""One campaign of 1,000,000 devices: the poll process's peak RSS without and with state.

.venv/bin/python bench/big_campaign.py [--devices 1000000] [--folder /dev/shm]

The pre-rendered server (`fota_poller.simulator.prerendered`) serves one campaign of
--devices devices (about 60 MB of JSON for a million) from loopback. `fota-poller poll` runs
on it as a child process three times: without state, with `--state` on a fresh database
(every device new), and again on that database (every device the same: the previous poll is
read back). Each child's peak RSS is the kernel's (`os.wait4`'s ru_maxrss); the output's
device lines are counted. Targets (issue 18): 600 MB without state, 800 MB with.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine
from prerendered_server import TOKENS, start_prerendered

TARGET_MB = {"without state": 600, "state, 1st run": 800, "state, 2nd run": 800}


def start_server(devices: int, ids: Path) -> tuple[subprocess.Popen[str], str]:
    """The pre-rendered server with one campaign, and its URL once it listens."""
    return start_prerendered(
        "--campaigns=1", f"--devices={devices}-{devices}", f"--write-ids={ids}", who="big_campaign"
    )


def poll(argv: list[str], output: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one `poll` child."""
    with output.open("wb") as out, (output.parent / "err.log").open("wb") as err:
        started = time.monotonic()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=os.environ | TOKENS)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, nothing else
        wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        detail = (output.parent / "err.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"big_campaign: poll exited {code}:\n{detail}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB on Linux


def device_lines(output: Path, change: bytes) -> tuple[int, int]:
    """The output's lines and how many say `change` (a device line each; no chunk copied)."""
    lines = found = 0
    with output.open("rb") as stream:
        for line in stream:
            lines += 1
            found += change in line
    return lines, found


def main() -> None:
    """Serve the campaign, poll it three times, print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=Path("/dev/shm"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.folder, prefix="big-campaign-"))
    ids, output, state = folder / "ids.txt", folder / "out.jsonl", folder / "state.db"
    server, url = start_server(args.devices, ids)
    base = [sys.executable, "-m", "fota_poller", "poll", f"--ids={ids}", f"--base-url={url}"]
    base += ["--rate=0", "--log-level=warning"]
    runs = {
        "without state": (base, b""),
        "state, 1st run": ([*base, f"--state={state}"], b'"change":"new"'),
        "state, 2nd run": ([*base, f"--state={state}"], b'"change":"same"'),
    }
    try:
        print(f"one campaign of {args.devices:,} devices; {machine()}")
        for label, (argv, change) in runs.items():
            wall, cpu, rss = poll(argv, output)
            lines, changes = device_lines(output, change)
            if lines != args.devices + 2 or (change and changes != args.devices):
                raise SystemExit(f"big_campaign: {label}: {lines} lines, {changes} {change!r}")
            verdict = "PASS" if rss <= TARGET_MB[label] else "FAIL"
            print(
                f"{label:<15} peak RSS {rss:7.1f} MB (target <= {TARGET_MB[label]} MB: "
                f"{verdict}); {wall:5.1f} s wall, {cpu:5.1f} s CPU"
            )
            output.unlink()
    finally:
        server.terminate()
        server.wait()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
