"""`poll --inventory` on one account of 1,000,000 devices: its cost, time and memory (issue 21).

.venv/bin/python bench/inventory_run.py [--rounds 3] [--quick] [--folder /dev/shm]

The pre-rendered server (`fota_poller.simulator.prerendered --inventory`) serves one account:
1,000 campaigns of 100 devices and 900,000 devices in no campaign, so its device list has
1,000,000 devices (1,000 pages); `--quick` serves 100 campaigns of 10 devices and 9,000 more
(10 pages). `fota-poller poll --rate 0` runs on it as a child process, with and without
`--inventory`, alternating which goes first from round to round. Per run:

- wall s: from just before the child starts to its exit (interpreter start-up included);
- CPU s and peak RSS: the child's own rusage (`os.wait4`), the whole run;
- run s: the run record's `duration_s` (the poll, without start-up);
- inventory requests: the run record's; checked to equal ceil(devices / 1000);
- inventory s: the `inventory.done` log line's `elapsed_s`, from the list's first request
  to its table built (fetched, decoded and held);
- campaigns s: the run s of a run without `--inventory` is all campaigns; with it, the
  campaigns and the list overlap (the list is fetched while the account's first campaigns
  are polled, and the rest wait), so the campaigns' part is judged as the run s with
  `--inventory` minus the inventory s: what the run spent after the list was there. Next to
  the run s without `--inventory`, it says what the join costs the campaigns.

Every output is checked: device lines (with `--inventory` each one joined: `"on_target":`
not null for every device line), a campaign line per campaign, the run line `complete`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine
from prerendered_server import TOKENS, start_prerendered

PAGE_DEVICES = 1000
TARGET_INVENTORY_S = 10.0
TARGET_RSS_MB = 120.0


class Sizes:
    """The account the server serves."""

    def __init__(self, campaigns: int, devices: int, extra: int) -> None:
        self.campaigns, self.devices, self.extra = campaigns, devices, extra

    @property
    def listed(self) -> int:
        """Devices in the account's device list: the campaigns' and the extra ones."""
        return self.campaigns * self.devices + self.extra


def start_server(sizes: Sizes, ids: Path) -> tuple[subprocess.Popen[str], str, float]:
    """The pre-rendered server with the account's list, its URL, and its start-up seconds."""
    started = time.monotonic()
    server, url = start_prerendered(
        "--inventory", f"--campaigns={sizes.campaigns}",
        f"--devices={sizes.devices}-{sizes.devices}", f"--extra-devices={sizes.extra}",
        f"--write-ids={ids}", who="inventory_run",
    )  # fmt: skip
    return server, url, time.monotonic() - started


class Run:
    """One poll's figures."""

    def __init__(self, wall: float, cpu: float, rss: float, record: dict[str, object]) -> None:
        self.wall, self.cpu, self.rss = wall, cpu, rss
        self.run_s = float(record["duration_s"])  # type: ignore[arg-type]
        self.requests = int(record["inventory_requests"])  # type: ignore[call-overload]
        self.inventory_s: float | None = None

    @property
    def campaigns_s(self) -> float:
        """The run after the list was there (all of it without `--inventory`)."""
        return self.run_s - (self.inventory_s or 0.0)


def poll(argv: list[str], folder: Path) -> tuple[Run, Path, Path]:
    """One `poll` child: its figures, its output and its stderr."""
    output, err = folder / "out.jsonl", folder / "err.log"
    with err.open("wb") as stderr:
        started = time.monotonic()
        child = subprocess.Popen(
            [*argv, f"--output={output}"], stderr=stderr, env=os.environ | TOKENS
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, nothing else
        wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"inventory_run: poll exited {code}:\n{err.read_text()[-2000:]}")
    with output.open("rb") as stream:
        last = b""
        for last in stream:  # noqa: B007 - the run record is the last line
            pass
    record = json.loads(last)
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB on Linux
    return Run(wall, cpu, rss, record), output, err


def count_lines(output: Path) -> tuple[int, int, int]:
    """Device lines, of them joined (`on_target` not null), and campaign lines; run line checked."""
    devices = campaigns = joined = 0
    with output.open("rb") as stream:
        for line in stream:
            if line.startswith(b'{"record":"device"'):
                devices += 1
                joined += b'"on_target":null' not in line
            elif line.startswith(b'{"record":"campaign"'):
                campaigns += 1
            elif b'"complete":true' not in line and b'"status":"complete"' not in line:
                raise SystemExit(f"inventory_run: run line not complete: {line[:300]!r}")
    return devices, joined, campaigns


def check(output: Path, err: Path, sizes: Sizes, inventory: bool, run: Run) -> None:
    """The output is whole (and joined), the request count is right; sets the inventory s."""
    devices, joined, campaigns = count_lines(output)
    want = sizes.campaigns * sizes.devices
    if devices != want or campaigns != sizes.campaigns or (inventory and joined != want):
        raise SystemExit(
            f"inventory_run: {devices} device lines ({joined} joined), {campaigns} campaigns"
        )
    expected = math.ceil(sizes.listed / PAGE_DEVICES) if inventory else 0
    if run.requests != expected:
        raise SystemExit(f"inventory_run: {run.requests} inventory requests, not {expected}")
    if inventory:
        for line in err.read_text().splitlines():
            if '"inventory.done"' in line:
                run.inventory_s = float(json.loads(line)["elapsed_s"])
        if run.inventory_s is None:
            raise SystemExit("inventory_run: no inventory.done line")


def median(values: list[float]) -> float:
    """The median of `values`."""
    return statistics.median(values)


def main() -> None:
    """Serve the account, poll it with and without `--inventory`, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 small round: checks it works")
    parser.add_argument("--folder", type=Path, default=Path("/dev/shm"))
    args = parser.parse_args()
    sizes = Sizes(100, 10, 9_000) if args.quick else Sizes(1_000, 100, 900_000)
    rounds = 1 if args.quick else args.rounds
    folder = Path(tempfile.mkdtemp(dir=args.folder, prefix="inventory-run-"))
    ids = folder / "ids.txt"
    server, url, startup = start_server(sizes, ids)
    base = [sys.executable, "-m", "fota_poller", "poll", f"--ids={ids}", f"--base-url={url}"]
    # Info: the inventory.done line carries the list's own time.
    base += ["--rate=0", "--log-format=json", "--log-level=info"]
    runs: dict[bool, list[Run]] = {False: [], True: []}
    try:
        for round_number in range(rounds):
            order = (False, True) if round_number % 2 == 0 else (True, False)
            for inventory in order:
                argv = [*base, "--inventory"] if inventory else base
                run, output, err = poll(argv, folder)
                check(output, err, sizes, inventory, run)
                runs[inventory].append(run)
                output.unlink()
    finally:
        server.terminate()
        server.wait()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    report(sizes, rounds, startup, runs)


def report(sizes: Sizes, rounds: int, startup: float, runs: dict[bool, list[Run]]) -> None:
    """The table (medians) and the verdicts."""
    print(
        f"one account: {sizes.campaigns:,} campaigns x {sizes.devices} devices, "
        f"{sizes.listed:,} devices in its list; server start-up {startup:.1f} s"
    )
    print(f"medians of {rounds} round(s), the two runs alternated; {machine()}")
    print()
    print(
        "| run | wall s | CPU s | peak RSS MB | run s | inventory requests | inventory s "
        "| campaigns s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for inventory in (False, True):
        got = runs[inventory]
        label = "--inventory" if inventory else "without --inventory"
        inventory_s = f"{median([r.inventory_s or 0.0 for r in got]):.2f}" if inventory else ""
        print(
            f"| {label} | {median([r.wall for r in got]):.2f} | {median([r.cpu for r in got]):.2f}"
            f" | {max(r.rss for r in got):.1f} | {median([r.run_s for r in got]):.2f}"
            f" | {got[0].requests:,} | {inventory_s}"
            f" | {median([r.campaigns_s for r in got]):.2f} |"
        )
    joined, plain = runs[True], runs[False]
    print()
    print(f"rounds, campaigns s without: {', '.join(f'{r.campaigns_s:.2f}' for r in plain)}")
    print(f"rounds, campaigns s with:    {', '.join(f'{r.campaigns_s:.2f}' for r in joined)}")
    slowest = max(r.inventory_s or 0.0 for r in joined)
    rss = max(r.rss for r in joined)
    verdict = "PASS" if slowest <= TARGET_INVENTORY_S else "FAIL"
    print(f"- {verdict}: inventory fetched, decoded and held in {slowest:.2f} s at worst (<= 10 s)")
    verdict = "PASS" if rss <= TARGET_RSS_MB else "FAIL"
    print(f"- {verdict}: peak RSS of the --inventory run {rss:.1f} MB at worst (<= 120 MB)")
    print(f"- requests: {joined[0].requests:,} = ceil({sizes.listed:,} / {PAGE_DEVICES:,})")


if __name__ == "__main__":
    main()
