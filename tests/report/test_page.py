"""The report page drawn from hand-made facts: the history of issue 22's contract (part A's
Structs of `state/history.py`), API text that is markup, and no history."""

from __future__ import annotations

import re

import msgspec
import pytest

from fota_poller.report.charts import Column, burn_up, fleet_bars
from fota_poller.report.facts import ModelFacts, ReportFacts, SummaryFacts
from fota_poller.report.history import NO_HISTORY, History
from fota_poller.report.page import render_page
from fota_poller.state.history import CampaignNight, CampaignTrend, FleetNight, Transition

ACCOUNT = "0000123456-00001"
STEADY, FROZEN = "0a1b2c3d-0000-4000-8000-000000000001", "0a1b2c3d-0000-4000-8000-000000000002"
SCRIPT = "<script>alert(1)</script>"


def row(upgrade: str, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "account_name": ACCOUNT, "upgrade_id": upgrade, "firmware": "FW-2", "campaign_status":
        "InProgress", "outcome": "ok", "error_kind": None, "devices": 100,
        "succeeded_share": 0.5, "succeeded": 50, "failed": 10, "pending": 40, "unknown": 0,
        "ended": False, "stuck": 4, "devices_on_target": 60, "devices_late": 10,
    }  # fmt: skip
    return fields | changes


def summary(*rows: dict[str, object], statuses: dict[str, dict[str, int]] | None = None):
    return msgspec.convert(
        {
            "run": {"finished": True, "run_id": "run-7", "complete": True, "exit_code": 0,
                    "finished_at": "2026-12-07T02:10:00.000Z"},
            "exit_code": 0, "bad_lines": 0,
            "campaigns": {"total": len(rows), "ok": len(rows), "failed": 0,
                          "failed_by_error_kind": {}},
            "devices": {"total": 200, "phases": {"succeeded": 100, "failed": 20, "pending": 80,
                        "unknown": 0},
                        "statuses": statuses or {"succeeded": {"UpgradeSuccess": 100}},
                        "on_target": 120, "late": 20, "not_in_inventory": 0},
            "rows": list(rows),
        },
        SummaryFacts,
    )  # fmt: skip


def night(day: int, succeeded: int, moved: int) -> CampaignNight:
    return CampaignNight(
        run_id=f"run-{day}", polled_at=f"2026-12-0{day}T02:00:00.000Z", devices=100,
        succeeded=succeeded, failed=10, pending=90 - succeeded, unknown=0, on_target=None,
        late=None, moved=moved,
    )  # fmt: skip


def history() -> History:
    steady = CampaignTrend(
        ACCOUNT, STEADY, succeeded_delta=10, nights_without_progress=0,
        projected_finish="2026-12-11", stalled=False,
        nights=[night(day, 10 * day - 20, 10) for day in range(3, 8)],
    )  # fmt: skip
    frozen = CampaignTrend(
        ACCOUNT, FROZEN, succeeded_delta=0, nights_without_progress=4, projected_finish=None,
        stalled=True, nights=[night(day, 50, 0) for day in range(3, 8)],
    )  # fmt: skip
    fleet = [
        FleetNight(f"run-{day}", f"2026-12-0{day}T02:00:00.000Z", 200, 10 * day + 30, 20,
                   150 - 10 * day, 0, None, None)
        for day in range(3, 8)
    ]  # fmt: skip
    transitions = {
        (ACCOUNT, STEADY): [
            Transition("Device Accepted", "UpgradeSuccess", 7),
            Transition(None, "RequestPending", 2),
            Transition(SCRIPT, None, 1),
        ],
        (ACCOUNT, FROZEN): [Transition("Device Accepted", "UpgradeSuccess", 3)],
    }
    return History(known=True, trends=[steady, frozen], fleet=fleet, transitions=transitions)


def facts(summary_facts: SummaryFacts, past: History, models: list[ModelFacts] | None = None):
    return ReportFacts(
        summary=summary_facts, models=models or [], history=past, campaigns_of=2,
        generated_at="2026-12-07T06:00:00.000Z",
    )  # fmt: skip


def test_a_night_with_history_draws_the_fleet_the_burn_ups_and_what_moved() -> None:
    page = render_page(facts(summary(row(FROZEN), row(STEADY)), history()))

    assert page.count('<svg class="fleet"') == 1
    assert page.count('<svg class="spark"') == 2
    # The stalled campaign is marked, the steady one has its finish and its pace.
    assert f'<tr class="campaign stalled"><td><span class="id">{FROZEN}</span>' in page
    assert f'<tr class="campaign"><td><span class="id">{STEADY}</span>' in page
    assert "stalled: 4 nights" in page
    assert "<td>+10</td><td>2026-12-11</td><td>moving</td></tr>" in page
    # Last night's transitions, summed over the campaigns, most first; new and gone named.
    moved = re.findall(r'<tr class="transition">(.*?)</tr>', page)
    assert len(moved) == 3
    assert "Device Accepted" in moved[0]
    assert ">10<" in moved[0]
    assert "(new)" in moved[1]
    assert "(gone)" in moved[2]
    assert "No history yet" not in page
    # Per campaign: the one in which most devices moved first, with its own transitions.
    campaigns = re.findall(r'<tr class="moved"><td><span class="id">(.*?)</span>.*?</tr>', page)
    assert campaigns == [STEADY, FROZEN]
    steady = re.search(r'<tr class="moved">.*?</tr>', page)
    assert steady is not None
    assert '<td class="n">10</td>' in steady.group()
    gone = '&lt;script&gt;alert(1)&lt;/script&gt; → <i class="dim">(gone)</i>: 1'
    assert gone in steady.group()


def test_without_history_the_page_says_so_and_shows_no_made_up_number() -> None:
    page = render_page(facts(summary(row(FROZEN), row(STEADY)), NO_HISTORY))

    assert 'id="no-history"' in page
    assert "No history yet" in page
    assert '<svg class="fleet"' not in page
    assert '<svg class="spark"' not in page
    # Each campaign's pace, finish and progress: a dash, never a number made up.
    assert (
        page.count('<td></td><td>\u2013</td><td>\u2013</td><td class="dim">\u2013</td></tr>') == 2
    )
    assert 'class="transition"' not in page


def test_api_text_that_is_markup_is_shown_as_text_everywhere() -> None:
    hostile = row(
        STEADY, account_name=f'"><u>{SCRIPT}', firmware=SCRIPT, campaign_status=SCRIPT,
        upgrade_id=f'"{SCRIPT}',
    )  # fmt: skip
    failed = row(FROZEN, outcome="failed", error_kind=SCRIPT)
    model = ModelFacts(SCRIPT, "ok", 10, 0.1, 8, 1, 1, 0, 5, 1)
    page = render_page(
        facts(summary(hostile, failed, statuses={"unknown": {SCRIPT: 3}}), history(), [model])
    )

    assert "<script" not in page.lower()
    assert "<u>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_names_nothing_to_fetch() -> None:
    page = render_page(facts(summary(row(FROZEN), row(STEADY)), history()))

    for fetching in ("src=", "href=", "url(", "@import", "<link", "<script", "<iframe"):
        assert fetching not in page
    assert "default-src 'none'" in page  # a future edit that fetches is refused by the browser


@pytest.mark.parametrize("nights", [1, 2, 30])
def test_a_burn_up_has_one_point_a_night_and_stays_small(nights: int) -> None:
    columns = [Column(f"d{n}", n, 1, 30 - n, 0) for n in range(nights)]
    chart = burn_up(columns)

    assert chart.count("<path") == 2
    assert chart.count("l1") == 2 * max(nights - 1, 1)
    assert len(chart) < 420
    assert 'viewBox="0 0 ' + str(max(nights - 1, 1)) in chart


def test_a_chart_of_nights_without_devices_draws_nothing_it_cannot_scale() -> None:
    empty = [Column("d1", 0, 0, 0, 0), Column("d2", 0, 0, 0, 0)]

    assert "nan" not in burn_up(empty).lower()
    assert "<path" not in fleet_bars(empty, label="x").split("<text")[0]
    assert burn_up([]) == fleet_bars([], label="x") == ""
