"""One campaign of a night as `summary` keeps it, and the order it is shown in: worst first."""

from __future__ import annotations

from typing import NamedTuple


class CampaignRow(NamedTuple):
    """One campaign of the night, as the table shows it (a tuple: 100,000 of them are kept)."""

    account: str
    upgrade: str
    firmware: str
    status: str
    outcome: str
    error_kind: str | None
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    ended: bool | None
    new: int | None
    changed: int | None
    gone: int | None
    # Schema 3 with `--inventory` only: devices on the target firmware, and of them those
    # whose phase is not `succeeded` (late successes). None without an inventory.
    on_target: int | None = None
    late: int | None = None

    @property
    def needs_a_look(self) -> bool:
        """A failed poll, or failed devices: what `--failed-only` keeps."""
        return self.outcome == "failed" or self.failed > 0


def worst_first(row: CampaignRow) -> tuple[bool, int, int, str, str]:
    """The sort key: failed polls first (nothing is known of them), then most failed, pending."""
    return (row.outcome != "failed", -row.failed, -row.pending, row.account, row.upgrade)
