"""How a run ends early: a deadline, SIGTERM/SIGINT, and the grace given to requests in flight.

The first signal (or the deadline) stops the run: no campaign starts, requests in flight get
`poll.grace_s` to finish, then they are cancelled and marked not polled like every campaign
not started. A second signal aborts: in-flight requests are cancelled at once and the records
not yet written are dropped; the run line still comes last and the file is still renamed.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable

import anyio
import structlog

from fota_poller.control import RunControl, StopReason
from fota_poller.errors import ConfigError, ExitCode

log = structlog.get_logger("fota_poller")

_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([hms]?)\s*")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `45m`, `1h30m`, `90s` or `90`; a `ConfigError` for anything else."""
    position = 0
    total = 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None or match.end() == position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text.strip():
        raise ConfigError(f"not a duration: {text!r} (use e.g. 45m, 1h30m, 90s)")
    return total


def cut_short(message: str) -> StopReason:
    """The stop reason every campaign not polled because of a deadline or a signal carries."""
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
