"""`fota-poller schema` prints the committed records schema."""

import json

import pytest
from helpers import RECORDS_SCHEMA

from fota_poller.cli import main
from fota_poller.output.schema import records_schema

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_schema_command_prints_the_committed_schema(capsys):
    exit_code = main(["schema"])

    printed = capsys.readouterr().out
    assert exit_code == 0
    assert printed == RECORDS_SCHEMA.read_text(encoding="utf-8")
    assert json.loads(printed) == json.loads(json.dumps(records_schema()))
