"""Issue 22, acceptance 3: the report opened in a real headless browser.

Two nights of `poll --inventory --state` against the evolving simulator through the CLI,
then `report`. Chromium (Debian's package, driven over the DevTools protocol by
tests/headless_browser.py) opens the page from a file:// URL: no console error, no request
but the page itself, the numbers read back from the DOM equal `summary --state --format
json`'s (and the models `summary --by model`'s), a status holding `<script>` shows as text,
and a PNG screenshot is taken (written to docs/report.png with UPDATE_DOCS_SCREENSHOT=1:
the one docs/commands.md shows).

The night's file gets one campaign line written by hand after the simulator's: its status,
firmware and device status are markup (a script, an image on another host), text from the
API that the page must show as text and never run or fetch.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from headless_browser import find_chromium, open_page
from helpers import run_cli, simulator_process

from fota_poller.cli import main

ACCOUNTS = "0000123456-00001,0000123456-00002"
TOKENS = {
    "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
    "THINGSPACE_SESSION_TOKEN": "sim-session-token",
}
SCRIPT_STATUS = "<script>window.ranStatus = 1</script>"
SCRIPT_FIRMWARE = "<script>window.ranFirmware = 1</script>"
IMAGE_STATUS = '<img src="http://127.0.0.1:9/leak.png" onerror="window.ranImage = 1">'
DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "report.png"
# What the test reads back from the page, in the browser.
READ_DOM = """JSON.stringify({
  numbers: Object.fromEntries([...document.querySelectorAll('[data-json]')]
    .map(e => [e.dataset.json, e.textContent])),
  columns: [...document.querySelectorAll('table.campaigns th')].map(th => th.dataset.f),
  rows: [...document.querySelectorAll('#campaigns tr.campaign')].map(tr => ({
    upgrade: tr.querySelector('.id').textContent,
    cells: [...tr.cells].map(td => td.textContent)})),
  models: [...document.querySelectorAll('tr.model')].map(tr => Object.fromEntries(
    [...tr.querySelectorAll('[data-f]')].map(td => [td.dataset.f, td.textContent]))),
  statuses: [...document.querySelectorAll('td.status')].map(td => td.textContent),
  campaignStatuses: [...document.querySelectorAll('#campaigns td:nth-child(3)')]
    .map(td => td.textContent),
  scripts: document.scripts.length,
  images: document.images.length,
  ran: [window.ranStatus, window.ranFirmware, window.ranImage].filter(Boolean).length,
})"""


def hostile_campaign(records: Path) -> str:
    """One more campaign line, after the simulator's, whose API text is markup: its id."""
    lines = records.read_bytes().splitlines()
    campaign = next(json.loads(line) for line in lines if b'"record":"campaign"' in line)
    upgrade = str(uuid.uuid4())
    campaign.update(
        upgrade_id=upgrade,
        campaign_status=IMAGE_STATUS,
        firmware_to=SCRIPT_FIRMWARE,
        device_count=3,
        device_status_counts={SCRIPT_STATUS: 3},
        device_phase_counts={"succeeded": 0, "failed": 0, "pending": 0, "unknown": 3},
        device_models={},
    )
    with records.open("ab") as out:
        out.write(json.dumps(campaign).encode() + b"\n")
    return upgrade


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser's path, found before the nights are polled (a skip costs nothing)."""
    return find_chromium()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """Two nights polled through the CLI: the second night's records, the state, the hostile id."""
    folder = tmp_path_factory.mktemp("report")
    ids, state = folder / "ids.txt", folder / "state.db"
    simulator = (
        "--campaigns", "24", "--devices", "5-120", "--accounts", ACCOUNTS, "--evolve", "7",
        "--evolve-share", "0.3", "--late-share", "0.2", "--write-ids", str(ids),
    )  # fmt: skip
    with simulator_process(*simulator) as base_url:
        for number in (1, 2):
            records = folder / f"night-{number}.jsonl"
            poll = run_cli(
                ["poll", "--ids", str(ids), "--base-url", base_url, "--state", str(state),
                 "--inventory", "--rate", "0", "-o", str(records)],
                env=TOKENS,
            )  # fmt: skip
            assert poll.returncode == 0, poll.stderr.decode()[-2000:]
            day = urllib.request.Request(f"{base_url}/_simulator/day", method="POST")
            urllib.request.urlopen(day, timeout=10).close()
    return records, state, hostile_campaign(records)


def summary_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    main(["summary", *args, "--format", "json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def value_at(document: dict[str, Any], key: str) -> object:
    """The value at a dotted `data-json` key (a status name may hold dots: the rest is one)."""
    head, _, rest = key.partition(".")
    if head == "devices" and rest.startswith("statuses."):
        phase, _, status = rest.removeprefix("statuses.").partition(".")
        return document["devices"]["statuses"][phase][status]
    found: Any = document
    for part in key.split("."):
        found = found[part]
    return found


def shown(value: object) -> str:
    """A value as the page writes it."""
    return "\u2013" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


async def test_the_report_in_a_browser_fetches_nothing_runs_nothing_and_agrees_with_summary(
    chromium: str,
    night: tuple[Path, Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    records, state, hostile = night
    page = tmp_path / "report.html"
    assert main(["report", str(records), "--state", str(state), "-o", str(page)]) == 0
    summary = summary_json(capsys, str(records), "--state", str(state))
    models = summary_json(capsys, str(records), "--by", "model")

    visit = await open_page(chromium, page.as_uri(), read=READ_DOM, width=1280)
    dom = json.loads(visit.dom)

    assert visit.errors == []
    assert visit.requests == [page.as_uri()]
    assert (dom["scripts"], dom["images"], dom["ran"]) == (0, 0, 0)
    assert SCRIPT_STATUS in dom["statuses"]
    assert IMAGE_STATUS in dom["campaignStatuses"]
    # Every number the page tags is summary's, and the night's headline numbers are tagged.
    assert {"devices.total", "devices.phases.failed", "campaigns.total", "devices.late"} <= set(
        dom["numbers"]
    )
    for key, text in dom["numbers"].items():
        assert text == shown(value_at(summary, key)), key
    # The campaigns: summary's rows, in its order, each count as summary has it.
    assert [row["upgrade"] for row in dom["rows"]] == [row["upgrade_id"] for row in summary["rows"]]
    assert hostile in {row["upgrade"] for row in dom["rows"]}
    counted = ("devices", "succeeded", "failed", "pending", "unknown", "stuck", "devices_late")
    assert set(counted) <= set(dom["columns"])
    for read, row in zip(dom["rows"], summary["rows"], strict=True):
        cells = dict(zip(dom["columns"], read["cells"], strict=True))
        assert {key: cells[key] for key in counted} == {key: shown(row[key]) for key in counted}
        assert cells["firmware"] == row["firmware"]
    # The models: summary --by model's rows, in its order.
    assert len(dom["models"]) == len(models["rows"]) > 1
    for read, row in zip(dom["models"], models["rows"], strict=True):
        assert read == {key: shown(row[key]) for key in read}

    assert visit.screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "report.png").write_bytes(visit.screenshot)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_SCREENSHOT.write_bytes(visit.screenshot)
