"""Issue 21, acceptance 2: `poll --inventory` pages each account's device list to its end, once.

Through the CLI against the simulator (two accounts, 7 devices a page): the last page's
`lastSeenDeviceId` in each of its three forms (0, null, a string) ends the list after
ceil(devices / 7) requests an account; a page that does not advance (the same index again,
or a smaller one) ends that account's list after at most 2 pages, with exit 1, every
campaign still polled and written. The request count is asserted three ways: the
simulator's count of pages served, the run record's `inventory_requests` and the metrics
file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import ACCOUNT, OTHER_ACCOUNT, assert_calm, parse_output, poll_cli, token_environ
from prometheus_client.parser import text_string_to_metric_families

from fota_poller.simulator import InventoryOptions, SimulatorOptions, run_simulator

ACCOUNTS = (ACCOUNT, OTHER_ACCOUNT)
PAGE = 7


def night(quirk: str | None) -> SimulatorOptions:
    """10 campaigns of 1-5 devices over two accounts, 10 devices each in no campaign."""
    inventory = InventoryOptions(page_size=PAGE, extra_devices=10, quirk=quirk)
    return SimulatorOptions(
        campaigns=10, devices_min=1, devices_max=5, accounts=ACCOUNTS, inventory=inventory
    )


def log_lines(stderr: bytes, event: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stderr.decode().splitlines()]
    return [line for line in lines if line["event"] == event]


def metric(path: Path, name: str) -> float:
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not in {path}")


async def poll_inventory(tmp_path: Path, options: SimulatorOptions):
    """One `poll --inventory` process: its result, what it wrote, the simulator's figures."""
    metrics = tmp_path / "night.prom"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        result = await poll_cli(
            simulator,
            tmp_path / "ids.txt",
            "--inventory",
            "--rate",
            "0",
            "--metrics-file",
            str(metrics),
            env=token_environ(options),
        )
        sizes = {account: len(simulator.inventory.truth(account)) for account in ACCOUNTS}
        pages = simulator.stats.inventory_pages
    assert_calm(result.stderr)
    return result, parse_output(result.stdout), sizes, pages, metrics


@pytest.mark.parametrize("quirk", [None, "null_last", "string_last"])
async def test_each_form_of_the_last_pages_index_ends_the_list_after_one_request_a_page(
    tmp_path: Path, quirk: str | None
) -> None:
    result, output, sizes, pages, metrics = await poll_inventory(tmp_path, night(quirk))

    expected = sum(math.ceil(size / PAGE) for size in sizes.values())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert all(size > PAGE for size in sizes.values())  # more than one page each
    assert pages == output.run.inventory_requests == expected
    assert metric(metrics, "fota_poller_last_run_inventory_requests") == expected
    # Of the run's requests: one upgrade a campaign, the rest the device lists.
    assert output.run.requests_total == len(output.campaigns) + expected
    done = {line["account_name"]: line for line in log_lines(result.stderr, "inventory.done")}
    assert {account: done[account]["devices"] for account in ACCOUNTS} == sizes
    assert {account: done[account]["requests"] for account in ACCOUNTS} == {
        account: math.ceil(size / PAGE) for account, size in sizes.items()
    }
    assert all(campaign.outcome == "ok" for campaign in output.campaigns)


@pytest.mark.parametrize("quirk", ["stuck", "backwards"])
async def test_a_list_that_does_not_advance_ends_after_two_pages_and_the_run_exits_1(
    tmp_path: Path, quirk: str
) -> None:
    result, output, _, pages, metrics = await poll_inventory(tmp_path, night(quirk))

    # The first page advances; the second names its own start index again, or one before it.
    assert pages == output.run.inventory_requests == 2 * len(ACCOUNTS)
    assert metric(metrics, "fota_poller_last_run_inventory_requests") == 2 * len(ACCOUNTS)
    assert result.returncode == 1
    failed = log_lines(result.stderr, "inventory.failed")
    assert sorted(line["account_name"] for line in failed) == sorted(ACCOUNTS)
    assert all("does not advance" in str(line["error"]) for line in failed)
    # Every campaign is still polled and written; the run is whole, its inventories not.
    assert len(output.campaigns) == 10
    assert all(campaign.outcome == "ok" for campaign in output.campaigns)
    assert output.run.complete
    assert output.run.exit_code == 1
