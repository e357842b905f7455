import uuid

import aiohttp
import msgspec
import pytest

from fota_poller.cli import main
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions, parse_mix, parse_outage


def options_with(faults, campaigns=4):
    return SimulatorOptions(campaigns=campaigns, devices_min=20, devices_max=20, faults=faults)


def headers(options):
    return {
        "Authorization": f"Bearer {options.bearer_token}",
        "VZ-M2M-Token": options.session_token,
    }


async def get_first(simulator, session):
    account, upgrade_id = next(simulator.catalog.ids())
    url = f"{simulator.base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"
    async with session.get(url, headers=headers(simulator.options)) as response:
        return response.status, response.headers.get("Retry-After"), await response.read()


async def answer_to_one_fault(kind, read_timeout=5.0):
    options = options_with(FaultOptions(mix=((kind, 1.0),), stall_s=30))
    async with run_simulator(options) as simulator:
        timeout = aiohttp.ClientTimeout(sock_read=read_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                return await get_first(simulator, session), simulator.stats
            except (aiohttp.ClientError, TimeoutError) as exc:
                return exc, simulator.stats


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("408", 408, b"{"),
        ("429", 429, b"{"),
        ("500", 500, b"{"),
        ("502", 502, b"Bad Gateway"),
        ("502html", 502, b"<html>"),
        ("503", 503, b"Service"),
        ("504", 504, b"<html>"),
    ],
)
async def test_a_status_fault_answers_with_its_status_and_body(kind, status, content_type):
    (answered, retry_after, body), stats = await answer_to_one_fault(kind)
    assert answered == status
    assert body.startswith(content_type)
    assert (retry_after == "1") == (status == 429)
    assert stats.faults_by_kind == {kind: 1}


async def test_a_reset_fault_drops_the_connection():
    error, stats = await answer_to_one_fault("reset")
    assert isinstance(error, aiohttp.ClientOSError | aiohttp.ServerDisconnectedError)
    assert stats.requests_by_status.get(0, 0) >= 1


async def test_a_truncate_fault_sends_fewer_bytes_than_content_length():
    error, _ = await answer_to_one_fault("truncate")
    assert isinstance(error, aiohttp.ClientPayloadError)


async def test_a_stall_fault_sends_headers_then_stops():
    error, _ = await answer_to_one_fault("stall", read_timeout=0.2)
    assert isinstance(error, TimeoutError)


async def test_faults_are_the_same_for_the_same_seed_whatever_the_order():
    faults = FaultOptions(mix=(("500", 0.5),))
    seen = []
    for reverse in (False, True):
        options = options_with(faults, campaigns=30)
        async with run_simulator(options) as simulator, aiohttp.ClientSession() as session:
            ids = list(simulator.catalog.ids())
            statuses = {}
            for account, upgrade_id in reversed(ids) if reverse else ids:
                url = f"{simulator.base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"
                for attempt in range(2):
                    async with session.get(url, headers=headers(options)) as response:
                        statuses[upgrade_id, attempt] = response.status
            seen.append(statuses)
    assert seen[0] == seen[1]
    assert set(seen[0].values()) == {200, 500}


async def test_above_the_rate_limit_the_answer_is_429_with_retry_after():
    options = options_with(FaultOptions(rate_limit=3))
    async with run_simulator(options) as simulator, aiohttp.ClientSession() as session:
        answers = [await get_first(simulator, session) for _ in range(5)]
        stats = simulator.stats
    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
    assert answers[3][1] == "1"
    assert stats.requests_by_status[429] == 2


async def test_during_an_outage_every_request_gets_503():
    options = options_with(FaultOptions(outage=(0.0, 3600.0)))
    async with run_simulator(options) as simulator, aiohttp.ClientSession() as session:
        status, _, body = await get_first(simulator, session)
        stats = simulator.stats
    assert status == 503
    assert b"<html>" in body
    assert stats.faults_by_kind == {"outage": 1}


async def test_a_foreign_fault_serves_the_campaign_under_another_upgrade_id():
    (status, _, body), stats = await answer_to_one_fault("foreign")
    options = options_with(FaultOptions())
    async with run_simulator(options) as simulator, aiohttp.ClientSession() as session:
        _, _, genuine = await get_first(simulator, session)
    served, expected = msgspec.json.decode(body), msgspec.json.decode(genuine)
    assert status == 200
    assert stats.faults_by_kind == {"foreign": 1}
    assert served["id"] != expected["id"]
    assert str(uuid.UUID(served["id"])) == served["id"]
    assert {**served, "id": expected["id"]} == expected
    assert parse_mix("foreign=0.1") == (("foreign", 0.1),)


def test_fault_mix_and_outage_are_parsed_and_checked():
    assert parse_mix("429=0.05, reset=0.02") == (("429", 0.05), ("reset", 0.02))
    assert parse_outage("2-12") == (2.0, 12.0)
    with pytest.raises(ValueError, match="unknown fault 'boom'"):
        parse_mix("boom=0.1")
    with pytest.raises(ValueError, match="more than 1"):
        parse_mix("500=0.7,502=0.7")
    with pytest.raises(ValueError, match="START must be before END"):
        parse_outage("12-2")


def test_a_bad_fault_flag_is_a_one_line_usage_error(capsys):
    assert main(["simulate", "--faults", "500=lots"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
