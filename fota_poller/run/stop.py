"""How a run is stopped early: one set-once reason, and what sets it (deadline, signals).

A stop (failed authentication, the deadline, the first SIGTERM/SIGINT/SIGHUP, an outage too
long) means no new campaign starts: requests in flight, and an id list still arriving on a
pipe, get `poll.grace_s` to finish; then the requests are cancelled and the pipe is no longer
waited for, and every campaign read but not polled still gets a failed record carrying the
stop's error kind. A second signal hurries the stop: the grace ends at once, and the records
of the campaigns left get `poll.grace_s` to be written. An abort (a third signal, a hurried
stop whose records were not all written in time, an output that can no longer be written)
cancels everything at once; some campaigns then have no record, so the pipeline commits no
output (the previous file stays as it was). After the run, a signal only cuts the logout short.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator, Iterable

import anyio
import anyio.abc
import structlog

from fota_poller.model.stop import RunControl, cut_short

log = structlog.get_logger("fota_poller")

# SIGHUP too: a terminal that closes, or `kill -HUP`, ends a run as cleanly as SIGTERM.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def stop_at_deadline(control: RunControl, deadline_s: float, deadline_text: str) -> None:
    """Stop the run once `deadline_s` seconds have passed."""
    await anyio.sleep(deadline_s)
    log.warning("run.deadline_passed", deadline=deadline_text)
    control.stop(cut_short(f"the run's deadline of {deadline_text} passed before this campaign"))


async def stop_on_signals(
    control: RunControl, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Hand each SIGTERM, SIGINT and SIGHUP to `control.signalled`. Runs until cancelled.

    `task_status` is told once the handlers are in place (`TaskGroup.start` waits for it).
    Once cancelled (the run, its logout and its metrics are over), the signals are ignored
    for the rest of the process: removing the event loop's handlers puts back the defaults
    (SIGINT a KeyboardInterrupt, SIGTERM and SIGHUP the end of the process), and a signal in
    the last moments of a finished run would otherwise turn its exit code into a traceback
    or a kill by signal.
    """
    try:
        with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
            task_status.started()
            async for received in signals:
                control.signalled(received)
    finally:
        ignore_stop_signals()


def ignore_stop_signals() -> None:
    """SIGTERM, SIGINT and SIGHUP ignored from now on (the run is over: nothing to stop)."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


@contextlib.asynccontextmanager
async def signals_handled(control: RunControl) -> AsyncIterator[None]:
    """Signals go to `control` for the whole block, so none kills the process in it.

    Spanning the logout, the metrics and the lock's release: a signal there must not end
    the process before the metrics file is written.
    """
    raised: BaseException | None = None
    async with anyio.create_task_group() as group:
        # Started, not start_soon: a signal before the task's first turn would find no
        # handler (SIGINT a KeyboardInterrupt, SIGHUP the end of the process).
        await group.start(stop_on_signals, control)
        try:
            yield
        except BaseException as exc:  # noqa: BLE001 - raised again below
            # Raised outside the task group, which would wrap it in an ExceptionGroup: the
            # CLI turns a `FotaPollerError` (the lock held, exit 75) into its one line.
            raised = exc
        group.cancel_scope.cancel()
    if raised is not None:
        raise raised


async def enforce_stop(
    control: RunControl,
    grace_s: float,
    in_flight: Iterable[anyio.CancelScope],
    everything: anyio.CancelScope,
) -> None:
    """After a stop, end the grace (cancel requests, cut input); abort if hurried too long."""
    await control.wait_stopped()
    with anyio.move_on_after(grace_s):
        await control.wait_hurried()
    control.cut_input()
    for scope in list(in_flight):
        scope.cancel()
    await control.wait_hurried()
    # The records of the campaigns left get one more grace; then the output is given up.
    with anyio.move_on_after(grace_s):
        await control.wait_aborted()
    if control.abort_reason is None and control.hurry_reason is not None:
        log.warning("run.hurry_timed_out", grace_s=grace_s)
        control.abort(control.hurry_reason)
    everything.cancel()
