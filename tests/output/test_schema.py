import json

import jsonschema
import pytest
from helpers import ROOT, simulator_tokens

from fota_poller.cli import main
from fota_poller.commands.poll.core import poll_command
from fota_poller.config import ApiConfig, Config, DiscoverConfig, OutputConfig, PollConfig
from fota_poller.output.schema import records_schema
from fota_poller.simulator import SimulatorOptions, run_simulator

SCHEMA_FILE = ROOT / "docs" / "records.schema.json"


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def invalid_lines(validator, path):
    """(line number, first error) of every line that does not validate; and the line count."""
    failures = []
    count = 0
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            count += 1
            error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(line)))
            if error is not None:
                failures.append((number, error.message))
    return failures, count


def test_schema_command_prints_the_committed_schema(capsys):
    exit_code = main(["schema"])

    printed = capsys.readouterr().out
    assert exit_code == 0
    assert printed == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(printed) == json.loads(json.dumps(records_schema()))


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


def test_schema_rejects_a_record_that_breaks_the_contract(validator):
    device = {
        "record": "device",
        "run_id": "r",
        "polled_at": "2026-11-25T02:00:00.123Z",
        "account_name": "0000123456-00001",
        "upgrade_id": "e3a8d88a-04c6-4ef3-b039-89b62f91e962",
        "firmware_name": None,
        "firmware_to": None,
        "start_date": None,
        "end_date": None,
        "campaign_status": "Queued",
        "campaign_ended": None,
        "device_id": "990000862471854",
        "status": "Device Accepted",
        "phase": "pending",
        "result_reason": "success",
        "previous_status": "RequestPending",
        "status_since": "2026-11-25T02:00:00.123Z",
        "change": "changed",
    }
    missing_key = {k: v for k, v in device.items() if k != "status"}
    wrong_type = {**device, "campaign_ended": "no"}
    unknown_kind = {**device, "record": "devices"}
    unknown_phase = {**device, "phase": "done"}
    unknown_change = {**device, "change": "moved"}

    assert validator.is_valid(device)
    assert not validator.is_valid(missing_key)
    assert not validator.is_valid(wrong_type)
    assert not validator.is_valid(unknown_kind)
    assert not validator.is_valid(unknown_phase)
    assert not validator.is_valid(unknown_change)
