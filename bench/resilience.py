"""The issue-4 figures at full size: faults, rate limit, outage. Prints what the simulator saw.

    .venv/bin/python bench/resilience.py faults   [--campaigns 1000] [--max-attempts 8]
    .venv/bin/python bench/resilience.py ratelimit [--campaigns 1000]
    .venv/bin/python bench/resilience.py outage   [--campaigns 1000]

The SIGTERM figure needs a subprocess: see tests/scenarios/test_signals.py, or bench/sigterm.py.
"""

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import poll_simulator, polled, split, truth

from fota_poller.observe.logs import configure_logging
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions, parse_mix

FAULTS = (
    "429=0.03,408=0.02,500=0.03,502=0.02,502html=0.03,503=0.02,504=0.02,"
    "reset=0.03,truncate=0.03,stall=0.02"
)


async def main(args):
    # The outage needs a run that lasts past it: at rate 50, 1,000 campaigns take 20 s.
    default_rate = 50.0 if args.scenario == "outage" else 0.0
    poll = {
        "concurrency": args.concurrency,
        "rate": default_rate if args.rate is None else args.rate,
    }
    if args.scenario == "faults":
        faults = FaultOptions(mix=parse_mix(FAULTS), stall_s=30.0)
        poll |= {"max_attempts": args.max_attempts, "read_timeout_s": 2.0}
    elif args.scenario == "ratelimit":
        faults = FaultOptions(rate_limit=20)
        poll |= {"rate": 50}
    else:
        faults = FaultOptions(outage=(2.0, 2.0 + args.outage_s))
    options = SimulatorOptions(
        campaigns=args.campaigns,
        devices_min=1,
        devices_max=args.devices,
        faults=faults,
        seed=args.seed,
    )
    async with run_simulator(options) as simulator:
        started = time.monotonic()
        run, records = await poll_simulator(simulator, **poll)
        elapsed = time.monotonic() - started
        stats = simulator.stats
        expected = truth(simulator)
    devices, campaigns, _ = split(records)
    outcomes = Counter((c.outcome, c.error_kind) for c in campaigns)
    attempts = Counter(c.attempts for c in campaigns)
    print(f"scenario {args.scenario}: {args.campaigns} campaigns, poll {poll}")
    print(f"  outcomes: {dict(outcomes)}")
    print(f"  attempts per campaign: {dict(sorted(attempts.items()))}")
    print(
        f"  devices equal truth: {polled(devices) == expected}; "
        f"duplicates: {len(devices) - len({(d.upgrade_id, d.device_id) for d in devices})}"
    )
    print(
        f"  exit code {run.exit_code}, complete {run.complete}, "
        f"poller requests {run.requests_total}"
    )
    print(f"  simulator requests {stats.requests_total}, by status {stats.requests_by_status}")
    print(f"  faults {stats.faults_by_kind}")
    print(f"  429 share: {stats.requests_by_status.get(429, 0) / stats.requests_total:.1%}")
    print(f"  wall time {elapsed:.1f} s (noisy: 2 shared cores)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["faults", "ratelimit", "outage"])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, help="default 50 for outage, else 0 (no limit)")
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--outage-s", type=float, default=10.0, help="outage length from 2 s")
    parser.add_argument("--log-level", default="warning")
    arguments = parser.parse_args()
    configure_logging(arguments.log_level)
    anyio.run(main, arguments)
