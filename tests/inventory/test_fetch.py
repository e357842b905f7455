"""One account's device list through the real client and retry loop, answers from aioresponses.

The client layer in isolation: every page goes through `UpgradeClient` (its body cap and
redirect refusal) and `fetch_with_retries` (retries, the circuit, the stop switch); the
worst nights of issue 21 point 7 each end in one failure, with the request count asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
import pytest
from aioresponses import aioresponses
from structlog.testing import capture_logs

from fota_poller.api.client import UpgradeClient, open_session
from fota_poller.config import Config, PollConfig
from fota_poller.errors import ExitCode
from fota_poller.inventory.fetch import (
    AccountInventory,
    InventoryFetcher,
    InventoryLimits,
    device_list_url,
    fetch_inventory,
)
from fota_poller.inventory.upgrade_time import UpgradeTimes
from fota_poller.model.inventory import InventoryEntry
from fota_poller.model.stop import RunControl, StopReason
from fota_poller.model.tally import RunTally
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import RetryPolicy
from fota_poller.testing import StaticTokens

BASE = "https://api.example.test/api"
ACCOUNT = "0000123456-00001"
MDN = "15556667777"
POLL = PollConfig(max_attempts=3, backoff_initial_s=0, backoff_max_s=0, circuit_failures=100)


def url(index: object, account: str = ACCOUNT) -> str:
    return f"{BASE}/fota/v1/devices/{account}/index/{index}"


def device(imei: str, firmware: str = "VerizonFirmwareVersion-02", **fields: Any) -> dict:
    return {
        "deviceId": imei,
        "mdn": MDN,
        "model": "Model-A",
        "make": "Acme",
        "firmware": firmware,
        "fotaEligible": True,
        "licenseAssigned": True,
        "upgradeTime": "2021-06-03 00:03:56.079 +0000 UTC",
    } | fields


def page(imeis: Sequence[str], *, more: bool, last: object, account: str = ACCOUNT) -> dict:
    return {
        "accountName": account,
        "hasMoreData": more,
        "lastSeenDeviceId": last,
        "deviceList": [device(imei) for imei in imeis],
    }


class Run(msgspec.Struct):
    """What one test's fetches share: the fetcher, its tally and stop switch."""

    fetcher: InventoryFetcher
    tally: RunTally
    control: RunControl

    async def fetch(self, account: str = ACCOUNT) -> AccountInventory:
        return await fetch_inventory(self.fetcher, account)


@pytest.fixture
async def run() -> AsyncIterator[Run]:
    config = Config(poll=POLL)
    tally = RunTally()
    control = RunControl()
    limiter = RateLimiter(0)
    async with open_session(config) as session:
        client = UpgradeClient(
            session, BASE, StaticTokens("b", "s"), limiter, tally=tally, max_body_bytes=100_000
        )
        fetcher = InventoryFetcher(
            client=client,
            base_url=BASE,
            policy=RetryPolicy.from_config(POLL),
            backoff=SharedBackoff(limiter, BackoffSettings.from_config(POLL)),
            control=control,
            tally=tally,
            times=UpgradeTimes(),
        )
        yield Run(fetcher, tally, control)


def requested(mocked: aioresponses) -> list[str]:
    """Every URL asked for, in order (aioresponses keeps one list per URL)."""
    calls = [(call, str(key[1])) for key, calls in mocked.requests.items() for call in calls]
    return [address for _, address in calls]


def request_count(mocked: aioresponses) -> int:
    return sum(len(calls) for calls in mocked.requests.values())


def assert_failed_once(result: AccountInventory, logs: list[dict], reason: str) -> None:
    assert result.failed
    assert result.inventory is None
    assert result.failure is not None
    assert reason in result.failure
    failed = [line for line in logs if line["event"] == "inventory.failed"]
    assert len(failed) == 1, logs
    assert failed[0]["log_level"] == "error"
    assert reason in failed[0]["error"]


async def test_three_pages_are_followed_by_last_seen_id_one_request_each(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100", "200"], more=True, last=200))
        mocked.get(url(200), payload=page(["300", "400"], more=True, last="400"))
        mocked.get(url(400), payload=page(["500"], more=False, last=0))
        result = await run.fetch()
        assert request_count(mocked) == 3

    assert result.requests == result.pages == 3
    assert run.tally.inventory_requests == run.tally.requests_total == 3
    assert run.tally.retries == 0
    assert result.devices == 5
    assert result.inventory is not None
    assert result.inventory.lookup("300") == InventoryEntry(
        "Model-A",
        "Acme",
        "VerizonFirmwareVersion-02",
        "2021-06-03T00:03:56.079Z",
        fota_eligible=True,
    )
    assert result.inventory.lookup("600") is None


@pytest.mark.parametrize("last", [0, None, "351756051523999", "0"], ids=repr)
async def test_each_form_of_the_last_pages_last_seen_id_ends_the_list(
    run: Run, last: object
) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100"], more=True, last=100))
        mocked.get(url(100), payload=page(["200"], more=False, last=last))
        result = await run.fetch()
        assert request_count(mocked) == 2
    assert not result.failed
    assert result.devices == 2


@pytest.mark.parametrize(
    ("last", "shown"),
    [(200, "'200'"), ("200", "'200'"), (150, "'150'"), (None, "null"), ("", "null"), (0, "'0'")],
    ids=["same-int", "same-string", "smaller", "null", "empty", "zero"],
)
async def test_a_page_that_does_not_advance_stops_the_inventory_at_that_page(
    run: Run, last: object, shown: str
) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100", "200"], more=True, last=200))
        mocked.get(url(200), payload=page(["300"], more=True, last=last), repeat=True)
        with capture_logs() as logs:
            result = await run.fetch()
        # At most 2 such pages (issue 21): this one is stopped at the first.
        assert request_count(mocked) == 2
    assert_failed_once(result, logs, f"lastSeenDeviceId {shown}, not past startIndex '200'")
    assert result.requests == 2
    assert run.tally.inventory_requests == 2


async def test_an_empty_page_that_says_more_follow_is_the_end(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100", "200"], more=True, last=200))
        mocked.get(url(200), payload=page([], more=True, last=200), repeat=True)
        result = await run.fetch()
        assert request_count(mocked) == 2
    assert not result.failed
    assert result.devices == 2


async def test_an_imei_listed_twice_keeps_the_last_and_is_counted(run: Run) -> None:
    second = page(["200", "300"], more=False, last=0)
    second["deviceList"][1] = device("100", firmware="VerizonFirmwareVersion-03")
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100", "100", "200"], more=True, last=200))
        mocked.get(url(200), payload=second)
        with capture_logs() as logs:
            result = await run.fetch()
    assert result.inventory is not None
    assert result.duplicates == 3  # 100 twice on page 1, 100 again and 200 again on page 2
    assert result.devices == 2
    entry = result.inventory.lookup("100")
    assert entry is not None
    assert entry.firmware == "VerizonFirmwareVersion-03"
    [done] = [line for line in logs if line["event"] == "inventory.done"]
    assert done["duplicates"] == 3
    # What the list cost the run's clock (bench/inventory_run.py reads it).
    assert isinstance(done["elapsed_s"], float)
    assert done["elapsed_s"] >= 0


async def test_a_page_for_another_account_is_refused_like_a_foreign_body(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100"], more=True, last=100))
        mocked.get(url(100), payload=page(["200"], more=False, last=0, account="0000999999-00001"))
        with capture_logs() as logs:
            result = await run.fetch()
    assert_failed_once(
        result, logs, f"page is for account '0000999999-00001', not account {ACCOUNT} as asked"
    )


async def test_a_400_with_an_error_code_fails_the_inventory_at_once(run: Run) -> None:
    body = {"errorCode": "INVALID_ACCOUNT", "errorMessage": "no such account"}
    with aioresponses() as mocked:
        mocked.get(url(0), status=400, payload=body, repeat=True)
        with capture_logs() as logs:
            result = await run.fetch()
        assert request_count(mocked) == 1
    assert_failed_once(result, logs, "HTTP 400: 'INVALID_ACCOUNT' 'no such account'")


async def test_500s_are_retried_then_the_inventory_fails(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100"], more=True, last=100))
        mocked.get(url(100), status=500, repeat=True)
        with capture_logs() as logs:
            result = await run.fetch()
        assert request_count(mocked) == 1 + POLL.max_attempts
    assert_failed_once(result, logs, f"HTTP 500 (after {POLL.max_attempts} attempts)")
    assert result.requests == run.tally.inventory_requests == 1 + POLL.max_attempts
    assert run.tally.retries == POLL.max_attempts - 1


async def test_a_503_then_a_page_is_one_retry_and_a_whole_list(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), status=503)
        mocked.get(url(0), payload=page(["100"], more=False, last=0))
        result = await run.fetch()
    assert not result.failed
    assert result.requests == 2
    assert result.pages == 1
    assert run.tally.retries == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"accountName": "\xff\xfe", "deviceList": []}', "not valid UTF-8"),
        (b'{"extra": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply to read"),
        (b"<html>502 Bad Gateway</html>", "unreadable page"),
        (b'{"deviceList": [{"deviceId": ["x"]}]}', "deviceList[0].deviceId"),
        (b'{"hasMoreData": "yes"}', "hasMoreData"),
        (b"x" * 200_000, "over the 100000 byte cap"),
    ],
    ids=["bad-utf8", "deep", "html", "wrong-type", "wrong-flag", "oversize"],
)
async def test_a_hostile_page_fails_the_inventory_in_one_line(
    run: Run, body: bytes, reason: str
) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), body=body, repeat=True)
        with capture_logs() as logs:
            result = await run.fetch()
        assert request_count(mocked) == 1
    assert_failed_once(result, logs, reason)
    assert len(result.failure or "") < 400


async def test_a_redirect_is_not_followed_and_fails_the_inventory(run: Run) -> None:
    elsewhere = "https://evil.example/steal"
    with aioresponses() as mocked:
        mocked.get(url(0), status=302, headers={"Location": elsewhere})
        mocked.get(elsewhere, payload=page(["100"], more=False, last=0))
        with capture_logs() as logs:
            result = await run.fetch()
        assert requested(mocked) == [url(0)]
    assert_failed_once(result, logs, "redirect to host evil.example, not followed")


async def test_a_stopped_run_asks_for_no_page(run: Run) -> None:
    run.control.stop(StopReason("not_polled", "deadline passed", ExitCode.CUT_SHORT))
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100"], more=False, last=0), repeat=True)
        result = await run.fetch()
        assert request_count(mocked) == 0
    assert result.failed
    assert result.stopped


async def test_a_list_that_never_ends_is_stopped_at_the_page_bound(run: Run) -> None:
    fetcher = run.fetcher._replace(limits=InventoryLimits(max_pages=3))
    with aioresponses() as mocked:
        for index in range(5):
            mocked.get(url(index), payload=page([str(index + 1)], more=True, last=index + 1))
        with capture_logs() as logs:
            result = await fetch_inventory(fetcher, ACCOUNT)
        assert request_count(mocked) == 3
    assert_failed_once(result, logs, "more than 3 pages: stopped there")


async def test_a_list_past_the_device_bound_is_stopped(run: Run) -> None:
    fetcher = run.fetcher._replace(limits=InventoryLimits(max_devices=2))
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["1", "2"], more=True, last=2))
        mocked.get(url(2), payload=page(["3"], more=True, last=3))
        with capture_logs() as logs:
            result = await fetch_inventory(fetcher, ACCOUNT)
    assert_failed_once(result, logs, "more than 2 devices: stopped there")


async def test_the_phone_number_is_never_kept_nor_logged(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100"], more=False, last=0))
        with capture_logs() as logs:
            result = await run.fetch()
    assert result.inventory is not None
    assert MDN not in repr(result.inventory.lookup("100"))
    assert MDN not in repr(logs)


async def test_devices_without_an_id_are_counted_and_not_held(run: Run) -> None:
    body = page(["100"], more=False, last=0)
    body["deviceList"] += [device(""), {"model": "Model-A"}, device(351756051523999)]  # type: ignore[arg-type]
    with aioresponses() as mocked:
        mocked.get(url(0), payload=body)
        result = await run.fetch()
    assert result.without_id == 2
    assert result.devices == 2
    assert result.inventory is not None
    assert result.inventory.lookup("351756051523999") is not None


async def test_an_unreadable_upgrade_time_is_null_and_logged_once_for_all_accounts(
    run: Run,
) -> None:
    other = "0000654321-00001"
    first = page(["100", "200"], more=False, last=0)
    for entry in first["deviceList"]:
        entry["upgradeTime"] = "soon\x1b[2J"
    second = page(["300"], more=False, last=0, account=other)
    second["deviceList"][0]["upgradeTime"] = "later"
    with aioresponses() as mocked:
        mocked.get(url(0), payload=first)
        mocked.get(url(0, other), payload=second)
        with capture_logs() as logs:
            results = [await run.fetch(), await run.fetch(other)]
    assert [r.failed for r in results] == [False, False]
    entry = results[0].inventory.lookup("100") if results[0].inventory else None
    assert entry is not None
    assert entry.upgraded_at is None
    assert run.fetcher.times.unreadable == 3
    [line] = [line for line in logs if line["event"] == "inventory.upgrade_time_unreadable"]
    assert "\x1b" not in line["value"]


def test_the_account_and_index_are_quoted_in_the_url() -> None:
    address = device_list_url("http://h/api/", "a/b?c", "1 2#")
    assert str(address) == "http://h/api/fota/v1/devices/a%2Fb%3Fc/index/1%202%23"


async def test_a_stop_between_pages_ends_the_list_as_stopped_not_failed_by_the_api(
    run: Run,
) -> None:
    def stop_after_first(url: object, **kwargs: object) -> None:
        run.control.stop(StopReason("not_polled", "deadline passed", ExitCode.CUT_SHORT))

    with aioresponses() as mocked:
        mocked.get(url(0), payload=page(["100"], more=True, last=100), callback=stop_after_first)
        mocked.get(url(100), payload=page(["200"], more=False, last=0), repeat=True)
        result = await run.fetch()
        assert request_count(mocked) == 1
    assert result.failed
    assert result.stopped
    assert result.requests == 1


async def test_a_429_is_waited_out_and_counted_then_the_page_is_read(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), status=429, headers={"Retry-After": "0"})
        mocked.get(url(0), payload=page(["100"], more=False, last=0))
        result = await run.fetch()
    assert not result.failed
    assert result.requests == 2
    assert run.tally.rate_limited == 1


async def test_an_unknown_account_404_fails_its_inventory_and_not_the_next(run: Run) -> None:
    other = "0000654321-00001"
    with aioresponses() as mocked:
        mocked.get(url(0), status=404, body=b"Not Found")
        mocked.get(url(0, other), payload=page(["100"], more=False, last=0, account=other))
        with capture_logs() as logs:
            first, second = await run.fetch(), await run.fetch(other)
    assert_failed_once(first, logs, "HTTP 404")
    assert not second.failed


async def test_a_token_the_api_never_takes_stops_the_run_as_a_worker_would(run: Run) -> None:
    with aioresponses() as mocked:
        mocked.get(url(0), status=401, payload={"fault": {"code": 900901}}, repeat=True)
        with capture_logs() as logs:
            result = await run.fetch()
        sent = request_count(mocked)
    assert_failed_once(result, logs, "auth: ")
    assert result.stopped
    stop = run.control.stop_reason
    assert stop is not None
    assert stop.error_kind == "auth"
    assert stop.exit_code == ExitCode.AUTH_FAILED
    assert 1 <= result.requests <= sent
