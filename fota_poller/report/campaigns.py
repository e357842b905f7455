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
# The cells of a campaign row that are counts, in order: (JSON key, column heading).
_COUNTS: Final = (
    ("devices", "devices"),
    ("succeeded", "succeeded"),
    ("failed", "failed"),
    ("pending", "pending"),
    ("unknown", "unknown"),
    ("stuck", "stuck"),
)


def campaign_section(facts: ReportFacts) -> str:
    """Every campaign of the summary, worst first, one table row each."""
    rows = facts.summary.rows
    inventory = facts.summary.devices.late is not None
    trends = {(trend.account_name, trend.upgrade_id): trend for trend in facts.history.trends}
    accounts = len({row.account_name for row in rows}) > 1
    heads = "".join(f'<th class="n">{head}</th>' for _, head in _COUNTS)
    heads += '<th class="n">late</th>' if inventory else ""
    body = "".join(
        _row(row, trends.get((row.account_name, row.upgrade_id)), inventory=inventory,
             accounts=accounts)
        for row in rows
    )  # fmt: skip
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
        '<div class="wide"><table><thead><tr><th>campaign</th><th>firmware</th><th>status</th>'
        f'{heads}<th>nights</th><th class="n">Δ succeeded</th><th>finish</th><th>progress</th>'
        f'</tr></thead><tbody id="campaigns">{body}</tbody></table></div>'
    )


def _row(
    row: CampaignFacts, trend: CampaignTrend | None, *, inventory: bool, accounts: bool
) -> str:
    stalled = trend is not None and trend.stalled
    status = (
        text(row.campaign_status)
        if row.outcome == "ok"
        else f'<span class="warn">poll failed: {text(row.error_kind)}</span>'
    )
    account = f'<br><span class="dim">{text(row.account_name)}</span>' if accounts else ""
    cells = [
        (
            f'<td class="nw"><span class="id" title="{text(row.upgrade_id)}">'
            f"{text(row.upgrade_id[:8])}</span>{account}</td>"
            f'<td class="nw">{text(row.firmware)}</td><td>{status}</td>'
        )
    ]
    counts = [getattr(row, key) for key, _ in _COUNTS]
    if inventory:
        counts.append(row.devices_late)
    keys = [key for key, _ in _COUNTS] + (["devices_late"] if inventory else [])
    cells += [
        f'<td class="n" data-f="{key}">{number(value)}</td>'
        for key, value in zip(keys, counts, strict=True)
    ]
    cells.append(_trend_cells(row, trend))
    return (
        f'<tr class="campaign{" stalled" if stalled else ""}" data-account='
        f'"{text(row.account_name)}" data-upgrade="{text(row.upgrade_id)}">{"".join(cells)}</tr>'
    )


def _trend_cells(row: CampaignFacts, trend: CampaignTrend | None) -> str:
    if trend is None:
        return f'<td></td><td class="n">{DASH}</td><td>{DASH}</td><td class="dim">{DASH}</td>'
    columns = [
        Column(night.polled_at[:10], night.succeeded, night.failed, night.pending, night.unknown)
        for night in trend.nights
    ]
    chart = burn_up(columns, label=f"{row.upgrade_id} over {len(columns)} nights")
    delta = trend.succeeded_delta
    shown_delta = DASH if delta is None else f"{delta:+,}"
    if trend.stalled:
        progress = f'<span class="tag">stalled: {trend.nights_without_progress} nights</span>'
    elif trend.nights_without_progress:
        progress = f"no move for {trend.nights_without_progress} night(s)"
    else:
        progress = "moving"
    return (
        f'<td>{chart}</td><td class="n" data-f="succeeded_delta">{shown_delta}</td>'
        f'<td data-f="projected_finish">{text(trend.projected_finish) or DASH}</td>'
        f"<td>{progress}</td>"
    )


def stuck_section(facts: ReportFacts) -> str:
    """The campaigns with most devices stuck past `--stuck-after`, most first."""
    stuck = sorted(
        (row for row in facts.summary.rows if row.stuck),
        key=lambda row: (-(row.stuck or 0), row.account_name, row.upgrade_id),
    )
    if not stuck:
        return '<h2>Stuck devices</h2><p id="no-stuck">No device is stuck.</p>'
    most = stuck[0].stuck or 1
    rows = "".join(
        f'<tr class="stuck" data-upgrade="{text(row.upgrade_id)}"><td><span class="id">'
        f"{text(row.upgrade_id)}</span></td><td>{text(row.account_name)}</td>"
        f'<td class="n" data-f="stuck">{row.stuck or 0:,}</td><td><span class="meter" '
        f'style="width:{round(200 * (row.stuck or 0) / most)}px"></span></td></tr>'
        for row in stuck[:STUCK_SHOWN]
    )
    return (
        f'<h2>Stuck devices by campaign</h2><p class="dim">Pending or unknown for longer '
        f"than <code>--stuck-after</code>; the {min(len(stuck), STUCK_SHOWN)} campaigns with "
        f'most.</p><table><tr><th>upgrade</th><th>account</th><th class="n">stuck</th>'
        f"<th></th></tr>{rows}</table>"
    )
