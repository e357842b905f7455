"""None and bools reach SQLite through the state's own adapters, as the same values."""

import sqlite3

import pytest

from fota_poller.state import binding, store


@pytest.mark.parametrize(
    ("value", "stored"), [(None, (None, "null")), (True, (1, "integer")), (False, (0, "integer"))]
)
def test_none_and_bools_are_bound_through_an_adapter_as_the_same_values(value, stored):
    assert store.binding is binding  # the store, which binds the rows, brings the adapters
    found = sqlite3.adapters.get((type(value), sqlite3.PrepareProtocol))
    assert found is not None
    assert found(value) == value
    connection = sqlite3.connect(":memory:")
    assert connection.execute("SELECT ?, typeof(?)", (value, value)).fetchone() == stored
