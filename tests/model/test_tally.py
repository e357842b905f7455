"""One tally counts a run: requests, retries, 429s, auth requests, outcomes and devices."""

import ast
from pathlib import Path

import fota_poller.model.tally
from fota_poller.model.records import SCHEMA_VERSION, CampaignRecord
from fota_poller.model.tally import AttemptCounter, RunTally


def _campaign(outcome, error_kind=None, statuses=None):
    return CampaignRecord(
        run_id="r",
        polled_at=None,
        account_name="0000123456-00001",
        upgrade_id="00000000-0000-4000-8000-000000000000",
        outcome=outcome,
        campaign_status=None,
        firmware_name=None,
        firmware_to=None,
        start_date=None,
        end_date=None,
        campaign_ended=None,
        device_count=None if statuses is None else sum(statuses.values()),
        device_status_counts=statuses,
        device_phase_counts=None,
        devices_duplicate=None,
        devices_new=None,
        devices_changed=None,
        devices_gone=None,
        inventory=None,
        devices_on_target=None,
        devices_late=None,
        devices_not_in_inventory=None,
        device_models=None,
        attempts=1,
        http_status=None,
        elapsed_ms=None,
        error_kind=error_kind,
        error_code=None,
        error_message=None,
    )


def test_the_run_record_takes_its_counts_from_the_tally():
    tally = RunTally()
    tally.requests_total = 7
    tally.campaign_written(_campaign("ok", statuses={"UpgradeSuccess": 3, "UpgradePending": 1}))
    tally.campaign_written(_campaign("ok", statuses={"UpgradeSuccess": 2}))
    tally.campaign_written(_campaign("failed", "api"))
    tally.campaigns_failed_in_bulk("not_polled", 4)

    run = tally.run_record(
        run_id="r",
        started_at="2026-11-26T02:00:00.000Z",
        finished_at="2026-11-26T02:00:01.500Z",
        duration_s=1.5,
        complete=False,
        exit_code=4,
    )

    assert (run.campaigns_total, run.campaigns_ok, run.campaigns_failed) == (7, 2, 5)
    assert run.devices_total == 6
    assert run.requests_total == 7
    assert tally.failed_by_error_kind == {"api": 1, "not_polled": 4}
    assert tally.devices_by_status == {"UpgradeSuccess": 5, "UpgradePending": 1}
    assert (run.complete, run.exit_code, run.schema_version) == (False, 4, SCHEMA_VERSION)


def test_the_listener_sees_each_change_and_the_total_once_the_sources_end():
    tally = RunTally()
    seen = []
    tally.on_change(lambda t: seen.append((t.campaigns_written, t.campaigns_total)))
    tally.campaign_queued()
    tally.campaigns_queued_in_bulk(2)
    tally.campaign_written(_campaign("ok"))
    tally.sources_ended()
    tally.campaigns_failed_in_bulk("not_polled", 2)
    tally.on_change(None)
    tally.campaign_written(_campaign("ok"))

    assert seen == [(1, None), (1, 3), (3, 3)]


def test_every_attempt_after_the_first_of_each_fetch_is_a_retry():
    tally = RunTally()
    first, second = AttemptCounter(tally), AttemptCounter(tally)
    for _ in range(3):
        first.add()
    second.add()

    assert (first.count, second.count) == (3, 1)
    assert tally.retries == 2


def test_the_tally_module_imports_nothing_of_the_package_but_the_record_types():
    tree = ast.parse(Path(fota_poller.model.tally.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)

    assert {name for name in imported if name.startswith("fota_poller")} == {
        "fota_poller.model.records"
    }
