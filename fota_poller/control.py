"""How a run is stopped early: one shared, set-once reason that every stage checks.

A stop (failed authentication, a deadline, a signal) means no new campaign starts; every
campaign not yet polled still gets a failed record carrying the stop's error kind.
"""

from __future__ import annotations

import msgspec

from fota_poller.errors import ExitCode
from fota_poller.records import ErrorKind


class StopReason(msgspec.Struct, frozen=True):
    """Why the run stopped starting campaigns, and what the unpolled ones are marked with."""

    error_kind: ErrorKind
    message: str
    exit_code: ExitCode


class RunControl:
    """The run's stop switch; the first reason given wins."""

    def __init__(self) -> None:
        self.stop_reason: StopReason | None = None

    @property
    def stopped(self) -> bool:
        """True once any stage has asked the run to stop."""
        return self.stop_reason is not None

    def stop(self, reason: StopReason) -> None:
        """Stop starting campaigns; a later reason does not replace the first."""
        if self.stop_reason is None:
            self.stop_reason = reason
