"""The afternoon script: what a user would write instead of fota-poller.

asyncio.gather over a semaphore, aiohttp, json, one line per device on stdout.
No retries, no rate limit. It is the benchmark's peer: keep it plain.

usage: python naive_poller.py IDS_FILE BASE_URL [CONCURRENCY]
"""
# Written as such a user would, not to the project's lint rules:
# ruff: noqa: ASYNC230, PTH123, UP017, SIM117, PLR0917

import asyncio
import json
import os
import sys
import uuid
from datetime import date, datetime, timezone

import aiohttp


async def fetch(session, semaphore, base_url, account, upgrade_id, run_id):
    url = f"{base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"
    async with semaphore:
        async with session.get(url) as response:
            data = await response.json()
    now = datetime.now(timezone.utc)
    polled_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    end_date = data.get("endDate")
    ended = None
    if end_date:
        ended = now.date() > date.fromisoformat(end_date[:10])
    for device in data.get("deviceList", []):
        record = {
            "record": "device",
            "run_id": run_id,
            "polled_at": polled_at,
            "account_name": account,
            "upgrade_id": upgrade_id,
            "firmware_name": data.get("firmwareName"),
            "firmware_to": data.get("firmwareTo"),
            "start_date": data.get("startDate"),
            "end_date": end_date,
            "campaign_status": data.get("status"),
            "campaign_ended": ended,
            "device_id": device.get("deviceId"),
            "status": device.get("status"),
            "result_reason": device.get("resultReason"),
        }
        sys.stdout.write(json.dumps(record) + "\n")


async def main():
    ids_file, base_url = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    headers = {
        "Authorization": "Bearer " + os.environ["THINGSPACE_BEARER_TOKEN"],
        "VZ-M2M-Token": os.environ["THINGSPACE_SESSION_TOKEN"],
    }
    with open(ids_file) as f:
        ids = [line.strip().split(",") for line in f if line.strip()]
    run_id = str(uuid.uuid4())
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(headers=headers) as session:
        await asyncio.gather(
            *(
                fetch(session, semaphore, base_url, account, upgrade_id, run_id)
                for account, upgrade_id in ids
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
