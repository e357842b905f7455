"""An id list of one column, as a spreadsheet exports it: its header skipped, its ids read."""

from __future__ import annotations

import pytest
from helpers import UPGRADE

from fota_poller.ids.lists import parse_line


@pytest.mark.parametrize(
    "header", ["upgradeId", "upgrade_id", "id", "ID", "UpgradeID", '"upgradeId"']
)
def test_a_one_column_header_is_skipped(header) -> None:
    assert parse_line(header, source="ids", line_number=1, default_account="acct") is None


@pytest.mark.parametrize("line", [UPGRADE, "ids", "upgrade"])
def test_a_one_column_line_that_is_not_a_header_is_still_read(line) -> None:
    parsed = parse_line(line, source="ids", line_number=1, default_account="acct")
    assert parsed is not None
