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
from collections.abc import AsyncIterator, Callable, Iterable

import anyio
import anyio.abc
import msgspec
import structlog

from fota_poller.errors import ExitCode
from fota_poller.output.records import ErrorKind

log = structlog.get_logger("fota_poller")

# SIGHUP too: a terminal that closes, or `kill -HUP`, ends a run as cleanly as SIGTERM.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopReason(msgspec.Struct, frozen=True):
    """Why the run stopped starting campaigns, and what the unpolled ones are marked with."""

    error_kind: ErrorKind
    message: str
    exit_code: ExitCode
    error_code: str | None = None  # the API's code behind the stop, for the records


class RunControl:
    """The run's stop switch; the first reason given wins, then a hurry, then an abort."""

    def __init__(self) -> None:
        self.stop_reason: StopReason | None = None
        # A second signal: the grace is over, the campaigns left must get their records fast.
        self.hurry_reason: StopReason | None = None
        # Everything cancelled: its exit code is the run's when records were lost.
        self.abort_reason: StopReason | None = None
        # No more waiting for input that has not arrived (an id list on a pipe).
        self.input_cut = False
        # Once the run's records are committed, a signal calls this (cuts the logout short).
        self.run_over = False
        self._after_run: Callable[[], None] | None = None
        # Created on first wait: anyio events need a running event loop, a RunControl does not.
        self._events: dict[str, anyio.Event] = {}

    @property
    def stopped(self) -> bool:
        """True once any stage has asked the run to stop."""
        return self.stop_reason is not None

    @property
    def aborted(self) -> bool:
        """True once the run has been aborted."""
        return self.abort_reason is not None

    def stop(self, reason: StopReason) -> None:
        """Stop starting campaigns; a later reason does not replace the first."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self._fire("stopped")

    def hurry(self, reason: StopReason) -> None:
        """End the grace at once; `reason` is the abort's should the records not be in time."""
        self.stop(reason)
        if self.hurry_reason is None:
            self.hurry_reason = reason
            self._fire("hurried")

    def abort(self, reason: StopReason) -> None:
        """Stop at once: in-flight requests get no grace and unwritten records are dropped."""
        self.hurry(reason)
        if self.abort_reason is None:
            self.abort_reason = reason
            self._fire("aborted")

    def cut_input(self) -> None:
        """Wait no more for input: sources still waiting for their next line end."""
        self.input_cut = True
        self._fire("input_cut")

    def after_run(self, on_signal: Callable[[], None]) -> None:
        """The run's output is committed: a signal from now on calls `on_signal` and no more."""
        self.run_over = True
        self._after_run = on_signal

    async def wait_stopped(self) -> None:
        """Return once the run has been stopped."""
        await self._wait("stopped", self.stopped)

    async def wait_hurried(self) -> None:
        """Return once the stop has been hurried (or the run aborted)."""
        await self._wait("hurried", self.hurry_reason is not None)

    async def wait_aborted(self) -> None:
        """Return once the run has been aborted."""
        await self._wait("aborted", self.aborted)

    async def wait_input_cut(self) -> None:
        """Return once input is no longer waited for."""
        await self._wait("input_cut", self.input_cut)

    async def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early if the run stops; True if it is still going."""
        with anyio.move_on_after(seconds):
            await self.wait_stopped()
        return self.stop_reason is None

    def signalled(self, received: int) -> None:
        """One stop signal: the first stops, the second hurries, a third aborts."""
        name = signal.Signals(received).name
        if self.run_over:
            log.warning("run.signal_after_run", signal=name, logout="cut short")
            if self._after_run is not None:
                self._after_run()
            return
        # 128 + the number, as a shell reports a process the signal killed: the exit code of
        # a run whose output a hurried or aborted stop leaves uncommitted.
        lost = StopReason(
            error_kind="not_polled",
            message=f"the run was stopped by {name} before this campaign",
            exit_code=ExitCode(128 + received),
        )
        if self.stop_reason is None:
            log.warning("run.signal_stop", signal=name)
            self.stop(cut_short(lost.message))
        elif self.hurry_reason is None:
            log.warning("run.signal_hurry", signal=name, requests_in_flight="cancelled")
            self.hurry(lost)
        else:
            log.warning("run.signal_abort", signal=name)
            self.abort(lost)

    def _fire(self, name: str) -> None:
        event = self._events.get(name)
        if event is not None:
            event.set()

    async def _wait(self, name: str, done: bool) -> None:
        if not done:
            await self._events.setdefault(name, anyio.Event()).wait()


def cut_short(message: str) -> StopReason:
    """The stop reason of a run cut short (deadline, signal, an outage too long): exit 4."""
    return StopReason(error_kind="not_polled", message=message, exit_code=ExitCode.CUT_SHORT)


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
