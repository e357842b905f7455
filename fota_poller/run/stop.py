"""How a run is stopped early: one set-once reason, and what sets it (deadline, signals).

A stop (failed authentication, the deadline, the first SIGTERM/SIGINT, an outage too long)
means no new campaign starts: requests in flight get `poll.grace_s` to finish, then they are
cancelled, and every campaign not polled still gets a failed record carrying the stop's error
kind. An abort (a second signal, an output that can no longer be written) cancels in-flight
requests at once and drops the records not yet written; the run line still comes last and
the file is still renamed.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable

import anyio
import msgspec
import structlog

from fota_poller.errors import ExitCode
from fota_poller.output.records import ErrorKind

log = structlog.get_logger("fota_poller")


class StopReason(msgspec.Struct, frozen=True):
    """Why the run stopped starting campaigns, and what the unpolled ones are marked with."""

    error_kind: ErrorKind
    message: str
    exit_code: ExitCode
    error_code: str | None = None  # the API's code behind the stop, for the records


class RunControl:
    """The run's stop switch; the first reason given wins."""

    def __init__(self) -> None:
        self.stop_reason: StopReason | None = None
        self.aborted = False
        # Created on first wait: anyio events need a running event loop, a RunControl does not.
        self._stopped_event: anyio.Event | None = None
        self._aborted_event: anyio.Event | None = None

    @property
    def stopped(self) -> bool:
        """True once any stage has asked the run to stop."""
        return self.stop_reason is not None

    def stop(self, reason: StopReason) -> None:
        """Stop starting campaigns; a later reason does not replace the first."""
        if self.stop_reason is None:
            self.stop_reason = reason
            if self._stopped_event is not None:
                self._stopped_event.set()

    def abort(self, reason: StopReason) -> None:
        """Stop at once: in-flight requests get no grace and unwritten records are dropped."""
        self.stop(reason)
        self.aborted = True
        if self._aborted_event is not None:
            self._aborted_event.set()

    async def wait_stopped(self) -> None:
        """Return once the run has been stopped."""
        if self.stop_reason is None:
            if self._stopped_event is None:
                self._stopped_event = anyio.Event()
            await self._stopped_event.wait()

    async def wait_aborted(self) -> None:
        """Return once the run has been aborted."""
        if not self.aborted:
            if self._aborted_event is None:
                self._aborted_event = anyio.Event()
            await self._aborted_event.wait()

    async def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early if the run stops; True if it is still going."""
        with anyio.move_on_after(seconds):
            await self.wait_stopped()
        return self.stop_reason is None


def cut_short(message: str) -> StopReason:
    """The stop reason of a run cut short (deadline, signal, an outage too long): exit 4."""
    return StopReason(error_kind="not_polled", message=message, exit_code=ExitCode.CUT_SHORT)


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
