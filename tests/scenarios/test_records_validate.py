"""Every record a run writes validates against the committed schema: a demo night, and a
night with failed campaigns and an incomplete run."""

import json

import pytest
from helpers import invalid_lines, records_validator, simulator_tokens

from fota_poller.cli import main
from fota_poller.commands.poll.core import poll_command
from fota_poller.config import ApiConfig, Config, DiscoverConfig, OutputConfig, PollConfig
from fota_poller.simulator import SimulatorOptions, run_simulator

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def validator():
    return records_validator()


def test_every_record_of_a_demo_run_validates(validator, tmp_path):
    output = tmp_path / "demo.jsonl"

    exit_code = main(["demo", "--campaigns", "12", "--output", str(output)])

    failures, count = invalid_lines(validator, output)
    kinds = {json.loads(line)["record"] for line in output.read_bytes().splitlines()}
    assert exit_code == 0
    assert kinds == {"device", "campaign", "run"}
    assert count > 12
    assert failures == []


async def test_failed_campaign_and_incomplete_run_records_validate(validator, tmp_path):
    options = SimulatorOptions(campaigns=10, devices_min=1, devices_max=5)
    output = tmp_path / "out.jsonl"
    ids = tmp_path / "ids.csv"
    async with run_simulator(options) as simulator:
        account, upgrade_id = next(simulator.catalog.ids())
        ids.write_text(
            f"{account},{upgrade_id}\n"
            f"{account},e3a8d88a-04c6-4ef3-b039-89b62f91e962\n"
            "not an id\n"
            "9999999999-00001,e3a8d88a-04c6-4ef3-b039-89b62f91e962\n",
            encoding="utf-8",
        )
        config = Config(
            api=ApiConfig(base_url=simulator.base_url),
            poll=PollConfig(rate=0),
            output=OutputConfig(path=str(output)),
            discover=DiscoverConfig(statuses=("Queued",), accounts=("9999999999-00001",)),
        )
        tokens = simulator_tokens(options)
        exit_code = await poll_command(config, [str(ids)], tokens)

    records = [json.loads(line) for line in output.read_bytes().splitlines()]
    failures, _ = invalid_lines(validator, output)
    assert exit_code == 1
    assert {r["error_kind"] for r in records if r["record"] == "campaign"} == {
        None,
        "api",
        "invalid_input",
    }
    assert records[-1]["complete"] is False
    assert failures == []
