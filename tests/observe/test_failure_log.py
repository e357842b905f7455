"""Failed campaigns on stderr: a few warnings a minute, every one at debug, a summary at the end."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import structlog
from structlog.testing import capture_logs

from fota_poller.model.records import CampaignRecord, ErrorKind
from fota_poller.model.tally import RunTally
from fota_poller.observe.failure_log import FailureLog, example


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _failed(number: int, kind: ErrorKind = "api", message: str = "Invalid upgradeId"):
    return CampaignRecord(
        run_id="r", polled_at=None, account_name="0000123456-00001",
        upgrade_id=f"00000000-0000-4000-8000-{number:012d}", outcome="failed",
        campaign_status=None, firmware_name=None, firmware_to=None, start_date=None,
        end_date=None, campaign_ended=None, device_count=None, device_status_counts=None,
        device_phase_counts=None, devices_duplicate=None, devices_new=None, devices_changed=None,
        devices_gone=None,
        inventory=None,
        devices_on_target=None,
        devices_late=None,
        devices_not_in_inventory=None,
        device_models=None,
        attempts=1, http_status=400, elapsed_ms=1.0, error_kind=kind,
        error_code="INVALID_PARAMETER", error_message=message,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _debug_logging():
    """Debug calls are made only when debug is on: turn it on, then restore what was there."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    yield
    structlog.configure(**saved)


def _events(logs, level="warning"):
    return Counter(entry["event"] for entry in logs if entry["log_level"] == level)


def test_warnings_are_bounded_per_minute_and_the_rest_are_counted():
    clock = _Clock()
    tally = RunTally()
    with capture_logs() as logs:
        failures = FailureLog(per_minute=10, clock=clock)
        for number in range(1000):
            record = _failed(number)
            tally.campaign_written(record)
            failures.failed(record)
        clock.now = 61.0
        for number in range(1000, 1005):
            record = _failed(number)
            tally.campaign_written(record)
            failures.failed(record)
        failures.finish(tally)

    assert _events(logs) == {
        "campaign.failed": 15,
        "campaign.failures_not_shown": 1,
        "run.failures": 1,
    }
    not_shown = next(entry for entry in logs if entry["event"] == "campaign.failures_not_shown")
    assert not_shown["count"] == 990
    # Each failure is at debug too, with its record.
    assert _events(logs, "debug")["campaign.failed"] == 1005


def test_the_end_summary_counts_by_error_kind_from_the_tally_with_a_few_short_examples():
    tally = RunTally()
    with capture_logs() as logs:
        failures = FailureLog(per_minute=2, examples_per_kind=3)
        for number in range(50):
            record = _failed(number, "api", message="x" * 500)
            tally.campaign_written(record)
            failures.failed(record)
        timeout = _failed(99, "timeout")
        tally.campaign_written(timeout)
        failures.failed(timeout)
        # A stopped run's records, written in one batch.
        tally.campaigns_failed_in_bulk("not_polled", 1000)
        failures.failed_in_bulk(_failed(100, "not_polled"))
        failures.finish(tally)

    summary = logs[-1]
    assert summary["event"] == "run.failures"
    assert summary["log_level"] == "warning"
    assert summary["by_error_kind"] == {"not_polled": 1000, "api": 50, "timeout": 1}
    assert summary["failed"] == 1051
    assert [len(summary["examples"][kind]) for kind in ("not_polled", "api", "timeout")] == [
        1,
        3,
        1,
    ]
    first = summary["examples"]["api"][0]
    assert first.startswith(
        "0000123456-00001/00000000-0000-4000-8000-000000000000: INVALID_PARAMETER: x"
    )
    assert len(first) <= 100
    # The remaining warnings of the minute were counted, then reported before the summary.
    assert logs[-2]["event"] == "campaign.failures_not_shown"
    assert logs[-2]["count"] == 49


def test_a_run_without_failures_logs_no_summary():
    with capture_logs() as logs:
        FailureLog().finish(RunTally())
    assert logs == []


def test_an_example_keeps_a_short_message_whole():
    assert example(_failed(7, message="short")) == (
        "0000123456-00001/00000000-0000-4000-8000-000000000007: INVALID_PARAMETER: short"
    )
