"""The run's stop switch: one set-once reason to stop, then a hurry, then an abort.

What sets it (the deadline, signals, an outage, an output that fails) lives with the run
(run/stop.py) and the pacing; what waits on it (workers, pacing, id sources on a pipe) only
needs this.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import anyio
import msgspec
import structlog

from fota_poller.errors import ExitCode
from fota_poller.model.records import ErrorKind

log = structlog.get_logger("fota_poller")


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
