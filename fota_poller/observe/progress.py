"""A progress bar on stderr for a person watching a terminal, and nothing for anyone else.

tqdm rather than rich: it has no dependencies and its one job is this bar. It draws on
stderr only when stderr is a terminal, so cron mail, pipes and CI logs never get it, and it
is imported only then (about 9 ms of a start, bench/startup.py). It
writes through the run's `StderrStream` (observe/stderr.py), so a terminal that goes away
never ends the run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Never, TextIO

from fota_poller.model.tally import RunTally
from fota_poller.observe.stderr import StderrStream

if TYPE_CHECKING:
    from tqdm import tqdm

# Redraw at most this often: a fast run writes thousands of campaigns a second.
_REDRAW_INTERVAL_S = 0.2


class ProgressBar:
    """Campaigns done of the total once known, devices, failures and the current rate."""

    def __init__(self, stream: StderrStream) -> None:
        from tqdm import tqdm  # noqa: PLC0415 - a terminal's only (module docstring)

        self._bar: tqdm[Never] = tqdm(
            desc="campaigns",
            unit=" campaigns",
            file=stream,
            mininterval=_REDRAW_INTERVAL_S,
            dynamic_ncols=True,
            leave=True,
        )

    def update(self, tally: RunTally) -> None:
        """Show what `tally` counts now."""
        total = tally.campaigns_total
        if total is not None and self._bar.total != total:
            self._bar.total = total
        figures = {"devices": tally.devices_written, "failed": tally.campaigns_by_outcome["failed"]}
        if tally.inventory_requests:
            # --inventory: its device-list pages, fetched while the first campaigns wait.
            figures["inventory pages"] = tally.inventory_requests
        self._bar.set_postfix(figures, refresh=False)
        self._bar.update(tally.campaigns_written - self._bar.n)

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._bar.close()


class BarSafeStream:
    """A terminal stream for log lines that never lands a line in the middle of the bar.

    Each whole line is written with any bar cleared first and redrawn under it.
    """

    def __init__(self, stream: StderrStream) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        """Hold text until a line is complete, then write the complete lines."""
        self._pending += text
        if "\n" in self._pending:
            lines, _, self._pending = self._pending.rpartition("\n")
            from tqdm import tqdm  # noqa: PLC0415 - a terminal's only (module docstring)

            with tqdm.external_write_mode(file=self._stream):
                self._stream.write(lines + "\n")
                self._stream.flush()
        return len(text)

    def flush(self) -> None:
        """Flush the terminal; a partial line waits for its end."""
        self._stream.flush()

    def isatty(self) -> bool:
        """Whether the stream underneath is a terminal."""
        return self._stream.isatty()


def open_progress(
    stream: StderrStream, output: str | None, stdout: TextIO | None = None
) -> ProgressBar | None:
    """A bar on `stream` when it is a terminal and the records do not go to one; else None.

    With the records on the same terminal (no `--output`), a bar redrawn over them glues its
    text to the front of JSON lines: no bar then, and one line on `stream` saying what to do.
    """
    if not stream.isatty():
        return None
    records = stdout if stdout is not None else sys.stdout
    # A closed stdout (`>&-`) is None: no terminal there.
    if (output is None or output == "-") and records is not None and records.isatty():
        stream.write(
            "fota-poller: records go to this terminal; for a file and a progress bar give "
            "--output FILE, and `fota-poller summary FILE` reads the night\n"
        )
        stream.flush()
        return None
    return ProgressBar(stream)
