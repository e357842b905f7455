"""fota-poller against the naive script, on one pre-rendered server per scenario.

usage: python bench/run.py [--quick] [--rounds N] [--only SCENARIO ...]

Every contender runs as a child process; its CPU seconds (user + sys) and peak RSS come
from the kernel's accounting of that child (os.wait4), its wall time from the parent.
Contenders alternate within each round; the table shows the median of the rounds.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from machine import machine
from prerendered_server import TOKENS, start_prerendered
from report import state_table, table, verdicts
from scenarios import (
    FOTA,
    NAIVE,
    TIGHT,
    TIGHT_FOTA_FIELDS,
    Case,
    Measure,
    Row,
    Scenario,
    chains,
    scenarios,
)

# Nothing heavy is imported here: a child's peak RSS as the kernel reports it is at least
# this process's RSS when it forked the child, so the runner stays small (see README).
BENCH = Path(__file__).resolve().parent


class Server:
    """The pre-rendered server in its own process, for one scenario."""

    def __init__(self, scenario: Scenario, folder: Path) -> None:
        self.ids = folder / "ids.txt"
        self._process, self.url = start_prerendered(
            f"--campaigns={scenario.campaigns}",
            f"--devices={scenario.devices}-{scenario.devices}",
            f"--latency-ms={scenario.latency_ms}",
            f"--write-ids={self.ids}",
        )

    def stats(self) -> dict[str, float | None]:
        """What the server saw since the last call."""
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=10) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        self._process.terminate()
        self._process.wait()


def command(
    scenario: Scenario,
    case: Case,
    ids: Path,
    url: str,
    *,
    state: Path | None = None,
    file: Path | None = None,
) -> list[str]:
    if case.contender == NAIVE:
        return [sys.executable, str(BENCH / "naive_poller.py"), str(ids), url, str(50)]
    to_file = [] if file is None else [str(file)]
    if case.contender in {TIGHT, TIGHT_FOTA_FIELDS}:
        fields = ["--fota-fields"] if case.contender == TIGHT_FOTA_FIELDS else []
        client = [sys.executable, str(BENCH / "tight_client.py"), *fields]
        return [*client, str(ids), url, "50", *to_file]
    with_state = [] if state is None else [f"--state={state}", f"--emit={case.emit}"]
    with_state += [] if file is None else [f"--output={file}"]
    return [
        sys.executable,
        "-m",
        "fota_poller",
        "poll",
        f"--ids={ids}",
        f"--base-url={url}",
        f"--concurrency={scenario.concurrency}",
        f"--rate={scenario.rate}",
        "--log-level=warning",
        *with_state,
    ]


def state_files(state: Path) -> list[Path]:
    """The database and what SQLite and the run's lock keep beside it."""
    return [state, *(Path(f"{state}{suffix}") for suffix in ("-wal", "-shm", ".lock"))]


def database_bytes(state: Path) -> int:
    """The database's size after the run: the file plus its write-ahead log, if one is left."""
    return sum(path.stat().st_size for path in state_files(state)[:2] if path.exists())


def run_child(argv: list[str], output: Path, errors: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys) and peak RSS in MB of one child process."""
    with output.open("wb") as out, errors.open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=os.environ | TOKENS)
        # wait4 reaps the child and gives its own rusage: nothing else is counted.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        detail = errors.read_text(errors="replace")[-2000:]
        raise SystemExit(f"bench: {argv[2:4]} exited {process.returncode}:\n{detail}")
    # ru_maxrss is in KiB on Linux.
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def count_lines(path: Path, pattern: bytes = b"") -> tuple[int, int]:
    """The lines in the file, and how often `pattern` occurs (without a copy of any chunk)."""
    lines = found = 0
    edge = len(pattern) - 1
    tail = b""
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 22):
            lines += chunk.count(b"\n")
            if pattern:
                # A hit across two chunks lies within the last `edge` bytes of one and the
                # first `edge` bytes of the next; no hit inside one chunk does.
                found += chunk.count(pattern) + (tail + chunk[:edge]).count(pattern)
                tail = chunk[-edge:]
    return lines, found


def last_line(path: Path) -> bytes:
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - 4096))
        return stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]


def check_output(scenario: Scenario, case: Case, output: Path) -> tuple[int, float | None]:
    """Device records in the output (checked against what was served) and the run's duration."""
    devices = case.campaigns * scenario.devices
    # With state, every device must be new on the first run and the same on a second.
    change = b"" if not case.state else b'"change":"new"' if case.fresh else b'"change":"same"'
    lines, changes = count_lines(output, change)
    if case.contender in {NAIVE, TIGHT, TIGHT_FOTA_FIELDS}:
        if lines != devices:
            raise SystemExit(f"bench: {case.label} wrote {lines} lines, expected {devices}")
        return devices, None
    run = json.loads(last_line(output))
    # `--emit changes` on a night with no change writes campaign records and the run record.
    written = 0 if case.emit == "changes" else devices
    expected_lines = written + case.campaigns + 1
    if run.get("devices_total") != devices or lines != expected_lines or not run.get("complete"):
        raise SystemExit(f"bench: fota-poller wrote {lines} lines, run record {run}")
    if change and changes != written:
        raise SystemExit(f"bench: {case.label}: {changes} of {written} devices {change!r}")
    return devices, float(run["duration_s"])


def check_devices(scenario: Scenario, output: Path) -> None:
    """Every line decodes into its record type, with exactly the devices the server served."""
    argv = [sys.executable, str(BENCH / "check_devices.py"), str(scenario.campaigns)]
    argv += [str(scenario.devices), str(output)]
    if subprocess.run(argv, check=False).returncode != 0:
        raise SystemExit("bench: the single campaign's output is wrong")


def run_case(
    scenario: Scenario, case: Case, server: Server, folder: Path, round_number: int
) -> Measure:
    """One contender's run in one round, its output checked; its figures."""
    ids = folder / f"ids-{case.campaigns}.txt"
    output, errors = folder / "out.jsonl", folder / "err.log"
    state = folder / f"{case.state}.db" if case.state else None
    if state is not None and case.fresh:
        for path in state_files(state):
            path.unlink(missing_ok=True)
    file = folder / "file.jsonl" if case.to_file else None
    argv = command(scenario, case, ids, server.url, state=state, file=file)
    wall, cpu, rss = run_child(argv, output, errors)
    stats = server.stats()
    written = output if file is None else file
    records, run_s = check_output(scenario, case, written)
    if scenario.check_devices and case.contender == FOTA and round_number == 0:
        check_devices(scenario, written)
    measure = Measure(wall, cpu, rss, records, run_s, written.stat().st_size)
    if state is not None:
        measure.db_bytes = database_bytes(state)
    if scenario.rate:
        first, last = stats["first_start"], stats["last_start"]
        measure.max_starts_1s = int(stats["max_starts_in_one_second"] or 0)
        if first is not None and last is not None and last > first:
            measure.mean_rate = (int(stats["requests"] or 0) - 1) / (last - first)
    output.unlink()
    if file is not None:
        file.unlink()
    return measure


def run_scenario(scenario: Scenario, rounds: int, folder: Path) -> list[Row]:
    rows = [Row(scenario, case) for case in scenario.cases]
    server = Server(scenario, folder)
    try:
        for case in scenario.cases:
            with (
                server.ids.open() as source,
                (folder / f"ids-{case.campaigns}.txt").open("w") as ids,
            ):
                ids.writelines(itertools.islice(source, case.campaigns))
        for round_number in range(rounds):
            # Alternate which contender goes first, so neither always runs on a warmer machine;
            # a first run with state and the second runs on its database stay in order.
            runs = chains(rows)
            order = [
                row for chain in (runs if round_number % 2 == 0 else runs[::-1]) for row in chain
            ]
            for row in order:
                measure = run_case(scenario, row.case, server, folder, round_number)
                row.measures.append(measure)
                print(
                    f"  {scenario.name:<16} {row.case.label:<44} round {round_number + 1}: "
                    f"{measure.wall_s:6.2f} s wall, {measure.cpu_s:6.2f} s CPU, "
                    f"{measure.rss_mb:6.1f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it works")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", metavar="SCENARIO", help="run only these")
    args = parser.parse_args()
    chosen = [s for s in scenarios(args.quick) if not args.only or s.name in args.only]
    rows: list[Row] = []
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        for scenario in chosen:
            rows += run_scenario(scenario, args.rounds, Path(folder))
    print(table(rows))
    print()
    if any(row.case.state for row in rows):
        print(state_table(rows))
        print()
    print(f"Medians of {args.rounds} rounds, contenders alternated. Machine: {machine()}.")
    runner_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    smallest = min(m.rss_mb for row in rows for m in row.measures)
    if runner_mb < smallest:
        print(f"The runner's peak RSS, {runner_mb:.1f} MB, is below every child's.")
    else:
        print(f"WARNING: the runner's peak RSS, {runner_mb:.1f} MB, may hide a child's.")
    if not args.quick:
        print()
        print("\n".join(verdicts(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
