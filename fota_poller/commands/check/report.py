"""What one step of `check` found: its lines and its exit code, for core.py to print.

The steps that look at files (commands/check/folders.py, id_lists.py, discovery.py) only
find; printing stays in core.py, where every line passes through the run's redactor and is
escaped. A step may print several lines, each `ok`, `FAIL` or `skip` (looked at, not
checked: an id list on a pipe is read by the night, never by the preflight).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from fota_poller.errors import ExitCode

Verdict = Literal["ok", "FAIL", "skip"]


class Finding(msgspec.Struct, frozen=True):
    """One line of a step: its verdict and what it says."""

    verdict: Verdict
    detail: str


class StepReport(msgspec.Struct):
    """A step's lines, in order, and its exit code (0 when nothing failed)."""

    step: str
    findings: list[Finding] = msgspec.field(default_factory=list)
    exit_code: int = 0

    def ok(self, detail: str) -> None:
        """A line that says what was found usable."""
        self.findings.append(Finding("ok", detail))

    def skip(self, detail: str) -> None:
        """A line for what the preflight leaves to the night, and why."""
        self.findings.append(Finding("skip", detail))

    def fail(self, detail: str, code: int) -> None:
        """A line for what the night would fail on, and the exit code it would have.

        A failure that stops the night (2: it is refused before any request) wins over one
        the night only reports at its end (1: a campaign failed).
        """
        self.findings.append(Finding("FAIL", detail))
        if self.exit_code in {0, ExitCode.CAMPAIGNS_FAILED}:
            self.exit_code = int(code)
