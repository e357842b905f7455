import msgspec
import pytest
from aioresponses import aioresponses
from helpers import simulator_tokens
from prometheus_client.parser import text_string_to_metric_families

from fota_poller.api.client import UpgradeClient, open_session, upgrade_url
from fota_poller.cli import main
from fota_poller.commands.poll.core import poll_command
from fota_poller.config import ApiConfig, Config, OutputConfig, PollConfig, StateConfig
from fota_poller.errors import InputFileError
from fota_poller.model.records import DeviceRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.testing import StaticTokens, read_records

OPTIONS = SimulatorOptions(campaigns=25, devices_min=1, devices_max=30)


def read_metrics(path):
    """{name: {labels-tuple: value}} from a textfile, through prometheus_client's parser."""
    figures = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        assert family.type == "gauge"
        figures[family.name] = {
            tuple(sorted(sample.labels.items())): sample.value for sample in family.samples
        }
    return figures


def value(figures, name, **labels):
    return figures[name][tuple(sorted(labels.items()))]


def config_for(simulator, tmp_path):
    return Config(
        api=ApiConfig(base_url=simulator.base_url),
        poll=PollConfig(concurrency=4, rate=0),
        output=OutputConfig(
            path=str(tmp_path / "out.jsonl"), metrics_file=str(tmp_path / "fota.prom")
        ),
    )


def read_run(path):
    records = read_records(path.read_bytes())
    return records, records[-1]


async def poll(simulator, tmp_path, lines):
    ids = tmp_path / "ids.csv"
    ids.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    config = config_for(simulator, tmp_path)
    tokens = simulator_tokens(OPTIONS)
    return await poll_command(config, [str(ids)], tokens)


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
async def simulator():
    async with run_simulator(OPTIONS) as running:
        yield running


async def test_metrics_file_carries_the_run_figures(simulator, tmp_path):
    good = [f"{account},{upgrade_id}" for account, upgrade_id in simulator.catalog.ids()]
    unknown = f"{OPTIONS.accounts[0]},e3a8d88a-04c6-4ef3-b039-89b62f91e962"

    exit_code = await poll(simulator, tmp_path, [*good, unknown, "not an id"])

    records, run = read_run(tmp_path / "out.jsonl")
    figures = read_metrics(tmp_path / "fota.prom")
    devices = [r for r in records if isinstance(r, DeviceRecord)]
    assert exit_code == run.exit_code == 1
    assert value(figures, "fota_poller_last_run_exit_code") == 1
    assert value(figures, "fota_poller_last_run_complete") == 1
    assert value(figures, "fota_poller_last_run_duration_seconds") == run.duration_s
    assert value(figures, "fota_poller_last_run_campaigns", outcome="ok") == 25
    assert value(figures, "fota_poller_last_run_campaigns", outcome="failed") == 2
    assert value(figures, "fota_poller_last_run_failed_campaigns", error_kind="api") == 1
    assert value(figures, "fota_poller_last_run_failed_campaigns", error_kind="invalid_input") == 1
    assert value(figures, "fota_poller_last_run_failed_campaigns", error_kind="timeout") == 0
    by_status = figures["fota_poller_last_run_devices"]
    assert sum(by_status.values()) == len(devices) == run.devices_total
    for status in {device.status for device in devices}:
        expected = sum(1 for device in devices if device.status == status)
        assert value(figures, "fota_poller_last_run_devices", status=status) == expected
    for phase in ("succeeded", "failed", "pending", "unknown"):
        expected = sum(1 for device in devices if device.phase == phase)
        assert value(figures, "fota_poller_last_run_devices_by_phase", phase=phase) == expected
    assert "fota_poller_last_run_device_changes" not in figures  # no state, no changes
    assert value(figures, "fota_poller_last_run_requests") == run.requests_total == 26
    assert value(figures, "fota_poller_last_run_retries") == 0
    assert value(figures, "fota_poller_last_run_rate_limited_responses") == 0
    # This run failed and no run before it succeeded.
    assert value(figures, "fota_poller_last_success_timestamp_seconds") == 0
    assert value(figures, "fota_poller_last_run_timestamp_seconds") > 1.7e9


async def test_with_a_state_the_metrics_count_the_devices_new_changed_and_gone(simulator, tmp_path):
    lines = [f"{account},{upgrade_id}" for account, upgrade_id in simulator.catalog.ids()]
    ids = tmp_path / "ids.csv"
    ids.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    config = msgspec.structs.replace(
        config_for(simulator, tmp_path), state=StateConfig(path=str(tmp_path / "state.db"))
    )
    for night in range(2):
        assert await poll_command(config, [str(ids)], simulator_tokens(OPTIONS)) == 0
        records, run = read_run(tmp_path / "out.jsonl")
        figures = read_metrics(tmp_path / "fota.prom")
        changes = {
            change: sum(1 for r in records if isinstance(r, DeviceRecord) and r.change == change)
            for change in ("new", "changed", "gone")
        }
        assert changes["new"] == (run.devices_total if night == 0 else 0)
        for change, count in changes.items():
            assert value(figures, "fota_poller_last_run_device_changes", change=change) == count


async def test_failed_run_keeps_the_last_success_timestamp(simulator, tmp_path):
    good = [f"{account},{upgrade_id}" for account, upgrade_id in simulator.catalog.ids()]
    assert await poll(simulator, tmp_path, good[:5]) == 0
    first = read_metrics(tmp_path / "fota.prom")
    succeeded_at = value(first, "fota_poller_last_success_timestamp_seconds")

    assert await poll(simulator, tmp_path, [*good[:5], "not an id"]) == 1

    second = read_metrics(tmp_path / "fota.prom")
    assert succeeded_at == value(first, "fota_poller_last_run_timestamp_seconds")
    assert value(second, "fota_poller_last_success_timestamp_seconds") == succeeded_at
    assert value(second, "fota_poller_last_run_timestamp_seconds") > succeeded_at
    assert value(second, "fota_poller_last_run_exit_code") == 1

    assert await poll(simulator, tmp_path, good[:2]) == 0
    third = read_metrics(tmp_path / "fota.prom")
    assert value(third, "fota_poller_last_success_timestamp_seconds") > succeeded_at


async def test_run_that_cannot_start_still_writes_metrics_and_keeps_last_success(
    simulator, tmp_path
):
    good = [f"{account},{upgrade_id}" for account, upgrade_id in simulator.catalog.ids()]
    assert await poll(simulator, tmp_path, good[:3]) == 0
    succeeded_at = value(
        read_metrics(tmp_path / "fota.prom"), "fota_poller_last_success_timestamp_seconds"
    )

    config = config_for(simulator, tmp_path)
    tokens = simulator_tokens(OPTIONS)
    with pytest.raises(InputFileError):
        await poll_command(config, [str(tmp_path / "missing.csv")], tokens)

    figures = read_metrics(tmp_path / "fota.prom")
    assert value(figures, "fota_poller_last_run_exit_code") == 2
    assert value(figures, "fota_poller_last_run_complete") == 0
    assert value(figures, "fota_poller_last_success_timestamp_seconds") == succeeded_at


async def test_unreadable_previous_metrics_file_is_replaced(simulator, tmp_path):
    (tmp_path / "fota.prom").write_text("this is { not a metrics file\n", encoding="utf-8")
    good = [f"{account},{upgrade_id}" for account, upgrade_id in simulator.catalog.ids()]

    assert await poll(simulator, tmp_path, [*good[:2], "not an id"]) == 1

    figures = read_metrics(tmp_path / "fota.prom")
    assert value(figures, "fota_poller_last_success_timestamp_seconds") == 0
    assert value(figures, "fota_poller_last_run_exit_code") == 1


def test_metrics_file_in_a_missing_folder_is_refused_before_polling(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("THINGSPACE_BEARER_TOKEN", OPTIONS.bearer_token)
    monkeypatch.setenv("THINGSPACE_SESSION_TOKEN", OPTIONS.session_token)
    ids = tmp_path / "ids.csv"
    ids.write_text("0000123456-00001,e3a8d88a-04c6-4ef3-b039-89b62f91e962\n", encoding="utf-8")

    exit_code = main(
        ["poll", "--ids", str(ids), "--metrics-file", str(tmp_path / "nope" / "fota.prom")]
    )

    assert exit_code == 2
    assert "does not exist" in capsys.readouterr().err


async def test_client_counts_every_429_it_sees():
    ref = CampaignRef("0000123456-00001", "e3a8d88a-04c6-4ef3-b039-89b62f91e962")
    url = f"https://api.test/fota/v1/upgrades/{ref.account_name}/upgrade/{ref.upgrade_id}"
    tokens = StaticTokens("b", "s")
    with aioresponses() as mocked:
        mocked.get(url, status=429, body=b"slow down")
        mocked.get(url, status=429, body=b"slow down")
        mocked.get(url, status=200, body=b"{}")
        async with open_session(Config()) as session:
            client = UpgradeClient(session, "https://api.test", tokens, RateLimiter(0))
            statuses = [
                (await client.get(upgrade_url("https://api.test", ref))).status for _ in range(3)
            ]

    assert statuses == [429, 429, 200]
    assert client.tally.rate_limited == 2
    assert client.tally.retries == 0
    assert client.tally.requests_total == 3
