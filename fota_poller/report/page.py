"""The report page: `ReportFacts` as one self-contained HTML document.

Nothing is fetched: the style is inline (`style.py`), the charts inline SVG (`charts.py`),
there is no script. Every text from the API (statuses, firmware, accounts, ids, error
kinds) goes through `text()`, HTML-escaped quotes included, so a status holding
`<script>` is shown as those characters. Each number a reader might check carries where
it comes from: `data-json` names its key in `summary --state --format json` (the page's
campaign rows are that document's `rows`, in its order; each column's key is its heading's
`data-f`).
"""

from __future__ import annotations

from typing import Final

from fota_poller._version import __version__
from fota_poller.report.campaigns import campaign_section, stuck_section
from fota_poller.report.charts import Column, fleet_bars, phase_bar
from fota_poller.report.facts import ModelFacts, ReportFacts
from fota_poller.report.markup import NO_HISTORY_NOTE, number, text
from fota_poller.report.moves import moves_section
from fota_poller.report.style import CSS

_PHASES: Final = ("succeeded", "failed", "pending", "unknown")
_PHASE_CSS: Final = {"succeeded": "s", "failed": "f", "pending": "p", "unknown": "u"}


def render_page(facts: ReportFacts) -> str:
    """The whole page."""
    summary = facts.summary
    title = f"fota-poller report: {summary.run.run_id or 'no run line'}"
    body = [
        _header(facts),
        _tonight(facts),
        _over_the_nights(facts),
        moves_section(facts.history),
        campaign_section(facts),
        stuck_section(facts),
        _models(facts.models),
        (
            '<p class="dim">Every count on this page is <code>fota-poller summary --state '
            "--format json</code>'s (models: <code>summary --by model</code>'s); made by "
            f"fota-poller {text(__version__)} at {text(facts.generated_at)}.</p>"
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        # No request may leave the page, whatever a future edit puts in it.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{text(title)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def _header(facts: ReportFacts) -> str:
    run = facts.summary.run
    if not run.finished:
        state = '<span class="warn">no run line: the run did not finish</span>'
    else:
        complete = "complete" if run.complete else '<span class="warn">INCOMPLETE</span>'
        state = (
            f'run <span class="id" data-json="run.run_id">{text(run.run_id)}</span>: {complete}'
            f", exit code {number(run.exit_code, 'run.exit_code')}, finished "
            f"{text(run.finished_at)}"
        )
    look = (
        '<span class="warn">the night needs a look</span>'
        if facts.summary.exit_code
        else "nothing failed"
    )
    return f"<h1>fota-poller: the night at a glance</h1><p>{state}; {look}.</p>"


def _tonight(facts: ReportFacts) -> str:
    devices, campaigns = facts.summary.devices, facts.summary.campaigns
    cards = [f'<div class="card"><b>{number(devices.total, "devices.total")}</b>devices</div>']
    cards += [
        f'<div class="card {_PHASE_CSS[phase]}"><b>'
        f"{number(devices.phases.get(phase, 0), f'devices.phases.{phase}')}</b>{phase}</div>"
        for phase in _PHASES
    ]
    cards.append(
        f'<div class="card"><b>{number(campaigns.total, "campaigns.total")}</b>campaigns, '
        f"{number(campaigns.failed, 'campaigns.failed')} not polled</div>"
    )
    if devices.late is not None:
        cards.append(
            f'<div class="card"><b>{number(devices.late, "devices.late")}</b>late successes '
            f"(on target {number(devices.on_target, 'devices.on_target')})</div>"
        )
    tonight = Column("tonight", *(devices.phases.get(phase, 0) for phase in _PHASES))
    bar = phase_bar(tonight, label="devices by phase tonight") if tonight.total else ""
    return (
        f'<h2>The fleet tonight</h2><div class="cards">{"".join(cards)}</div>{bar}'
        f"{_statuses(facts)}"
    )


def _statuses(facts: ReportFacts) -> str:
    rows = []
    for phase in _PHASES:
        for status, count in facts.summary.devices.statuses.get(phase, {}).items():
            key = f"devices.statuses.{phase}.{status}"
            rows.append(
                f'<tr><td><span class="key {_PHASE_CSS[phase]}"></span>{phase}</td>'
                f'<td class="status">{text(status)}</td>'
                f'<td class="n">{number(count, key)}</td></tr>'
            )
    if not rows:
        return ""
    return (
        "<details><summary>Devices by status tonight</summary><table><tr><th>phase</th>"
        f'<th>status</th><th class="n">devices</th></tr>{"".join(rows)}</table></details>'
    )


def _over_the_nights(facts: ReportFacts) -> str:
    nights = facts.history.fleet
    if not nights:
        return f'<h2>The fleet over the nights</h2><div id="no-history">{NO_HISTORY_NOTE}</div>'
    columns = [
        Column(night.polled_at[:10], night.succeeded, night.failed, night.pending, night.unknown)
        for night in nights
    ]
    legend = "".join(f'<span class="key {_PHASE_CSS[p]}"></span>{p}' for p in _PHASES)
    chart = fleet_bars(columns, label=f"devices by phase over {len(nights)} nights")
    return (
        f'<h2>The fleet over the nights</h2><p class="dim">{len(nights)} committed nights, '
        f"oldest first.{legend}</p>{chart}"
    )


def _models(models: list[ModelFacts]) -> str:
    if not models:
        return ""
    rows = []
    for model in models:
        share = model.failed_share
        meter = f'<span class="meter" style="width:{round(share * 80)}px"></span> ' if share else ""
        name = text(model.model) if model.model is not None else f"<i>({text(model.inventory)})</i>"
        rows.append(
            f'<tr class="model"><td>{name}</td><td class="n" data-f="devices">{model.devices:,}'
            f'</td><td class="n" data-f="failed">{model.failed:,}</td><td class="n">{meter}'
            f"{'' if share is None else f'{share:.1%}'}</td>"
            f'<td class="n" data-f="late">{number(model.late)}</td>'
            f'<td class="n" data-f="on_target">{number(model.on_target)}</td></tr>'
        )
    return (
        '<h2>Late successes and failures by model</h2><table class="fit"><tr><th>model</th>'
        '<th class="n">devices</th><th class="n">failed</th><th class="n">failed share</th>'
        '<th class="n">late successes</th><th class="n">on target</th></tr>'
        f"{''.join(rows)}</table>"
    )
