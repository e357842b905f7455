"""What the history costs a night's state commit: 1,000 campaigns staged and committed, with
their nights of history and without, on the same database.

    python bench/history_commit.py [--campaigns 1000] [--devices 200 | --devices MIN-MAX]
        [--nights 30] [--rounds 5] [--moving 0.02]

A database of `--campaigns` campaigns of `--devices` devices each (`MIN-MAX`, as `simulate`
takes it: each campaign's size drawn from that range, uniformly, by a generator seeded with 0,
so every run of the bench has the same fleet; `1-2000` is the simulator's default), with
`--nights` nights of history already kept (so the table and retention's delete are the size a
month of nights makes them), is copied afresh for each trial. A trial is one night as a run
writes it (run/state_sync.py): every campaign's changes staged (`--moving` of its devices
change, 2% by default), then one commit; that is what is timed (each campaign's `CampaignUpdate`
is made before, as a run's workers make it), its wall time, its thread's CPU time, and what it
appends to the -wal file. A trial runs under the garbage collector a run sets
(`collector_for_a_run`: what was there before frozen, a young collection per 10,000
allocations), after a full collection, and another just before the timed part: with Python's
default one the bench's own objects (every campaign's last poll, held at once, which a run never
holds) were walked again and again in the timed part, more often with the history's allocations
than without, and that was most of the figure's noise; and every campaign's night and update,
made at once just before the timed part, were young there, so the first young collection in it
walked them all (0.6 ms of CPU more with history), where a run has only those of the campaigns
in flight. With history each campaign also stages its night (linked to its night before) and its
transitions, and the commit prunes nights past `state.history_days`; without, none of it. Trials
alternate with and without, so a disk's or a neighbour's slow minute falls on both (in turn
first); the medians are printed, and what the history adds as the median of each round's ratio,
so a drift over the rounds cancels. Then what the history costs outside the commit: the workers
computing each campaign's night, recent nights and trend (output/trend.py, as a run's workers
do, untimed in the commit's figure), and each campaign's last poll read whole
(`StateStore.previous`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine

from fota_poller.commands.poll.process import collector_for_a_run
from fota_poller.model.records import Phase
from fota_poller.model.refs import CampaignRef
from fota_poller.output.inventory_join import InventoryCounts
from fota_poller.output.trend import Tonight, TonightState, campaign_night
from fota_poller.state.store import CampaignUpdate, Prior, StateStore
from fota_poller.state.times import to_ms

ACCOUNT = "0000123456-00001"
START = datetime(2026, 11, 1, 2, tzinfo=UTC)
STATUSES = ("RequestPending", "Device Accepted", "UpgradeSuccess")


def text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def tonight(prior: Prior, number: int, index: int, devices: int, moved: int) -> TonightState:
    """Night `number` of a campaign: its night, recent nights and trend, as a worker's."""
    moment = START + number * timedelta(days=1)
    succeeded = min(devices, moved * number)
    counts: dict[Phase, int] = {"succeeded": succeeded, "pending": devices - succeeded}
    ref = CampaignRef(ACCOUNT, f"u{index:04d}")
    now = Tonight("run", ref, text(moment), to_ms(moment), moved)
    return campaign_night(prior, counts, InventoryCounts(), now, stalled_after=3)


class Night(NamedTuple):
    """One night's seconds: the store's stage and commit, the workers' part, the reads."""

    commit: float
    commit_cpu: float  # the thread's CPU seconds in the stage and commit
    stage_cpu: float  # of which in staging the campaigns
    wal_bytes: int  # what the commit appended to the -wal file
    workers: float
    read: float


def write_night(
    path: Path,
    number: int,
    *,
    sizes: list[int],
    moving: float = 0.02,
    with_history: bool,
) -> Night:
    """One night as a run writes it, timed (the devices' changes are made untimed).

    `sizes`: each campaign's devices.
    """
    moment = START + number * timedelta(days=1)
    moving_in = [max(1, round(devices * moving)) for devices in sizes]
    with StateStore.open(path) as store:
        store.start_run(f"run-{number}", text(moment), history_days=180 if with_history else None)
        read_started = time.perf_counter()
        priors = [store.previous(ACCOUNT, f"u{c:04d}") for c in range(len(sizes))]
        read = time.perf_counter() - read_started
        status = STATUSES[number % len(STATUSES)]
        changes = []
        for index, prior in enumerate(priors):
            ms = to_ms(moment)
            devices, moved_devices = sizes[index], moving_in[index]
            if prior.key is None:  # the first night: every device new
                upserts = [
                    (f"{index:04d}{d:011d}", STATUSES[0], None, ms, ms, None)
                    for d in range(devices)
                ]
            else:
                moved = list(prior.devices)[(number * moved_devices) % devices :][:moved_devices]
                upserts = [(device, status, None, ms, ms, None) for device in moved]
            changes.append(upserts)
        started = time.perf_counter()
        nights = [
            tonight(prior, number, index, sizes[index], moving_in[index]) if with_history else None
            for index, prior in enumerate(priors)
        ]
        workers = time.perf_counter() - started
        # Made by the workers in a run (output/changes.py), handed to the store: not timed.
        made = enumerate(zip(priors, changes, nights, strict=True))
        updates = [
            CampaignUpdate(
                key=prior.key, account_name=ACCOUNT, upgrade_id=f"u{index:04d}",
                status="InProgress", device_count=sizes[index], polled_at=text(moment),
                upserts=upserts, deletes=[],
                night=None if night is None else night.night,
                transitions=[("RequestPending", status, moving_in[index])] if night else [],
            )
            for index, (prior, upserts, night) in made
        ]  # fmt: skip
        wal = Path(f"{path}-wal")
        wal_before = wal.stat().st_size if wal.exists() else 0
        # What the trial made for every campaign at once (priors, nights, updates), which a
        # run never holds at once, goes to the oldest generation: no young collection in the
        # timed part walks it (it did, a thousand campaigns' nights more with history).
        gc.collect()
        started, cpu_started = time.perf_counter(), time.thread_time()
        for update in updates:
            store.stage(update)
        staged_cpu = time.thread_time()
        store.commit(text(moment))
        spent, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        stage_cpu = staged_cpu - cpu_started
        return Night(spent, cpu, stage_cpu, wal.stat().st_size - wal_before, workers, read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--devices", default="200", help="a campaign's devices: N or MIN-MAX")
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--moving", type=float, default=0.02, help="share of each campaign's devices moving"
    )
    args = parser.parse_args()
    low, _, high = args.devices.partition("-")
    try:
        smallest, largest = int(low), int(high or low)
    except ValueError:
        parser.error(f"--devices takes N or MIN-MAX, e.g. 1-2000, not {args.devices!r}")
    draw = random.Random(0)
    sizes = [draw.randint(smallest, largest) for _ in range(args.campaigns)]
    print(machine())
    with tempfile.TemporaryDirectory(prefix="history-bench-") as folder:
        base = Path(folder) / "base.db"
        for number in range(args.nights):
            write_night(base, number, sizes=sizes, with_history=True)
        timings: dict[bool, list[Night]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for with_history in (False, True) if round_ % 2 == 0 else (True, False):
                trial = Path(folder) / "trial.db"
                with contextlib.suppress(FileNotFoundError):
                    trial.unlink()
                shutil.copy(base, trial)
                gc.collect()
                with collector_for_a_run():
                    timings[with_history].append(
                        write_night(
                            trial,
                            args.nights,
                            sizes=sizes,
                            moving=args.moving,
                            with_history=with_history,
                        )
                    )

    def median(field: str, *, with_history: bool) -> float:
        return statistics.median(getattr(night, field) for night in timings[with_history])

    def paired(field: str) -> float:
        """The median of each round's ratio: a drift over the rounds falls on both sides."""
        pairs = zip(timings[True], timings[False], strict=True)
        return statistics.median(getattr(w, field) / getattr(wo, field) for w, wo in pairs) - 1

    without, with_ = median("commit", with_history=False), median("commit", with_history=True)
    cpu_without = median("commit_cpu", with_history=False)
    cpu_with = median("commit_cpu", with_history=True)
    wal_without = median("wal_bytes", with_history=False)
    wal_with = median("wal_bytes", with_history=True)
    workers = statistics.median(night.workers for night in timings[True])
    print(
        f"{args.campaigns:,} campaigns x {args.devices} devices, {args.nights} nights kept, "
        f"{args.moving:.0%} of devices moving, {args.rounds} rounds (medians; added: the "
        "median of each round's ratio)"
    )
    print(f"stage and commit without history: {without * 1000:.1f} ms")
    added = paired("commit")
    print(f"stage and commit with history:    {with_ * 1000:.1f} ms (added {added:+.1%})")
    print(
        f"  its CPU without / with:         {cpu_without * 1000:.1f} / {cpu_with * 1000:.1f} ms "
        f"(added {paired('commit_cpu'):+.1%})"
    )
    # The parts, as the history's own milliseconds: steadier than the ratio of the whole,
    # whose medians moved by 1.6 points between runs of the same code (bench/README.md).
    stage_added = median("stage_cpu", with_history=True) - median("stage_cpu", with_history=False)
    commit_added = (cpu_with - median("stage_cpu", with_history=True)) - (
        cpu_without - median("stage_cpu", with_history=False)
    )
    print(
        f"  its CPU the history adds:       {stage_added * 1000:+.2f} ms staging, "
        f"{commit_added * 1000:+.2f} ms committing (differences of medians)"
    )
    print(
        f"  its -wal bytes without / with:  {wal_without / 1e6:.2f} / {wal_with / 1e6:.2f} MB "
        f"({wal_with / wal_without - 1:+.1%})"
    )
    print(f"the workers' part with history:   {workers * 1000:.1f} ms (night, recent, trend)")
    for with_history in (False, True):
        read = statistics.median(night.read for night in timings[with_history])
        print(
            f"read each campaign's last poll:   {read * 1000:.1f} ms "
            f"({'with' if with_history else 'without'} history)"
        )


if __name__ == "__main__":
    main()
