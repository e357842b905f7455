"""The report's campaign sections: every campaign worst first, and the most stuck ones.

Each campaign has its burn-up chart and its pace; then the campaigns with most stuck devices.

The rows are `summary --state --format json`'s, in its order; a campaign's nights, pace,
projected finish and stall come from the history (`history.py`), and show as a dash where
the state database has none for it.
"""

from __future__ import annotations

from typing import Final

from fota_poller.report.charts import Column, burn_up
from fota_poller.report.facts import CampaignFacts, ReportFacts
from fota_poller.report.history import CampaignTrend
from fota_poller.report.markup import DASH, number, text

# Campaigns listed under "stuck devices", most stuck first.
STUCK_SHOWN: Final = 20
# The count columns of a campaign row, in order: their JSON key (`summary`'s row) and heading.
_COUNTS: Final = (
    ("devices", "devices"),
    ("succeeded", "succeeded"),
    ("failed", "failed"),
    ("pending", "pending"),
    ("unknown", "unknown"),
    ("stuck", "stuck"),
)
_LATE: Final = ("devices_late", "late")
# The history's columns after the counts (the chart's has no key).
_TRENDS: Final = (
    ("", "nights"),
    ("succeeded_delta", "Δ succeeded"),
    ("projected_finish", "finish"),
    ("", "progress"),
)


def campaign_section(facts: ReportFacts) -> str:
    """Every campaign of the summary, worst first, one table row each.

    A row's cells carry no attribute: a thousand rows keep the page under a megabyte. Each
    column's JSON key is its heading's `data-f`; the style aligns the counts by position.
    """
    rows = facts.summary.rows
    inventory = facts.summary.devices.late is not None
    counts = (*_COUNTS, _LATE) if inventory else _COUNTS
    trends = {(trend.account_name, trend.upgrade_id): trend for trend in facts.history.trends}
    accounts = len({row.account_name for row in rows}) > 1
    heads = "".join(
        f'<th data-f="{key}">{head}</th>'
        for key, head in (("upgrade_id", "campaign"), ("firmware", "firmware"),
                          ("campaign_status", "status"), *counts, *_TRENDS)
    )  # fmt: skip
    body = "".join(
        _row(row, trends.get((row.account_name, row.upgrade_id)), counts, accounts=accounts)
        for row in rows
    )
    shown = len(rows)
    of = facts.campaigns_of
    cut = f" (the worst {shown:,} of {of:,}: <code>--limit</code>)" if shown < of else ""
    history = (
        "" if facts.history.known else '<p class="note">No history yet: no nights to draw.</p>'
    )
    return (
        f"<h2>Campaigns, worst first{cut}</h2>{history}"
        '<p class="dim">Nights: succeeded (bottom) and failed over the nights kept, pending '
        "the rest. Finish: when every device would be succeeded or failed at the pace of the "
        "last nights.</p>"
        f'<div class="wide"><table class="campaigns"><thead><tr>{heads}</tr></thead>'
        f'<tbody id="campaigns">{body}</tbody></table></div>'
    )


def _row(
    row: CampaignFacts,
    trend: CampaignTrend | None,
    counts: tuple[tuple[str, str], ...],
    *,
    accounts: bool,
) -> str:
    stalled = trend is not None and trend.stalled
    status = (
        text(row.campaign_status)
        if row.outcome == "ok"
        else f'<span class="warn">poll failed: {text(row.error_kind)}</span>'
    )
    # The whole id, cut to its first characters by the style: a copy takes it whole.
    account = f'<br><span class="dim">{text(row.account_name)}</span>' if accounts else ""
    cells = [
        f'<td><span class="id">{text(row.upgrade_id)}</span>{account}</td>',
        f"<td>{text(row.firmware)}</td><td>{status}</td>",
    ]
    cells += [f"<td>{number(getattr(row, key))}</td>" for key, _ in counts]
    cells.append(_trend_cells(trend))
    return f'<tr class="campaign{" stalled" if stalled else ""}">{"".join(cells)}</tr>'


def _trend_cells(trend: CampaignTrend | None) -> str:
    if trend is None:
        return f'<td></td><td>{DASH}</td><td>{DASH}</td><td class="dim">{DASH}</td>'
    columns = [
        Column(night.polled_at[:10], night.succeeded, night.failed, night.pending, night.unknown)
        for night in trend.nights
    ]
    delta = trend.succeeded_delta
    shown_delta = DASH if delta is None else f"{delta:+,}"
    if trend.stalled:
        progress = f'<span class="tag">stalled: {trend.nights_without_progress} nights</span>'
    elif trend.nights_without_progress:
        progress = f"no move for {trend.nights_without_progress} night(s)"
    else:
        progress = "moving"
    return (
        f"<td>{burn_up(columns)}</td><td>{shown_delta}</td>"
        f"<td>{text(trend.projected_finish) or DASH}</td><td>{progress}</td>"
    )


def stuck_section(facts: ReportFacts) -> str:
    """The campaigns with most devices stuck past `--stuck-after`, most first."""
    stuck = sorted(
        (row for row in facts.summary.rows if row.stuck),
        key=lambda row: (-(row.stuck or 0), row.account_name, row.upgrade_id),
    )
    if not stuck:
        return (
            '<h2>Stuck devices</h2><p id="no-stuck">No device is pending or unknown for longer '
            f"than {text(facts.stuck_after)} (<code>--stuck-after</code>).</p>"
        )
    most = stuck[0].stuck or 1
    rows = "".join(
        f'<tr class="stuck" data-upgrade="{text(row.upgrade_id)}"><td><span class="id">'
        f"{text(row.upgrade_id)}</span></td><td>{text(row.account_name)}</td>"
        f'<td class="n" data-f="stuck">{row.stuck or 0:,}</td><td><span class="meter" '
        f'style="width:{round(200 * (row.stuck or 0) / most)}px"></span></td></tr>'
        for row in stuck[:STUCK_SHOWN]
    )
    return (
        '<h2>Stuck devices by campaign</h2><p class="dim">Pending or unknown for longer '
        f"than {text(facts.stuck_after)} (<code>--stuck-after</code>); the "
        f"{min(len(stuck), STUCK_SHOWN)} campaigns with most.</p>"
        '<table><tr><th>upgrade</th><th>account</th><th class="n">stuck</th>'
        f"<th></th></tr>{rows}</table>"
    )
