"""Gzip bombs against the real CLI: prints each run's outcome and the poll process's peak RSS.

.venv/bin/python bench/gzip_bomb.py [--campaigns 8] [--concurrency 8] [--inflated-mb 1024]
    [--max-response-mb 256]

Every campaign is answered with about 1 MB of gzip that inflates to --inflated-mb MiB; with
--campaigns 8 at --concurrency 8 eight bombs are read at once. The CLI runs as the only child
of a small wrapper, so RUSAGE_CHILDREN is the poll process's own peak.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import msgspec

from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions
from fota_poller.simulator.hostile import GzipBomb

decoder = msgspec.json.Decoder(DeviceRecord | CampaignRecord | RunRecord)
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


async def main(args):
    faults = FaultOptions(mix=(("gzipbomb", 1.0),), bomb_inflated_mb=args.inflated_mb)
    options = SimulatorOptions(
        campaigns=args.campaigns, devices_min=1, devices_max=3, faults=faults
    )
    async with run_simulator(options) as simulator:
        folder = Path(tempfile.mkdtemp())
        ids, output = folder / "ids.txt", folder / "out.jsonl"
        simulator.catalog.write_ids(ids)
        config = folder / "config.toml"
        config.write_text(f"[poll]\nmax_response_mb = {args.max_response_mb}\n")
        env = os.environ | {
            "THINGSPACE_BEARER_TOKEN": options.bearer_token,
            "THINGSPACE_SESSION_TOKEN": options.session_token,
        }
        command = [
            sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "fota_poller", "poll",
            "--config", str(config), "--ids", str(ids), "--output", str(output),
            "--base-url", simulator.base_url, "--rate", "0",
            "--concurrency", str(args.concurrency), "--deadline", "5m",
        ]  # fmt: skip
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        stdout, _ = await process.communicate()
        wall = time.monotonic() - started
        requests = simulator.stats.requests_total
    records = [decoder.decode(line) for line in output.read_bytes().splitlines()]
    outcomes = Counter((r.outcome, r.error_kind) for r in records if isinstance(r, CampaignRecord))
    body_mb = len(GzipBomb(args.inflated_mb).body()) / 1e6
    print(f"bomb: {body_mb:.2f} MB of gzip inflating to {args.inflated_mb} MiB each")
    print(f"cap: max_response_mb = {args.max_response_mb}; concurrency {args.concurrency}")
    print(f"exit code {process.returncode}; campaigns {dict(outcomes)}; requests {requests}")
    print(f"peak RSS of the poll process: {int(stdout) / 1024:.1f} MB; wall {wall:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--inflated-mb", type=int, default=1024)
    parser.add_argument("--max-response-mb", type=float, default=256.0)
    asyncio.run(main(parser.parse_args()))
