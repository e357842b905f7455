"""The floor: the tightest poller a Python client makes of this work (issue 23).

A fixed pool of workers over a queue, one aiohttp session, msgspec Structs to decode, the
same 14 device fields as the naive script's lines, `encode_lines` of a campaign's records
into one buffer, written 64 KB at a time. No retries, no rate limit, no campaign or run
lines, no redaction, no state: what fota-poller does on top of this is what it costs.
With a file argument it writes there and fsyncs it once at the end, as a durable output
must; otherwise stdout.

With `--fota-fields` each line carries fota-poller's 24 device fields instead (its phase
from the built-in table, the state's and the inventory's ten fields null, as a run without
`--state` or `--inventory` writes them): the same bytes as fota-poller's lines, so the table
tells what the bytes cost from what fota-poller's own work costs.

usage: python tight_client.py [--fota-fields] IDS_FILE BASE_URL [CONCURRENCY] [OUTPUT_FILE]
"""
# A bench contender, written for speed, not to the project's rules:
# ruff: noqa: PTH123, UP017, PLR0917, ASYNC230

import asyncio
import os
import sys
import uuid
from datetime import date, datetime, timezone

import aiohttp
import msgspec

WRITE_BYTES = 1 << 16


class Device(msgspec.Struct, rename="camel"):
    device_id: str | None = None
    status: str | None = None
    result_reason: str | None = None


class Upgrade(msgspec.Struct, rename="camel"):
    firmware_name: str | None = None
    firmware_to: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    status: str | None = None
    device_list: list[Device] = []


class _Head(msgspec.Struct, tag="device", tag_field="record"):
    """The fields a line starts with, the same in both kinds of line."""

    run_id: str
    polled_at: str
    account_name: str
    upgrade_id: str
    firmware_name: str | None
    firmware_to: str | None
    start_date: str | None
    end_date: str | None
    campaign_status: str | None
    campaign_ended: bool | None
    device_id: str | None
    status: str | None


class Line(_Head, tag="device", tag_field="record"):
    """The naive script's 14 fields."""

    result_reason: str | None


class FotaLine(_Head, tag="device", tag_field="record"):
    """fota-poller's device line (DeviceRecord), in its field order."""

    phase: str | None
    result_reason: str | None
    previous_status: None = None
    status_since: None = None
    change: None = None
    model: None = None
    make: None = None
    reported_firmware: None = None
    firmware_upgraded_at: None = None
    fota_eligible: None = None
    on_target: None = None


# fota-poller's built-in phases (model/phases.py), keyed as it matches them.
PHASES = {
    **dict.fromkeys(
        ("upgradesuccess", "upgradesucceeded", "upgradecomplete", "upgradecompleted",
         "success", "succeeded", "completed"),
        "succeeded",
    ),
    **dict.fromkeys(
        ("upgradefailed", "devicerejected", "licenseremovefailed", "requestfailed",
         "downloadfailed", "installfailed", "failed", "rejected", "cancelled", "canceled"),
        "failed",
    ),
    **dict.fromkeys(
        ("requestpending", "deviceaccepted", "accepted", "queued", "scheduled", "inprogress",
         "pending", "downloading", "downloaded", "installing"),
        "pending",
    ),
}  # fmt: skip
PHASE_OF: dict[str | None, str | None] = {None: None}  # each raw status, looked up once


def phase(status: str | None) -> str | None:
    found = PHASE_OF.get(status, "")
    if found == "":
        key = status.replace(" ", "").replace("_", "").replace("-", "").casefold()
        found = PHASE_OF[status] = PHASES.get(key, "unknown")
    return found


class Output:
    """Lines gathered into 64 KB writes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def add(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= WRITE_BYTES:
            self.flush()

    def flush(self) -> None:
        with memoryview(self.buffer) as whole:
            view = whole
            while view:
                view = view[os.write(self.fd, view) :]
            view.release()
        self.buffer.clear()


async def worker(session, queue, base_url, run_id, decoder, encoder, output, fota_fields) -> None:
    while True:
        item = queue.get_nowait() if not queue.empty() else None
        if item is None:
            return
        account, upgrade_id = item
        url = f"{base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"
        async with session.get(url) as response:
            body = await response.read()
        upgrade = decoder.decode(body)
        now = datetime.now(timezone.utc)
        polled_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ended = (
            None if not upgrade.end_date else now.date() > date.fromisoformat(upgrade.end_date[:10])
        )
        if fota_fields:
            lines = [
                FotaLine(
                    run_id, polled_at, account, upgrade_id, upgrade.firmware_name,
                    upgrade.firmware_to, upgrade.start_date, upgrade.end_date, upgrade.status,
                    ended, device.device_id, device.status, phase(device.status),
                    device.result_reason,
                )
                for device in upgrade.device_list
            ]  # fmt: skip
        else:
            lines = [
                Line(
                    run_id, polled_at, account, upgrade_id, upgrade.firmware_name,
                    upgrade.firmware_to, upgrade.start_date, upgrade.end_date, upgrade.status,
                    ended, device.device_id, device.status, device.result_reason,
                )
                for device in upgrade.device_list
            ]  # fmt: skip
        output.add(encoder.encode_lines(lines))


async def main() -> None:
    fota_fields = "--fota-fields" in sys.argv
    args = [arg for arg in sys.argv[1:] if arg != "--fota-fields"]
    ids_file, base_url = args[0], args[1]
    concurrency = int(args[2]) if len(args) > 2 else 50
    path = args[3] if len(args) > 3 else None
    headers = {
        "Authorization": "Bearer " + os.environ["THINGSPACE_BEARER_TOKEN"],
        "VZ-M2M-Token": os.environ["THINGSPACE_SESSION_TOKEN"],
    }
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    with open(ids_file) as f:
        for line in f:
            if line.strip():
                account, upgrade_id = line.strip().split(",")
                queue.put_nowait((account, upgrade_id))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if path else 1
    output = Output(fd)
    run_id = str(uuid.uuid4())
    decoder = msgspec.json.Decoder(Upgrade)
    encoder = msgspec.json.Encoder()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        await asyncio.gather(
            *(
                worker(session, queue, base_url, run_id, decoder, encoder, output, fota_fields)
                for _ in range(concurrency)
            )
        )
    output.flush()
    if path:
        os.fsync(fd)
        os.close(fd)


if __name__ == "__main__":
    asyncio.run(main())
