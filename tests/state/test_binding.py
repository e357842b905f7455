"""None and bools reach SQLite through the state's own adapters, as the same values."""

import sqlite3
import subprocess
import sys

import pytest

import fota_poller.state  # noqa: F401 - what the test is about: importing any of it


@pytest.mark.parametrize(
    ("value", "stored"), [(None, (None, "null")), (True, (1, "integer")), (False, (0, "integer"))]
)
def test_none_and_bools_are_bound_through_an_adapter_as_the_same_values(value, stored):
    found = sqlite3.adapters.get((type(value), sqlite3.PrepareProtocol))
    assert found is not None
    assert found(value) == value
    connection = sqlite3.connect(":memory:")
    assert connection.execute("SELECT ?, typeof(?)", (value, value)).fetchone() == stored


@pytest.mark.parametrize("module", ["schema", "store", "queries", "history"])
def test_any_state_module_alone_brings_the_adapters(module):
    # A fresh interpreter: nothing but this one module of the state imported.
    check = (
        f"import sqlite3, fota_poller.state.{module}; "
        "print(all((kind, sqlite3.PrepareProtocol) in sqlite3.adapters for kind in "
        "(type(None), bool)))"
    )
    command = [sys.executable, "-c", check]
    answer = subprocess.run(command, check=False, capture_output=True, text=True)
    assert answer.stdout.strip() == "True", answer.stderr
