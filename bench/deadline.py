"""A million campaigns, a 10 s deadline, a slow server: how long until the real CLI exits?

Issue 9: the run stops starting campaigns at its deadline, then must still write a
`not_polled` record for every campaign left, fast enough to exit within poll.grace_s plus a
few seconds of the deadline. Prints the wall time from start to exit and checks the output.

.venv/bin/python bench/deadline.py [--ids 1000000] [--deadline 10s] [--latency-ms 200]
"""

import argparse
import asyncio
import os
import random
import resource
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import msgspec
from poller_process import start_poll

from fota_poller.model.records import RunRecord
from fota_poller.simulator import SimulatorOptions, run_simulator

ACCOUNT = "0000123456-00001"


class _Kind(msgspec.Struct):
    record: str
    error_kind: str | None = None


def write_unknown_ids(path: Path, count: int, seed: int = 9) -> None:
    """`count` random upgrade ids on the simulator's account: each is answered 400."""
    generator = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.writelines(
            f"{ACCOUNT},{uuid.UUID(int=generator.getrandbits(128), version=4)}\n"
            for _ in range(count)
        )


async def run_cli(
    args: argparse.Namespace, ids: Path, output: Path
) -> tuple[int, float, int, bytes]:
    """Poll `ids` into `output` through the real CLI: exit code, seconds, requests, stderr."""
    options = SimulatorOptions(campaigns=10, latency_ms=args.latency_ms, accounts=(ACCOUNT,))
    async with run_simulator(options) as simulator:
        started = time.monotonic()
        process = await start_poll(
            simulator,
            ids,
            output,
            "--concurrency",
            str(args.concurrency),
            "--deadline",
            args.deadline,
        )
        _, stderr = await process.communicate()
        took = time.monotonic() - started
        assert process.returncode is not None
        return process.returncode, took, simulator.stats.requests_total, stderr


def main(args: argparse.Namespace) -> None:
    # In memory where there is a /dev/shm, and removed at the end: a run leaves 350 MB there.
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        folder = Path(tmp)
        ids, output = folder / "ids.txt", folder / "out.jsonl"
        write_unknown_ids(ids, args.ids)
        exit_code, took, requests, stderr = asyncio.run(run_cli(args, ids, output))
        lines = output.read_bytes().splitlines()
    decoder = msgspec.json.Decoder(_Kind)
    kinds = Counter(decoder.decode(line).error_kind for line in lines[:-1])
    run = msgspec.json.decode(lines[-1], type=RunRecord)
    print(f"{args.ids} ids, --deadline {args.deadline}, server latency {args.latency_ms} ms")
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"exit code {exit_code}, {took:.2f} s from start to exit")
    print(f"poller CPU: {cpu.ru_utime:.2f} s user + {cpu.ru_stime:.2f} s system (wall time on a")
    print(f"  shared machine grows with its load: {os.getloadavg()[0]:.1f} now)")
    print(f"campaign records: {sum(kinds.values())} ({dict(kinds)}); requests: {requests}")
    print(f"run record: complete {run.complete}, campaigns_total {run.campaigns_total}")
    print(f"stderr: {len(stderr)} bytes, {len(stderr.splitlines())} lines")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--deadline", default="10s")
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    main(parser.parse_args())
