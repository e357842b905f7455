"""What the history says this morning: each campaign's trend and last transitions, and totals.

One reading for `state info` and `summary --state` (and the JSON both print), from the
history's readers (state/history.py): the same queries as `report`, so the numbers of each
can be checked against the others.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from fota_poller.state.history import Transition, Trend, read_transitions, read_trends
from fota_poller.state.schema import sqlite_error
from fota_poller.text import escape_controls


class CampaignNews(Trend, frozen=True):
    """A campaign's trend, and its transitions in its last committed run (if that was the last)."""

    transitions: list[Transition]


class LastNight(msgspec.Struct, frozen=True):
    """The last committed run over every campaign: transitions totalled, new, gone, stalled."""

    campaigns_stalled: int
    new: int
    gone: int
    # Every transition of the night, most devices first: new ones from null, gone ones to null.
    transitions: list[Transition]


class MorningNews(msgspec.Struct, frozen=True):
    """The night's totals, and every campaign with a history, by account and upgrade id."""

    last_night: LastNight
    campaigns: list[CampaignNews]


def morning_news(connection: sqlite3.Connection, *, stalled_after: int) -> MorningNews:
    """Read the trends and transitions (a database without history: none of either)."""
    transitions = read_transitions(connection)
    campaigns = [
        CampaignNews(
            account_name=trend.account_name,
            upgrade_id=trend.upgrade_id,
            succeeded_delta=trend.succeeded_delta,
            nights_without_progress=trend.nights_without_progress,
            projected_finish=trend.projected_finish,
            stalled=trend.stalled,
            transitions=transitions.get((trend.account_name, trend.upgrade_id), []),
        )
        for trend in read_trends(connection, nights=0, stalled_after=stalled_after)
    ]
    totals = transition_totals(transitions)
    last = LastNight(
        campaigns_stalled=sum(campaign.stalled for campaign in campaigns),
        new=sum(t.count for t in totals if t.from_status is None),
        gone=sum(t.count for t in totals if t.to_status is None),
        transitions=totals,
    )
    return MorningNews(last, campaigns)


def read_news(connection: sqlite3.Connection, path: Path, *, stalled_after: int) -> MorningNews:
    """`morning_news` in one read transaction (one snapshot); a `StateError` if it cannot."""
    try:
        connection.execute("BEGIN")
        try:
            return morning_news(connection, stalled_after=stalled_after)
        finally:
            connection.execute("COMMIT")
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None


def trend_text(campaign: CampaignNews) -> str:
    """A campaign's trend in a few words: `succeeded +3, 0 nights without progress, ...`."""
    delta = campaign.succeeded_delta
    words = [
        "succeeded " + ("(first night)" if delta is None else f"{delta:+,}"),
        f"{campaign.nights_without_progress} nights without progress",
        f"finish {campaign.projected_finish or '(no pace)'}",
    ]
    return ", ".join(words) + (", STALLED" if campaign.stalled else "")


def history_lines(news: MorningNews) -> list[str]:
    """The text of `state info` after its numbers: last night's transitions, each campaign."""
    lines = ["last night's transitions:\n"]
    lines += [f"  {escape_controls(transition_text(t))}\n" for t in news.last_night.transitions]
    lines.append("campaigns:\n")
    for campaign in news.campaigns:
        name = escape_controls(f"{campaign.account_name},{campaign.upgrade_id}")
        lines.append(f"  {name}: {trend_text(campaign)}\n")
        lines += [f"    {escape_controls(transition_text(t))}\n" for t in campaign.transitions]
    return lines


def transition_text(transition: Transition) -> str:
    """`Device Accepted -> UpgradeSuccess: 2,709` (`(new)` and `(gone)` for null)."""
    before = "(new)" if transition.from_status is None else transition.from_status
    after = "(gone)" if transition.to_status is None else transition.to_status
    return f"{before} -> {after}: {transition.count:,}"


def transition_totals(
    transitions: dict[tuple[str, str], list[Transition]],
) -> list[Transition]:
    """The transitions of every campaign added up, most devices first."""
    totals: dict[tuple[str | None, str | None], int] = {}
    for listed in transitions.values():
        for one in listed:
            key = (one.from_status, one.to_status)
            totals[key] = totals.get(key, 0) + one.count
    ordered = sorted(totals.items(), key=lambda item: (-item[1], str(item[0])))
    return [Transition(before, after, count) for (before, after), count in ordered]
