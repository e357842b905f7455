"""One account's inventory of 1,000,000 devices: memory held, peak, build and lookup time.

.venv/bin/python bench/inventory_memory.py [--devices 1000000] [--order sorted|shuffled|both]

The real fetch loop (`inventory.fetch.fetch_inventory`: retry loop, decode, upgrade times,
the store) reads 1,000 pages of 1,000 devices from a stand-in client that renders each
page's JSON when asked (no network: the cost here is the poller's own). Rendering is timed
apart and left out of the build time. `sorted` serves pages in IMEI order, as the API does;
`shuffled` serves every device in random order, so the store sorts once at the end (its
worst case). Each order runs in its own child process, so each RSS figure is its own.

Printed per order: RSS before, RSS after with the inventory held (the growth is what the
run keeps), peak RSS (pages and the sort included), build time, and lookups per second.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine

from fota_poller.api.client import HttpResponse
from fota_poller.config import PollConfig
from fota_poller.inventory.fetch import InventoryFetcher, fetch_inventory
from fota_poller.inventory.upgrade_time import UpgradeTimes
from fota_poller.model.stop import RunControl
from fota_poller.model.tally import RunTally
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import RetryPolicy

ACCOUNT = "0000123456-00001"
PAGE = 1000
MODELS = [f"Model-{c}" for c in "ABCDE"]
FIRMWARES = [f"VerizonFirmwareVersion-0{n}" for n in range(1, 4)]
PAGE_PATH = "/fota/v1/devices/"


class Imeis:
    """The account's IMEIs by position, computed rather than held: the bench's own memory
    stays out of the figures. `shuffled` is a permutation (a multiplier prime to the count).
    """

    def __init__(self, devices: int, order: str) -> None:
        self.devices = devices
        self.step = 1
        if order == "shuffled":
            self.step = next(n for n in range(7_919, devices + 7_919) if math.gcd(n, devices) == 1)

    def __getitem__(self, position: int) -> int:
        return 351756051000000 + 7 * (position * self.step % self.devices)


def device(imei: int) -> dict:
    upgraded = imei % 4 != 0
    return {
        "deviceId": str(imei),
        "mdn": str(15550000000 + imei % 10**7),
        "model": MODELS[imei % 5],
        "make": "Acme" if imei % 2 else "Globex",
        "firmware": FIRMWARES[imei % 3],
        "fotaEligible": imei % 50 != 0,
        "licenseAssigned": True,
        "upgradeTime": (
            f"2026-11-{1 + imei % 28:02d} 0{imei % 10}:03:56.{imei % 1000:03d} +0000 UTC"
            if upgraded
            else "01/01/1900 0:0:0"
        ),
    }


class PagesClient:
    """A stand-in `UpgradeClient.get`: each page's JSON rendered when it is asked for."""

    def __init__(self, imeis: Imeis) -> None:
        self.imeis = imeis
        self.render_s = 0.0

    async def get(self, url: object) -> HttpResponse:
        started = time.perf_counter()
        index = str(url).rsplit("/", 1)[1]
        start = 0 if index == "0" else int(index)
        end = min(start + PAGE, self.imeis.devices)
        chunk = [self.imeis[position] for position in range(start, end)]
        more = end < self.imeis.devices
        body = msgspec.json.encode(
            {
                "accountName": ACCOUNT,
                "hasMoreData": more,
                # The position is the index here: the shuffled order's IMEIs do not advance.
                "lastSeenDeviceId": start + PAGE if more else 0,
                "deviceList": [device(imei) for imei in chunk],
            }
        )
        self.render_s += time.perf_counter() - started
        return HttpResponse(200, body, datetime.now(UTC), 0.0)


def rss_mb() -> float:
    """The RSS now, in MB of 2**20 bytes as the other bench scripts count."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


async def measure(devices: int, order: str) -> None:
    imeis = Imeis(devices, order)
    client = PagesClient(imeis)
    poll = PollConfig()
    limiter = RateLimiter(0)
    fetcher = InventoryFetcher(
        client=client,
        base_url="http://bench",
        policy=RetryPolicy.from_config(poll),
        backoff=SharedBackoff(limiter, BackoffSettings.from_config(poll)),
        control=RunControl(),
        tally=RunTally(),
        times=UpgradeTimes(),
    )
    probes = [str(imeis[p]) for p in random.Random(7).sample(range(devices), 100_000)]
    before = rss_mb()
    started = time.perf_counter()
    result = await fetch_inventory(fetcher, ACCOUNT)
    build_s = time.perf_counter() - started - client.render_s
    after = rss_mb()
    inventory = result.inventory
    assert inventory is not None, result.failure
    assert len(inventory) == devices
    started = time.perf_counter()
    found = sum(inventory.lookup(imei) is not None for imei in probes)
    lookup_s = time.perf_counter() - started
    assert found == len(probes)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{order:>8}: {devices:,} devices, {result.pages} pages: RSS {before:.1f} -> "
        f"{after:.1f} MB (held: +{after - before:.1f} MB, "
        f"{(after - before) * 2**20 / devices:.0f} bytes a device; arrays "
        f"{inventory.array_bytes / 2**20:.1f} MB), peak RSS {peak:.1f} MB "
        f"(+{peak - before:.1f} MB); "
        f"built in {build_s:.2f} s (decode + store, rendering {client.render_s:.2f} s left out); "
        f"{len(probes) / lookup_s:,.0f} lookups/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--order", choices=["sorted", "shuffled", "both"], default="both")
    args = parser.parse_args()
    if args.order != "both":
        asyncio.run(measure(args.devices, args.order))
        return 0
    print(machine())
    for order in ("sorted", "shuffled"):
        command = [sys.executable, __file__, "--devices", str(args.devices), "--order", order]
        if subprocess.run(command, check=False).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
