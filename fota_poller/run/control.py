"""How a run is stopped early: one shared, set-once reason that every stage checks.

A stop (failed authentication, a deadline, a signal) means no new campaign starts; every
campaign not yet polled still gets a failed record carrying the stop's error kind.
"""

from __future__ import annotations

import anyio
import msgspec

from fota_poller.errors import ExitCode
from fota_poller.output.records import ErrorKind


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
