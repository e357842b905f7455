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
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# Nothing heavy is imported here: a child's peak RSS as the kernel reports it is at least
# this process's RSS when it forked the child, so the runner stays small (see README).
BENCH = Path(__file__).resolve().parent
TOKENS = {"THINGSPACE_BEARER_TOKEN": "bench-bearer", "THINGSPACE_SESSION_TOKEN": "bench-session"}
FOTA = "fota-poller"
NAIVE = "naive"


@dataclass(frozen=True)
class Case:
    """One contender polling the first `campaigns` ids of its scenario's server."""

    contender: str
    campaigns: int


@dataclass(frozen=True)
class Scenario:
    """One server (campaigns x devices, latency) and the cases run against it."""

    name: str
    campaigns: int
    devices: int
    cases: tuple[Case, ...]
    latency_ms: float = 0.0
    rate: float = 0.0
    concurrency: int = 50
    check_devices: bool = False


@dataclass
class Measure:
    """One child process run."""

    wall_s: float
    cpu_s: float
    rss_mb: float
    records: int
    run_s: float | None = None
    max_starts_1s: int | None = None
    mean_rate: float | None = None


@dataclass
class Row:
    scenario: Scenario
    case: Case
    measures: list[Measure] = field(default_factory=list)

    def median(self, name: str) -> float | None:
        values = [getattr(m, name) for m in self.measures if getattr(m, name) is not None]
        return statistics.median(values) if values else None


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [
            Scenario("throughput", 200, 20, (Case(NAIVE, 200), Case(FOTA, 200))),
            Scenario("memory", 400, 5, (Case(FOTA, 40), Case(FOTA, 400))),
            Scenario(
                "single campaign", 1, 2_000, (Case(NAIVE, 1), Case(FOTA, 1)), check_devices=True
            ),
            Scenario("latency", 100, 5, (Case(NAIVE, 100), Case(FOTA, 100)), latency_ms=20),
            Scenario("rate", 20, 5, (Case(FOTA, 20),), rate=20),
        ]
    return [
        Scenario("throughput", 10_000, 100, (Case(NAIVE, 10_000), Case(FOTA, 10_000))),
        Scenario("memory", 100_000, 10, (Case(FOTA, 1_000), Case(FOTA, 100_000))),
        Scenario(
            "single campaign", 1, 100_000, (Case(NAIVE, 1), Case(FOTA, 1)), check_devices=True
        ),
        Scenario("latency", 1_000, 10, (Case(NAIVE, 1_000), Case(FOTA, 1_000)), latency_ms=200),
        Scenario("rate", 200, 10, (Case(FOTA, 200),), rate=20),
    ]


class Server:
    """The pre-rendered server in its own process, for one scenario."""

    def __init__(self, scenario: Scenario, folder: Path) -> None:
        self.ids = folder / "ids.txt"
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fota_poller.simulator.prerendered",
                f"--campaigns={scenario.campaigns}",
                f"--devices={scenario.devices}-{scenario.devices}",
                f"--latency-ms={scenario.latency_ms}",
                f"--write-ids={self.ids}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("listening on "):
            self.close()
            raise SystemExit(f"bench: the server did not start: {line!r}")
        self.url = line.removeprefix("listening on ").strip()

    def stats(self) -> dict[str, float | None]:
        """What the server saw since the last call."""
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=10) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        self._process.terminate()
        self._process.wait()


def command(scenario: Scenario, case: Case, ids: Path, url: str) -> list[str]:
    if case.contender == NAIVE:
        return [sys.executable, str(BENCH / "naive_poller.py"), str(ids), url, str(50)]
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
    ]


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


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 22):
            lines += chunk.count(b"\n")
    return lines


def last_line(path: Path) -> bytes:
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - 4096))
        return stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]


def check_output(scenario: Scenario, case: Case, output: Path) -> tuple[int, float | None]:
    """Device records in the output (checked against what was served) and the run's duration."""
    devices = case.campaigns * scenario.devices
    lines = count_lines(output)
    if case.contender == NAIVE:
        if lines != devices:
            raise SystemExit(f"bench: naive wrote {lines} lines, expected {devices}")
        return devices, None
    run = json.loads(last_line(output))
    expected_lines = devices + case.campaigns + 1
    if run.get("devices_total") != devices or lines != expected_lines or not run.get("complete"):
        raise SystemExit(f"bench: fota-poller wrote {lines} lines, run record {run}")
    return devices, float(run["duration_s"])


def check_devices(scenario: Scenario, output: Path) -> None:
    """Every line decodes into its record type, with exactly the devices the server served."""
    argv = [sys.executable, str(BENCH / "check_devices.py"), str(scenario.campaigns)]
    argv += [str(scenario.devices), str(output)]
    if subprocess.run(argv, check=False).returncode != 0:
        raise SystemExit("bench: the single campaign's output is wrong")


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
            # Alternate which contender goes first, so neither always runs on a warmer machine.
            order = rows if round_number % 2 == 0 else rows[::-1]
            for row in order:
                ids = folder / f"ids-{row.case.campaigns}.txt"
                output, errors = folder / "out.jsonl", folder / "err.log"
                argv = command(scenario, row.case, ids, server.url)
                wall, cpu, rss = run_child(argv, output, errors)
                stats = server.stats()
                records, run_s = check_output(scenario, row.case, output)
                if scenario.check_devices and row.case.contender == FOTA and round_number == 0:
                    check_devices(scenario, output)
                measure = Measure(wall, cpu, rss, records, run_s)
                if scenario.rate:
                    first, last = stats["first_start"], stats["last_start"]
                    measure.max_starts_1s = int(stats["max_starts_in_one_second"] or 0)
                    if first is not None and last is not None and last > first:
                        measure.mean_rate = (int(stats["requests"] or 0) - 1) / (last - first)
                row.measures.append(measure)
                output.unlink()
                print(
                    f"  {scenario.name:<16} {row.case.contender:<12} round {round_number + 1}: "
                    f"{wall:6.2f} s wall, {cpu:6.2f} s CPU, {rss:6.1f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.close()
    return rows


def label(row: Row) -> str:
    scenario = row.scenario
    text = f"{row.case.campaigns:,} x {scenario.devices:,}"
    if scenario.latency_ms:
        text += f", {scenario.latency_ms:g} ms latency"
    if scenario.rate:
        text += f", --rate {scenario.rate:g}"
    return text


def table(rows: list[Row]) -> str:
    head = (
        "| scenario | campaigns x devices | contender | wall s | records/s | CPU s (user+sys) "
        "| peak RSS MB | run s | max starts in 1 s | mean rate /s |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for row in rows:
        wall = row.median("wall_s") or 0.0
        records = statistics.median(m.records / m.wall_s for m in row.measures)
        run_s, starts, rate = (
            row.median("run_s"),
            row.median("max_starts_1s"),
            row.median("mean_rate"),
        )
        lines.append(
            f"| {row.scenario.name} | {label(row)} | {row.case.contender} | {wall:.2f} "
            f"| {records:,.0f} | {row.median('cpu_s'):.2f} | {row.median('rss_mb'):.1f} "
            f"| {'' if run_s is None else f'{run_s:.2f}'} "
            f"| {'' if starts is None else f'{starts:.0f}'} "
            f"| {'' if rate is None else f'{rate:.2f}'} |"
        )
    return "\n".join(lines)


def find(rows: list[Row], scenario: str, contender: str, campaigns: int | None = None) -> Row:
    return next(
        row
        for row in rows
        if row.scenario.name == scenario
        and row.case.contender == contender
        and (campaigns is None or row.case.campaigns == campaigns)
    )


def verdicts(rows: list[Row]) -> list[str]:
    """The issue's targets, judged on the medians (full-size runs only)."""
    names = {row.scenario.name for row in rows}
    out = []

    def verdict(ok: bool, text: str) -> None:
        out.append(f"- {'PASS' if ok else 'FAIL'}: {text}")

    if "throughput" in names:
        fota, naive = find(rows, "throughput", FOTA), find(rows, "throughput", NAIVE)
        ratio = statistics.median(
            (f.records / f.wall_s) / (n.records / n.wall_s)
            for f, n in zip(fota.measures, naive.measures, strict=True)
        )
        cpu_ratio = (naive.median("cpu_s") or 0) / (fota.median("cpu_s") or 1)
        verdict(
            ratio >= 2.5,
            f"throughput {ratio:.2f}x naive records/s (>= 2.5x); {cpu_ratio:.2f}x less CPU",
        )
        rss = fota.median("rss_mb") or 0
        verdict(rss <= 60, f"throughput run peak RSS {rss:.1f} MB (<= 60 MB)")
    if "memory" in names:
        memory = [row for row in rows if row.scenario.name == "memory"]
        small, large = memory[0], memory[-1]
        growth = (large.median("rss_mb") or 0) / (small.median("rss_mb") or 1) - 1
        verdict(
            growth <= 0.10,
            f"{large.case.campaigns:,} campaigns use {growth:+.1%} peak RSS "
            f"of {small.case.campaigns:,} (<= +10%)",
        )
    if "single campaign" in names:
        rss = find(rows, "single campaign", FOTA).median("rss_mb") or 0
        verdict(rss <= 200, f"single campaign output checked, peak RSS {rss:.1f} MB (<= 200 MB)")
    if "latency" in names:
        run_s = find(rows, "latency", FOTA).median("run_s") or 0
        verdict(run_s <= 4.2, f"latency-bound run {run_s:.2f} s (<= 4.2 s; ideal 4.0 s)")
    if "rate" in names:
        rate = find(rows, "rate", FOTA)
        worst = max(m.max_starts_1s or 0 for m in rate.measures)
        mean = min(m.mean_rate or 0 for m in rate.measures)
        verdict(
            worst <= 20 and mean >= 19.4,
            f"--rate 20: at most {worst} starts in any 1 s "
            f"window (<= 20), mean rate {mean:.2f}/s at worst (>= 19.4)",
        )
    return out


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average at the end: {load}"
    )


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
