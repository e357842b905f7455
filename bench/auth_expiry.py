"""Issue 9 acceptance 6 (and issue 3's 1) at full size: 500 campaigns at --rate 50 while
Bearer tokens live 2 s and sessions die after 3 s idle.

The simulator's token endpoint answers as ThingSpace's gateway does (`--faults sametoken`):
the same token until it has expired, `expires_in` the remaining whole seconds. The run goes
through the real poll path (`authenticated_poll`). Prints the run record's figures, the
simulator's auth counters next to the lifetimes the run spanned, and what renewals cost:
the pauses in the request stream around each new token, and within them the round trip of
the one request that proves a new token before the others follow.

    .venv/bin/python bench/auth_expiry.py [--campaigns 500] [--rate 50] [--concurrency 50]
                                          [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import msgspec

from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.redact import Redactor
from fota_poller.commands.poll.core import authenticated_poll
from fota_poller.config import ApiConfig, Config, OutputConfig, PollConfig
from fota_poller.model.records import RunRecord
from fota_poller.observe.logs import configure_logging
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator


async def main(args: argparse.Namespace) -> None:
    campaigns, rate, concurrency = args.campaigns, args.rate, args.concurrency
    bearer_ttl, idle, latency = args.bearer_ttl, args.session_idle_ttl, args.latency_ms
    auth = SimulatorAuthOptions(bearer_ttl_s=bearer_ttl, session_idle_ttl_s=idle, same_token=True)
    options = SimulatorOptions(
        campaigns=campaigns, devices_min=1, devices_max=50, auth=auth, latency_ms=latency
    )
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
        f"same-token gateway; campaigns {campaigns}, rate {rate}/s, concurrency {concurrency}, "
        f"latency {latency} ms, bearer ttl {bearer_ttl} s, session idle ttl {idle} s"
    )
    print(
        f"exit code {exit_code}; ok {run.campaigns_ok}, failed {run.campaigns_failed}, "
        f"complete {run.complete}; API requests {run.requests_total}; wall {elapsed:.2f} s"
    )
    print(
        f"Bearer lifetimes the run spanned: ceil({elapsed:.2f} / {bearer_ttl}) = "
        f"{math.ceil(elapsed / bearer_ttl)}"
    )
    lifetimes = math.ceil(elapsed / bearer_ttl)
    print(
        f"token requests {stats.token_requests} (bound: lifetimes + 1 = {lifetimes + 1}); "
        f"rejected requests {stats.expired_bearer_rejections} (bound: 2)"
    )
    for field in dataclasses.fields(stats):
        print(f"  {field.name:28} {getattr(stats, field.name)}")
    print_pauses(sorted(simulator.stats.request_starts), rate)


def print_pauses(starts: list[float], rate: float) -> None:
    """Gaps in the request stream well over the rate's interval: the renewals' cost."""
    interval = 1 / rate if rate > 0 else 0.0
    # A gap of three intervals (and 50 ms at least) is a pause, not the limiter's rhythm.
    threshold = max(3 * interval, 0.05)
    pauses = [
        (later - earlier, starts[i + 2] - later if i + 2 < len(starts) else 0.0)
        for i, (earlier, later) in enumerate(itertools.pairwise(starts))
        if later - earlier > threshold
    ]
    if not pauses:
        print("no pause in the request stream")
        return
    gaps = [gap for gap, _ in pauses]
    # The request after a pause proves the new token; the next one waits for its answer.
    probes = [probe * 1000 for _, probe in pauses]
    print(
        f"pauses in the request stream: {len(pauses)}, {sum(gaps):.2f} s in all "
        f"(each {min(gaps):.3f}-{max(gaps):.3f} s); the proving request's round trip before "
        f"the next start: median {statistics.median(probes):.1f} ms, max {max(probes):.1f} ms "
        f"(the rate's own interval is {interval * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--bearer-ttl", type=float, default=2.0)
    parser.add_argument("--session-idle-ttl", type=float, default=3.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(main, args)
