"""What the history costs a night's state commit: 1,000 campaigns staged and committed, with
their nights of history and without, on the same database.

    python bench/history_commit.py [--campaigns 1000] [--devices 200] [--nights 30] [--rounds 5]

A database of `--campaigns` campaigns of `--devices` devices each, with `--nights` nights of
history already kept (so the table, its index and retention's delete are the size a month
of nights makes them), is copied afresh for each trial. A trial is one night as a run
writes it (run/state_sync.py): every campaign's changes staged (2% of its devices move),
then one commit. With history each campaign also stages its night and its transitions, and
the commit prunes nights past `state.history_days`; without, none of it. Trials alternate
with and without, so a disk's or a neighbour's slow minute falls on both; the medians and
their ratio are printed, then the read side: each campaign's last poll read whole
(`StateStore.previous`) and, of that, its last nights (`history.campaign_nights`).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine

from fota_poller.state import history
from fota_poller.state.store import CampaignUpdate, StateStore, to_ms

ACCOUNT = "0000123456-00001"
START = datetime(2026, 11, 1, 2, tzinfo=UTC)
STATUSES = ("RequestPending", "Device Accepted", "UpgradeSuccess")


def text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def night_row(moment: datetime, devices: int, moved: int) -> history.HistoryRow:
    return history.HistoryRow(
        to_ms(moment), devices, devices // 3, 0, devices - devices // 3, 0, None, None, moved, 0
    )


def write_night(
    path: Path, number: int, *, campaigns: int, devices: int, with_history: bool
) -> tuple[float, float]:
    """One night's stage and commit, timed: (stage and commit seconds, read seconds)."""
    moment = START + number * timedelta(days=1)
    moving = max(1, devices // 50)
    with StateStore.open(path) as store:
        store.start_run(f"run-{number}", text(moment), history_days=180 if with_history else None)
        read_started = time.perf_counter()
        priors = [store.previous(ACCOUNT, f"u{c:04d}") for c in range(campaigns)]
        read = time.perf_counter() - read_started
        started = time.perf_counter()
        status = STATUSES[number % len(STATUSES)]
        for index, prior in enumerate(priors):
            ms = to_ms(moment)
            if prior.key is None:  # the first night: every device new
                upserts = [
                    (f"{index:04d}{d:011d}", STATUSES[0], None, ms, ms, None)
                    for d in range(devices)
                ]
            else:
                moved = list(prior.devices)[(number * moving) % devices :][:moving]
                upserts = [(device, status, None, ms, ms, None) for device in moved]
            store.stage(
                CampaignUpdate(
                    key=prior.key, account_name=ACCOUNT, upgrade_id=f"u{index:04d}",
                    status="InProgress", device_count=devices, polled_at=text(moment),
                    upserts=upserts, deletes=[],
                    night=night_row(moment, devices, moving) if with_history else None,
                    transitions=[("RequestPending", status, moving)] if with_history else [],
                )
            )  # fmt: skip
        store.commit(text(moment))
        return time.perf_counter() - started, read


def nights_read(path: Path, campaigns: int) -> float:
    """Seconds to read every campaign's last nights, as `previous` does."""
    with StateStore.open(path) as store:
        connection = store._db  # noqa: SLF001 - the bench measures the store's own reads
        started = time.perf_counter()
        for key in range(1, campaigns + 1):
            history.campaign_nights(connection, key, history.FIT_NIGHTS)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="history-bench-") as folder:
        base = Path(folder) / "base.db"
        for number in range(args.nights):
            write_night(
                base, number, campaigns=args.campaigns, devices=args.devices, with_history=True
            )
        timings: dict[bool, list[float]] = {True: [], False: []}
        reads: list[float] = []
        for _ in range(args.rounds):
            for with_history in (False, True):
                trial = Path(folder) / "trial.db"
                with contextlib.suppress(FileNotFoundError):
                    trial.unlink()
                shutil.copy(base, trial)
                spent, read = write_night(
                    trial,
                    args.nights,
                    campaigns=args.campaigns,
                    devices=args.devices,
                    with_history=with_history,
                )
                timings[with_history].append(spent)
                reads.append(read)
        history_read = statistics.median(nights_read(base, args.campaigns) for _ in range(3))
    without, with_ = statistics.median(timings[False]), statistics.median(timings[True])
    print(
        f"{args.campaigns:,} campaigns x {args.devices} devices, {args.nights} nights kept, "
        f"{args.rounds} rounds (median)"
    )
    print(f"stage and commit without history: {without * 1000:.1f} ms")
    print(f"stage and commit with history:    {with_ * 1000:.1f} ms ({with_ / without - 1:+.1%})")
    print(
        f"read each campaign's last poll:   {statistics.median(reads) * 1000:.1f} ms, of which "
        f"its last nights {history_read * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
