"""One account of 1,000,000 inventory devices: what serving its device list costs the simulator.

.venv/bin/python bench/inventory_pages.py [--server prerendered|simulate] [--extra-devices N]

Starts a simulator with 1,000 campaigns of 100 devices on one account plus --extra-devices
devices in no campaign (900,000 by default: 1,000,000 in the device list), then pages through
the whole list as a client would (startIndex 0, then each page's lastSeenDeviceId), decoding
each page with msgspec. Prints the server's start-up time (until it listens: with
`prerendered`, every page is rendered by then), the time to fetch and decode every page, the
pages and bytes, and the server's peak RSS (VmHWM from /proc).

`prerendered` is the benchmark's peer (`fota_poller.simulator.prerendered --inventory`);
`simulate` is `fota-poller simulate`, which builds the list on the first request and renders
each page when asked.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import msgspec

ACCOUNT = "0000123456-00001"
HEADERS = {"Authorization": "Bearer sim-bearer-token", "VZ-M2M-Token": "sim-session-token"}


class Device(msgspec.Struct):
    deviceId: str  # noqa: N815 - ThingSpace's name
    firmware: str


class Page(msgspec.Struct):
    accountName: str  # noqa: N815 - ThingSpace's name
    hasMoreData: bool  # noqa: N815
    lastSeenDeviceId: int | str | None  # noqa: N815
    deviceList: list[Device]  # noqa: N815


def start(server: str, extra: int) -> tuple[subprocess.Popen[str], str, float]:
    """The server, its URL, and the seconds it took to listen."""
    common = ["--campaigns=1000", f"--extra-devices={extra}", "--port=0"]
    if server == "prerendered":
        argv = [sys.executable, "-m", "fota_poller.simulator.prerendered", "--inventory"]
        argv += [*common, "--devices=100-100"]
        stream = "stdout"
    else:
        argv = [sys.executable, "-m", "fota_poller", "simulate", *common, "--devices=100-100"]
        stream = "stderr"
    started = time.monotonic()
    process = subprocess.Popen(argv, text=True, **{stream: subprocess.PIPE})  # type: ignore[call-overload]
    line = getattr(process, stream).readline()
    if "listening on " not in line:
        process.terminate()
        raise SystemExit(f"inventory_pages: the server did not start: {line!r}")
    url = line.split("listening on ", 1)[1].split(";", 1)[0].strip()
    return process, url, time.monotonic() - started


async def fetch_all(url: str) -> tuple[int, int, int, float]:
    """Pages, devices and bytes of the whole device list, and the seconds it took."""
    decoder = msgspec.json.Decoder(Page)
    pages = devices = size = 0
    last = 0
    started = time.monotonic()
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        start_index: int | str | None = 0
        while True:
            async with session.get(f"{url}/fota/v1/devices/{ACCOUNT}/index/{start_index}") as got:
                body = await got.read()
                if got.status != 200:
                    raise SystemExit(f"inventory_pages: {got.status} {body[:200]!r}")
            page = decoder.decode(body)
            pages, size = pages + 1, size + len(body)
            for device in page.deviceList:
                imei = int(device.deviceId)
                if imei <= last:
                    raise SystemExit(f"inventory_pages: IMEI {imei} out of order")
                last = imei
            devices += len(page.deviceList)
            if not page.hasMoreData:
                break
            start_index = page.lastSeenDeviceId
    return pages, devices, size, time.monotonic() - started


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Start the server, page through its device list, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", choices=("prerendered", "simulate"), default="prerendered")
    parser.add_argument("--extra-devices", type=int, default=900_000)
    args = parser.parse_args()
    process, url, startup = start(args.server, args.extra_devices)
    try:
        pages, devices, size, seconds = asyncio.run(fetch_all(url))
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"server            {args.server}")
    print(f"start-up          {startup:.1f} s")
    print(f"pages             {pages:,}")
    print(f"devices           {devices:,}")
    print(f"bytes             {size / 1e6:.1f} MB")
    print(f"fetch and decode  {seconds:.1f} s")
    print(f"server peak RSS   {rss:.1f} MB")


if __name__ == "__main__":
    main()
