"""SIGTERM half-way through a 2,000-campaign run of the real CLI; prints what the output holds.

.venv/bin/python bench/sigterm.py [--campaigns 2000] [--latency-ms 5] [--second-signal]
"""

import argparse
import asyncio
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import msgspec
from poller_process import start_poll

from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.simulator import SimulatorOptions, run_simulator

decoder = msgspec.json.Decoder(DeviceRecord | CampaignRecord | RunRecord)


class Tripwire(list):
    def __init__(self, length, event):
        super().__init__()
        self.length, self.event = length, event

    def append(self, item):
        super().append(item)
        if len(self) >= self.length:
            self.event.set()


async def main(args):
    options = SimulatorOptions(
        campaigns=args.campaigns, devices_min=1, devices_max=50, latency_ms=args.latency_ms
    )
    async with run_simulator(options) as simulator:
        folder = Path(tempfile.mkdtemp())
        ids, output = folder / "ids.txt", folder / "out.jsonl"
        simulator.catalog.write_ids(ids)
        half_way = asyncio.Event()
        simulator.stats.request_starts = Tripwire(args.campaigns // 2, half_way)
        process = await start_poll(simulator, ids, output, "--log-level", "warning")
        await half_way.wait()
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        if args.second_signal:
            # A different signal: two pending SIGTERMs would merge into one.
            process.send_signal(signal.SIGINT)
        _, stderr = await process.communicate()
        took = time.monotonic() - signalled
    records = [decoder.decode(line) for line in output.read_bytes().splitlines()]
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    per_pair = Counter(c.upgrade_id for c in campaigns)
    run = records[-1]
    print(f"exit code {process.returncode}, {took:.2f} s after SIGTERM (noisy: 2 shared cores)")
    print(f"output exists: {output.exists()}, lines: {len(records)} (all parsed)")
    print(
        f"campaign records: {len(campaigns)} for {args.campaigns} pairs; "
        f"pairs with exactly one: {sum(n == 1 for n in per_pair.values())}"
    )
    print(f"outcomes: {dict(Counter((c.outcome, c.error_kind) for c in campaigns))}")
    print(f"last line is the run record: {isinstance(run, RunRecord)}; complete: {run.complete}")
    print(f"stderr lines: {len(stderr.splitlines())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=5)
    parser.add_argument("--second-signal", action="store_true")
    asyncio.run(main(parser.parse_args()))
