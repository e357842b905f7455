"""Acceptance 1 of issue 3 at full size: 500 campaigns at --rate 50 while tokens expire.

The simulator issues Bearer tokens that live 2 s and sessions that die after 3 s idle;
the run goes through the real poll path (`authenticated_poll`). Prints the run record's
figures and the simulator's auth counters, next to the renewals the run's length required.

    .venv/bin/python bench/auth_expiry.py [--campaigns 500] [--rate 50] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import anyio
import msgspec

from fota_poller.cli import authenticated_poll
from fota_poller.config import ApiConfig, Config, OutputConfig, PollConfig
from fota_poller.credentials import Credentials, Secret
from fota_poller.logs import configure_logging
from fota_poller.records import RunRecord
from fota_poller.redact import Redactor
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator


async def main(
    campaigns: int, rate: float, concurrency: int, bearer_ttl: float, idle: float
) -> None:
    auth = SimulatorAuthOptions(bearer_ttl_s=bearer_ttl, session_idle_ttl_s=idle)
    options = SimulatorOptions(campaigns=campaigns, devices_min=1, devices_max=50, auth=auth)
    credentials = Credentials(
        app_key=Secret(auth.app_key),
        app_secret=Secret(auth.app_secret),
        username=Secret(auth.username),
        password=Secret(auth.password),
    )
    async with run_simulator(options) as simulator:
        with tempfile.TemporaryDirectory() as folder:
            ids = Path(folder) / "ids.txt"
            output = Path(folder) / "out.jsonl"
            simulator.catalog.write_ids(ids)
            config = Config(
                api=ApiConfig(base_url=simulator.base_url),
                poll=PollConfig(concurrency=concurrency, rate=rate),
                output=OutputConfig(path=str(output)),
            )
            started = time.monotonic()
            exit_code = await authenticated_poll(config, [str(ids)], credentials, Redactor())
            elapsed = time.monotonic() - started
            run = msgspec.json.decode(output.read_bytes().splitlines()[-1], type=RunRecord)
    stats = simulator.auth.stats
    print(
        f"campaigns {campaigns}, rate {rate}/s, concurrency {concurrency}, "
        f"bearer ttl {bearer_ttl} s, session idle ttl {idle} s"
    )
    print(
        f"exit code {exit_code}; ok {run.campaigns_ok}, failed {run.campaigns_failed}, "
        f"complete {run.complete}; API requests {run.requests_total}; wall {elapsed:.2f} s"
    )
    print(
        f"Bearer lifetimes the run spanned: ceil({elapsed:.2f} / {bearer_ttl}) = "
        f"{math.ceil(elapsed / bearer_ttl)}"
    )
    for field in dataclasses.fields(stats):
        print(f"  {field.name:28} {getattr(stats, field.name)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--bearer-ttl", type=float, default=2.0)
    parser.add_argument("--session-idle-ttl", type=float, default=3.0)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(
        main, args.campaigns, args.rate, args.concurrency, args.bearer_ttl, args.session_idle_ttl
    )
