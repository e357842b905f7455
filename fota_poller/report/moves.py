"""The report's "what moved last night": devices by transition over the night, and per campaign.

From the history's last committed run (`read_transitions`): each (from, to) status pair
summed over the campaigns, most devices first, new and gone devices named as such; then the
campaigns in which most devices moved, each with its own transitions. Statuses are API text,
escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from fota_poller.report.history import Campaign, History, Transition
from fota_poller.report.markup import text

# Transitions listed at most in the night's table; the rest are summed in one line.
TRANSITIONS_SHOWN: Final = 20
# Campaigns listed with their own transitions, most moved first.
CAMPAIGNS_SHOWN: Final = 10
_HEADING: Final = "<h2>What moved last night</h2>"

Pair = tuple[str | None, str | None]


def moves_section(history: History) -> str:
    """The night's transitions, summed, and the campaigns that moved most."""
    if not history.known:
        return f'{_HEADING}<p class="note">No history yet.</p>'
    totals = _summed(change for changes in history.transitions.values() for change in changes)
    if not totals:
        return f'{_HEADING}<p id="no-changes">No device changed status.</p>'
    ranked = _ranked(totals)
    rows = "".join(
        f'<tr class="transition"><td class="status">{_status(before, "new")}</td><td>→</td>'
        f'<td class="status">{_status(after, "gone")}</td><td class="n">{count:,}</td></tr>'
        for (before, after), count in ranked[:TRANSITIONS_SHOWN]
    )
    rest = sum(count for _, count in ranked[TRANSITIONS_SHOWN:])
    more = f'<p class="dim">and {rest:,} devices in other transitions</p>' if rest else ""
    return (
        f'{_HEADING}<table class="fit"><tr><th>from</th><th></th><th>to</th>'
        f'<th class="n">devices</th></tr>{rows}</table>{more}{_campaigns(history)}'
    )


def _campaigns(history: History) -> str:
    moved: list[tuple[int, Campaign, dict[Pair, int]]] = []
    for campaign, changes in history.transitions.items():
        pairs = _summed(changes)
        if pairs:
            moved.append((sum(pairs.values()), campaign, pairs))
    moved.sort(key=lambda item: (-item[0], item[1]))
    rows = "".join(
        f'<tr class="moved"><td><span class="id">{text(upgrade)}</span></td>'
        f'<td>{text(account)}</td><td class="n">{count:,}</td><td>'
        + "; ".join(
            f"{_status(before, 'new')} → {_status(after, 'gone')}: {devices:,}"
            for (before, after), devices in _ranked(pairs)
        )
        + "</td></tr>"
        for count, (account, upgrade), pairs in moved[:CAMPAIGNS_SHOWN]
    )
    return (
        f"<p>The {min(len(moved), CAMPAIGNS_SHOWN)} campaigns in which most devices moved:</p>"
        '<table><tr><th>upgrade</th><th>account</th><th class="n">devices</th>'
        f"<th>transitions</th></tr>{rows}</table>"
    )


def _summed(changes: Iterable[Transition]) -> dict[Pair, int]:
    totals: dict[Pair, int] = {}
    for change in changes:
        key = (change.from_status, change.to_status)
        totals[key] = totals.get(key, 0) + change.count
    return totals


def _ranked(totals: dict[Pair, int]) -> list[tuple[Pair, int]]:
    """Most devices first; ties in a fixed order (the statuses as text)."""
    return sorted(totals.items(), key=lambda item: (-item[1], str(item[0])))


def _status(status: str | None, missing: str) -> str:
    return f'<i class="dim">({missing})</i>' if status is None else text(status)
