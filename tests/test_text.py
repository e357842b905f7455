"""What reaches a terminal: control characters from the server or an id file are escaped."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import msgspec
import structlog

from fota_poller.commands.demo.core import summarise
from fota_poller.model.records import CampaignRecord, RunRecord
from fota_poller.observe.logs import configure_logging
from fota_poller.text import bounded, escape_controls

CLEAR_SCREEN = "\x1b[2J"
# The console renderer's own colours: the only escape sequences allowed on the terminal.
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_escape_controls_shows_c0_c1_del_and_line_separators_as_escapes():
    text = "a\x1b[2Jb\x00\x07\n\x7f\x9b\u2028\u2029é"
    assert escape_controls(text) == "a\\x1b[2Jb\\x00\\x07\\x0a\\x7f\\x9b\\u2028\\u2029é"
    assert escape_controls("plain-0000123456-00001") == "plain-0000123456-00001"


def test_a_console_log_value_with_a_clear_screen_shows_no_escape_byte():
    terminal = _Terminal()
    configure_logging("info", stream=terminal)
    try:
        structlog.get_logger("fota_poller").warning(
            "campaign.failed", error_code=CLEAR_SCREEN, account_name="acct\x9b2J"
        )
    finally:
        configure_logging("info", stream=io.StringIO())
    shown = terminal.getvalue()
    assert "campaign.failed" in shown
    assert "\\x1b[2J" in shown
    assert "\x1b" not in _COLOURS.sub("", shown)
    assert "\x9b" not in shown


def test_json_log_lines_escape_c0_c1_and_del():
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    try:
        structlog.get_logger("fota_poller").warning("campaign.failed", error_code="\x1b\x7f\x9b")
    finally:
        configure_logging("info", stream=io.StringIO())
    line = stream.getvalue()
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", line)
    assert json.loads(line)["error_code"] == "\x1b\x7f\x9b"


def test_the_demo_summary_escapes_a_status_from_the_server(tmp_path: Path):
    campaign = CampaignRecord(
        run_id="r", polled_at=None, account_name="a", upgrade_id="u", outcome="ok",
        campaign_status=None, firmware_name=None, firmware_to=None, start_date=None,
        end_date=None, campaign_ended=None, device_count=2,
        device_status_counts={f"Upgrade{CLEAR_SCREEN}Success": 2}, device_phase_counts=None,
        devices_duplicate=None, devices_new=None, devices_changed=None, devices_gone=None,
        inventory=None, devices_on_target=None, devices_late=None,
        devices_not_in_inventory=None, device_models=None, attempts=1,
        http_status=200, elapsed_ms=1.0, error_kind=None, error_code=None, error_message=None,
    )  # fmt: skip
    run = RunRecord(
        run_id="r", schema_version=1, started_at="t", finished_at="t", duration_s=0.1,
        campaigns_total=1, campaigns_ok=1, campaigns_failed=0, devices_total=2,
        requests_total=1, inventory_requests=0, complete=True, exit_code=0,
    )  # fmt: skip
    output = tmp_path / "out.jsonl"
    output.write_bytes(msgspec.json.encode(campaign) + b"\n" + msgspec.json.encode(run) + b"\n")

    summary = summarise(output, 0.1)

    assert "\x1b" not in summary
    assert "Upgrade\\x1b[2JSuccess" in summary


def test_bounded_text_is_cut_with_a_marker_naming_its_length():
    assert bounded("E" * 200) == "E" * 200
    assert bounded("E" * 1_048_576) == "E" * 200 + "…[cut, 1048576 chars]"
    # A window of a longer text, already redacted: the marker gives the whole length.
    assert bounded("short", total=5_000) == "short…[cut, 5000 chars]"


def test_a_text_cut_once_is_not_cut_again_and_keeps_the_servers_length() -> None:
    once = bounded("E" * 1_000_000)
    assert bounded(once) == once
    assert bounded(once, 50) == "E" * 50 + "…[cut, 221 chars]"  # its start does not fit
    # A text that only ends like a marker is cut as any other.
    assert bounded("x" * 300 + "…[cut, 5 chars]") == "x" * 200 + "…[cut, 315 chars]"
