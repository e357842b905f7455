"""`summary --state`'s history: each campaign's trend and last night's transitions.

From the state's history (state/night_report.py), the same reading `state info` and
`report` make: without --state none of it is shown, and a night's records read as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from fota_poller.state.night_report import CampaignNews, LastNight, MorningNews, transition_text
from fota_poller.summary.row import CampaignRow

# After the CSV's columns with --state: the campaign's course (state/history.py).
TREND_COLUMNS: Final = ("succeeded_delta", "nights_without_progress", "projected_finish", "stalled")
# Each campaign's trend by (account, upgrade id).
Trends = Mapping[tuple[str, str], CampaignNews]


def history_view(news: MorningNews | None) -> tuple[Trends | None, LastNight | None]:
    """A view's trends and last night from the state's news (None, None without --state)."""
    if news is None:
        return None, None
    return {(c.account_name, c.upgrade_id): c for c in news.campaigns}, news.last_night


def trend_fields(trend: CampaignNews | None) -> dict[str, object]:
    """A row's trend keys (`TREND_COLUMNS`): null for a campaign the history does not know."""
    if trend is None:
        return dict.fromkeys(TREND_COLUMNS)
    return {
        "succeeded_delta": trend.succeeded_delta,
        "nights_without_progress": trend.nights_without_progress,
        "projected_finish": trend.projected_finish,
        "stalled": trend.stalled,
    }


def add_trend(
    trends: Trends | None,
    row: CampaignRow,
    fields: dict[str, object],
    *,
    transitions: bool = True,
) -> dict[str, object]:
    """`fields` and, with --state, the row's trend keys (and its last transitions)."""
    if trends is None:
        return fields
    trend = trends.get((row.account, row.upgrade))
    fields.update(trend_fields(trend))
    if transitions:
        fields["transitions"] = [] if trend is None else trend.transitions
    return fields


def trend_cells(trend: CampaignNews | None) -> list[object]:
    """A table's trend cells: succeeded +/-, nights without progress, finish, stalled."""
    if trend is None:
        return ["", "", "", ""]
    delta = "" if trend.succeeded_delta is None else f"{trend.succeeded_delta:+}"
    stalled = "STALLED" if trend.stalled else ""
    return [delta, trend.nights_without_progress, trend.projected_finish, stalled]


def last_night_lines(last: LastNight | None, cell: Callable[[str], str], bullet: str) -> list[str]:
    """Last night's transitions in words (with --state), most devices first; `cell` escapes."""
    if last is None:
        return []
    head = f"{bullet}last night: {last.new:,} new, {last.gone:,} gone, "
    lines = [head + f"{last.campaigns_stalled} campaign(s) stalled"]
    lines += [f"  {bullet}{cell(transition_text(t))}" for t in last.transitions]
    return lines
