"""How a run ends early: a deadline, SIGTERM/SIGINT, and the grace given to requests in flight.

The first signal (or the deadline) stops the run: no campaign starts, requests in flight get
`poll.grace_s` to finish, then they are cancelled and marked not polled like every campaign
not started. A second signal aborts: in-flight requests are cancelled at once and the records
not yet written are dropped; the run line still comes last and the file is still renamed.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable

import anyio
import structlog

from fota_poller.run.control import RunControl, cut_short

log = structlog.get_logger("fota_poller")


async def stop_at_deadline(control: RunControl, deadline_s: float, deadline_text: str) -> None:
    """Stop the run once `deadline_s` seconds have passed."""
    await anyio.sleep(deadline_s)
    log.warning("run.deadline_passed", deadline=deadline_text)
    control.stop(cut_short(f"the run's deadline of {deadline_text} passed before this campaign"))


async def stop_on_signals(control: RunControl) -> None:
    """First SIGTERM/SIGINT stops the run; the second aborts it. Runs until cancelled."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for received in signals:
            name = signal.Signals(received).name
            reason = cut_short(f"the run was stopped by {name} before this campaign")
            if control.stop_reason is None:
                log.warning("run.signal_stop", signal=name)
                control.stop(reason)
            else:
                log.warning("run.signal_abort", signal=name)
                control.abort(reason)


async def enforce_stop(
    control: RunControl,
    grace_s: float,
    in_flight: Iterable[anyio.CancelScope],
    everything: anyio.CancelScope,
) -> None:
    """After a stop, cancel in-flight requests when the grace ends; on abort, cancel it all."""
    await control.wait_stopped()
    with anyio.move_on_after(grace_s):
        await control.wait_aborted()
    for scope in list(in_flight):
        scope.cancel()
    await control.wait_aborted()
    everything.cancel()
