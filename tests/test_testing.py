"""fota_poller.testing: MemorySink keeps a run's lines, read_records reads them back typed."""

import msgspec
import pytest
from helpers import refs_of, simulator_tokens

import fota_poller
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.run.pipeline import run_poll
from fota_poller.testing import MemorySink, StaticTokens, read_records


async def test_a_memory_sink_keeps_every_line_of_a_run_and_is_committed(small_simulator):
    sink = MemorySink()
    config = Config(
        api=ApiConfig(base_url=small_simulator.base_url), poll=PollConfig(concurrency=4, rate=0)
    )
    tokens = simulator_tokens(small_simulator.options)
    run = await run_poll(config, refs_of(small_simulator.catalog), tokens, sink)

    records = sink.records()
    assert (sink.committed, sink.discarded) == (True, False)
    assert records == read_records(bytes(sink.data))
    assert records[-1] == run
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    devices = [r for r in records if isinstance(r, DeviceRecord)]
    assert len(campaigns) == run.campaigns_ok == len(small_simulator.catalog)
    assert len(devices) == run.devices_total > 0


def test_a_memory_sink_keeps_writes_in_order_and_notes_a_discard():
    sink = MemorySink()
    sink.write(b"one\n")
    sink.write(b"two\n")
    sink.discard()
    assert bytes(sink.data) == b"one\ntwo\n"
    assert (sink.committed, sink.discarded) == (False, True)


def test_read_records_gives_each_line_its_own_type_in_order():
    run = RunRecord(
        run_id="r", schema_version=1, started_at="s", finished_at="f", duration_s=0.5,
        campaigns_total=1, campaigns_ok=0, campaigns_failed=1, devices_total=0,
        requests_total=1, inventory_requests=0, complete=True, exit_code=1,
    )  # fmt: skip
    campaign = CampaignRecord(
        run_id="r", polled_at=None, account_name="a", upgrade_id="u", outcome="failed",
        campaign_status=None, firmware_name=None, firmware_to=None, start_date=None,
        end_date=None, campaign_ended=None, device_count=None, device_status_counts=None,
        device_phase_counts=None, devices_duplicate=None, devices_new=None, devices_changed=None,
        devices_gone=None,
        inventory=None,
        devices_on_target=None,
        devices_late=None,
        devices_not_in_inventory=None,
        device_models=None,
        attempts=1, http_status=500, elapsed_ms=1.0, error_kind="http", error_code=None,
        error_message="HTTP 500",
    )  # fmt: skip
    data = b"".join(msgspec.json.encode(r) + b"\n" for r in (campaign, run))

    assert read_records(data) == [campaign, run]
    assert read_records(b"") == []


@pytest.mark.parametrize(
    "line",
    [
        b'{"record": "summary", "run_id": "r"}',  # not a kind of the contract
        b'{"record": "run", "run_id": "r"}',  # a run record without its figures
        b'{"record": "device", "run_id": "r", "polled_at": "p"',  # cut short
    ],
)
def test_read_records_refuses_a_line_outside_the_contract(line):
    with pytest.raises(msgspec.DecodeError):
        read_records(line + b"\n")


async def test_static_tokens_send_both_tokens_and_are_the_package_export():
    auth = await StaticTokens("bearer-1", "session-2").headers()
    assert dict(auth.headers) == {"Authorization": "Bearer bearer-1", "VZ-M2M-Token": "session-2"}
    assert "bearer-1" not in repr(StaticTokens("bearer-1", "session-2"))
    assert fota_poller.StaticTokens is StaticTokens
