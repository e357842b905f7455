"""Issue 21, acceptance 5: the worst nights of `poll --inventory`, each through the CLI.

Two accounts, 7 devices a page. An empty last page that still says `hasMoreData` is the end
(exit 0); an IMEI listed twice keeps its last entry and is counted (the `inventory.done`
line's `duplicates`); an account whose list fails (a 4xx, retries run out) costs only that
account's join: every campaign is still polled and written, the other account's list is
whole, one `inventory.failed` line names the account, and the run exits 1; a page of
another account is refused. A list that does not advance: test_inventory_paging.py.

Where a test needs one account's list to fail while its campaigns are served, a small proxy
in front of the simulator answers that account's device-list route itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from helpers import (
    ACCOUNT,
    OTHER_ACCOUNT,
    assert_calm,
    parse_output,
    poll_cli,
    proxy_to,
    token_environ,
)

from fota_poller.simulator import InventoryOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.inventory_pages import FOREIGN_ACCOUNT

ACCOUNTS = (ACCOUNT, OTHER_ACCOUNT)
PAGE = 7
CAMPAIGNS = 10
# The account whose list the proxy refuses; ACCOUNT's is served whole.
REFUSED = OTHER_ACCOUNT


def night(quirk: str | None = None) -> SimulatorOptions:
    inventory = InventoryOptions(page_size=PAGE, extra_devices=10, quirk=quirk)
    return SimulatorOptions(
        campaigns=CAMPAIGNS, devices_min=1, devices_max=5, accounts=ACCOUNTS, inventory=inventory
    )


def log_lines(stderr: bytes, event: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stderr.decode().splitlines()]
    return [line for line in lines if line["event"] == event]


def raw_records(stdout: bytes, kind: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    return [line for line in lines if line["record"] == kind]


@asynccontextmanager
async def refusing_proxy(upstream: str, status: int) -> AsyncIterator[str]:
    """Forwards every GET to `upstream`, but answers REFUSED's device list with `status`."""
    refused = f"/fota/v1/devices/{REFUSED}/"

    async def refuse(request: web.Request) -> web.StreamResponse | None:
        if not request.path.startswith(refused):
            return None
        body = {"errorCode": "DEVICE_LIST_REFUSED", "errorMessage": "not today"}
        return web.json_response(body, status=status)

    async with proxy_to(upstream, refuse) as base_url:
        yield base_url


async def poll_inventory(tmp_path: Path, options: SimulatorOptions, *flags: str, proxy: int = 0):
    """`poll --inventory` (through a proxy refusing REFUSED's list with `proxy`, when given)."""
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        sizes = {account: len(simulator.inventory.truth(account)) for account in ACCOUNTS}
        truths = {account: simulator.inventory.truth(account) for account in ACCOUNTS}
        run_flags = ["--inventory", "--rate", "0", *flags]
        if proxy:
            async with refusing_proxy(simulator.base_url, proxy) as base_url:
                run_flags += ["--base-url", base_url]  # the last --base-url wins
                result = await poll_cli(
                    simulator, tmp_path / "ids.txt", *run_flags, env=token_environ(options)
                )
        else:
            result = await poll_cli(
                simulator, tmp_path / "ids.txt", *run_flags, env=token_environ(options)
            )
        pages = simulator.stats.inventory_pages
    assert_calm(result.stderr)
    return result, sizes, truths, pages


async def test_an_empty_last_page_that_says_more_follow_is_the_end(tmp_path: Path) -> None:
    result, sizes, _, pages = await poll_inventory(tmp_path, night("empty_last"))
    output = parse_output(result.stdout)

    # Every page says more follow: the one past the last device is empty, and asked once.
    expected = sum(math.ceil(size / PAGE) + 1 for size in sizes.values())
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert pages == output.run.inventory_requests == expected
    done = {
        line["account_name"]: line["devices"] for line in log_lines(result.stderr, "inventory.done")
    }
    assert done == sizes


async def test_an_imei_listed_twice_keeps_its_last_entry_and_is_counted(tmp_path: Path) -> None:
    result, sizes, _, pages = await poll_inventory(tmp_path, night("duplicate"))
    output = parse_output(result.stdout)

    assert result.returncode == 0, result.stderr.decode()[-2000:]
    # One request a page still: each page lists its first device twice.
    assert (
        pages
        == output.run.inventory_requests
        == sum(math.ceil(size / PAGE) for size in sizes.values())
    )
    # Where the count shows: the account's `inventory.done` line.
    done = {line["account_name"]: line for line in log_lines(result.stderr, "inventory.done")}
    for account, size in sizes.items():
        assert done[account]["devices"] == size
        assert done[account]["duplicates"] == math.ceil(size / PAGE)


@pytest.mark.parametrize(
    ("status", "requests"),
    [(400, 1), (503, 2)],  # a 4xx is not retried; a 5xx until --max-attempts 2 runs out
    ids=["4xx", "retries-exhausted"],
)
async def test_one_accounts_failed_list_costs_only_its_join_and_exits_1(
    tmp_path: Path, status: int, requests: int
) -> None:
    result, sizes, _, pages = await poll_inventory(
        tmp_path, night(), "--max-attempts", "2", proxy=status
    )
    output = parse_output(result.stdout)

    assert result.returncode == 1
    assert output.run.exit_code == 1
    # Every campaign of both accounts is polled and written.
    assert len(output.campaigns) == CAMPAIGNS
    assert {campaign.account_name for campaign in output.campaigns} == set(ACCOUNTS)
    assert all(campaign.outcome == "ok" for campaign in output.campaigns)
    # The other account's list is whole; the refused one cost its requests, and one line.
    whole = math.ceil(sizes[ACCOUNT] / PAGE)
    assert pages == whole
    assert output.run.inventory_requests == whole + requests
    done = log_lines(result.stderr, "inventory.done")
    assert [(line["account_name"], line["devices"]) for line in done] == [(ACCOUNT, sizes[ACCOUNT])]
    failed = log_lines(result.stderr, "inventory.failed")
    assert [line["account_name"] for line in failed] == [REFUSED]
    assert str(failed[0]["error"]).startswith(f"HTTP {status}: 'DEVICE_LIST_REFUSED'")


async def test_a_page_of_another_account_is_refused(tmp_path: Path) -> None:
    result, _, _, pages = await poll_inventory(tmp_path, night("foreign"))
    output = parse_output(result.stdout)

    assert result.returncode == 1
    # Refused at its first page: nothing of another account is followed or joined.
    assert pages == output.run.inventory_requests == len(ACCOUNTS)
    failed = log_lines(result.stderr, "inventory.failed")
    assert sorted(line["account_name"] for line in failed) == sorted(ACCOUNTS)
    assert all(FOREIGN_ACCOUNT in str(line["error"]) for line in failed)
    assert all(campaign.outcome == "ok" for campaign in output.campaigns)


# The records of those nights: the inventory fields as the list says, or null where it failed.
async def test_records_of_a_failed_list_say_failed_and_carry_no_inventory_fields(
    tmp_path: Path,
) -> None:
    result, _, truths, _ = await poll_inventory(tmp_path, night(), proxy=400)

    campaigns = raw_records(result.stdout, "campaign")
    assert {c["account_name"]: c["inventory"] for c in campaigns} == {
        ACCOUNT: "ok",
        REFUSED: "failed",
    }
    for device in raw_records(result.stdout, "device"):
        if device["account_name"] == REFUSED:
            assert device["model"] is None
            assert device["reported_firmware"] is None
            assert device["on_target"] is None
        else:
            truth = truths[ACCOUNT][str(device["device_id"])]
            assert (device["model"], device["reported_firmware"]) == (truth.model, truth.firmware)


async def test_a_device_listed_twice_is_joined_to_its_last_entry(tmp_path: Path) -> None:
    result, _, truths, _ = await poll_inventory(tmp_path, night("duplicate"))

    devices = raw_records(result.stdout, "device")
    assert devices
    for device in devices:
        truth = truths[str(device["account_name"])][str(device["device_id"])]
        # The stale first copy says VerizonFirmwareVersion-00; the last says the truth.
        assert device["reported_firmware"] == truth.firmware
    assert all(c["inventory"] == "ok" for c in raw_records(result.stdout, "campaign"))
