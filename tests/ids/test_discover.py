import math
import os
import sys
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import anyio
import msgspec
import pytest
from helpers import parse_output, simulator_tokens
from structlog.testing import capture_logs

from fota_poller.api.client import HttpResponse
from fota_poller.cli import build_parser, main
from fota_poller.commands.poll.core import poll_command, poll_config
from fota_poller.config import ApiConfig, Config, DiscoverConfig, OutputConfig, PollConfig
from fota_poller.errors import ConfigError, DiscoveryError, ExitCode
from fota_poller.ids.discover import discover, discovery_accounts, report_url
from fota_poller.ids.lists import read_refs
from fota_poller.model.refs import CampaignRef
from fota_poller.model.stop import RunControl, StopReason
from fota_poller.output.sink import open_sink
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import Catalog, SimulatorOptions, run_simulator
from fota_poller.simulator.reports import StatusReports

ACCOUNTS = ("0000000001-00001", "0000000002-00001", "0000000003-00001")
WANTED = ("Queued", "InProgress")
MIXED = SimulatorOptions(
    campaigns=1234, devices_min=1, devices_max=4, accounts=ACCOUNTS, report_page_size=50
)
UNKNOWN_ACCOUNT = "9999999999-00001"


def discovery_config(base_url, output, accounts=ACCOUNTS, statuses=WANTED):
    return Config(
        api=ApiConfig(base_url=base_url),
        poll=PollConfig(concurrency=8, rate=0),
        output=OutputConfig(path=str(output)),
        discover=DiscoverConfig(statuses=statuses, accounts=accounts),
    )


def campaigns_and_run(path):
    output = parse_output(path.read_bytes())
    assert len(output.runs) == 1
    return output.campaigns, output.run


def truth(catalog, statuses):
    """(account, id) of every campaign the simulator holds in one of `statuses`."""
    found = set()
    for account, upgrade_id in catalog.ids():
        campaign = catalog.campaign(account, upgrade_id)
        if campaign.status in statuses:
            found.add((account, upgrade_id))
    return found


async def test_status_discovery_polls_exactly_the_upgrades_in_those_statuses(tmp_path):
    output = tmp_path / "out.jsonl"
    async with run_simulator(MIXED) as simulator:
        expected = truth(simulator.catalog, WANTED)
        config = discovery_config(simulator.base_url, output)
        exit_code = await poll_command(config, [], simulator_tokens(MIXED))

    campaigns, run = campaigns_and_run(output)
    polled = [(record.account_name, record.upgrade_id) for record in campaigns]
    assert exit_code == 0
    assert run.complete
    assert len(polled) == len(set(polled)) == len(expected)
    assert set(polled) == expected
    assert {record.campaign_status for record in campaigns} == set(WANTED)
    assert {account for account, _ in polled} == set(ACCOUNTS)
    # Every (account, status) was paged to its end, 50 at a time.
    per_pair = Counter(
        (account, simulator.catalog.campaign(account, upgrade_id).status)
        for account, upgrade_id in expected
    )
    pages = sum(math.ceil(count / 50) for count in per_pair.values())
    assert len(per_pair) == len(ACCOUNTS) * len(WANTED)
    assert len(simulator.stats.report_pages) == pages > len(per_pair)
    # Polling overlapped discovery: upgrades were requested before the last page was served.
    assert simulator.stats.report_pages[-1] > 0
    assert run.requests_total == len(expected) + pages


async def test_discovered_ids_join_the_id_list_each_polled_once(tmp_path):
    output = tmp_path / "out.jsonl"
    options = msgspec.structs.replace(MIXED, campaigns=120, report_page_size=7)
    async with run_simulator(options) as simulator:
        queued = truth(simulator.catalog, {"Queued"})
        finished = sorted(truth(simulator.catalog, {"Finished"}))[:5]
        listed = [*sorted(queued)[:3], *finished, *finished[:2]]
        ids = tmp_path / "ids.csv"
        ids.write_text("".join(f"{a},{u.upper()}\n" for a, u in listed), encoding="utf-8")
        config = discovery_config(simulator.base_url, output, statuses=("Queued",))
        exit_code = await poll_command(config, [str(ids)], simulator_tokens(options))

    campaigns, run = campaigns_and_run(output)
    polled = [(record.account_name, record.upgrade_id) for record in campaigns]
    assert exit_code == 0
    assert run.complete
    assert len(polled) == len(set(polled))
    assert set(polled) == queued | set(finished)


async def test_failed_discovery_page_fails_the_run_and_names_account_and_status(tmp_path):
    output = tmp_path / "out.jsonl"
    options = msgspec.structs.replace(MIXED, campaigns=90)
    accounts = (ACCOUNTS[0], UNKNOWN_ACCOUNT)
    async with run_simulator(options) as simulator:
        expected = {
            ref for ref in truth(simulator.catalog, {"InProgress"}) if ref[0] == ACCOUNTS[0]
        }
        config = discovery_config(
            simulator.base_url, output, accounts=accounts, statuses=("InProgress",)
        )
        with capture_logs() as logs:
            exit_code = await poll_command(config, [], simulator_tokens(options))

    campaigns, run = campaigns_and_run(output)
    assert exit_code == 1
    assert run.exit_code == 1
    assert not run.complete
    assert {(r.account_name, r.upgrade_id) for r in campaigns} == expected
    errors = [entry for entry in logs if entry["event"] == "discovery.failed"]
    assert len(errors) == 1
    assert errors[0]["log_level"] == "error"
    assert errors[0]["account_name"] == UNKNOWN_ACCOUNT
    assert errors[0]["status"] == "InProgress"
    assert "AccountNotFound" in errors[0]["error"]


def test_report_pages_chain_through_last_seen_upgrade_id():
    catalog = Catalog(msgspec.structs.replace(MIXED, campaigns=100))
    reports = StatusReports(catalog, page_size=4)
    entries = reports.entries(ACCOUNTS[0], "InProgress")

    seen = []
    page = reports.page(ACCOUNTS[0], "InProgress", "0")
    while True:
        seen.extend(entry.id for entry in page.report_list)
        assert len(page.report_list) <= 4
        if not page.has_more_flag:
            break
        page = reports.page(ACCOUNTS[0], "InProgress", page.last_seen_upgrade_id)

    assert len(entries) > 8
    assert seen == [entry.id for entry in entries]
    assert reports.page(ACCOUNTS[0], "InProgress", "not-an-id") is None


async def test_report_endpoint_answers_bad_index_and_unknown_account_with_errors():
    options = msgspec.structs.replace(MIXED, campaigns=30)
    headers = {
        "Authorization": f"Bearer {options.bearer_token}",
        "VZ-M2M-Token": options.session_token,
    }
    async with run_simulator(options) as simulator, aiohttp.ClientSession() as session:
        base = simulator.base_url
        answers = []
        for account, index, sent in (
            (ACCOUNTS[0], "0", headers),
            (ACCOUNTS[0], "e3a8d88a-04c6-4ef3-b039-89b62f91e962", headers),
            (UNKNOWN_ACCOUNT, "0", headers),
            (ACCOUNTS[0], "0", {**headers, "Authorization": "Bearer expired"}),
        ):
            async with session.get(
                str(report_url(base, account, "Queued", index)), headers=sent
            ) as r:
                answers.append((r.status, await r.json()))

    assert answers[0][0] == 200
    assert set(answers[0][1]) == {"hasMoreFlag", "lastSeenUpgradeId", "reportList"}
    assert answers[1] == (
        400,
        {"errorCode": "INVALID_PARAMETER", "errorMessage": "Invalid startIndex"},
    )
    assert answers[2][0] == 400
    assert answers[2][1]["errorCode"].endswith("AccountNotFound")
    assert answers[3][0] == 401


def test_discovery_without_an_account_is_refused():
    config = Config(discover=DiscoverConfig(statuses=("Queued",)))

    with pytest.raises(ConfigError, match="discovery needs an account"):
        discovery_accounts(config)


def test_poll_with_neither_ids_nor_status_exits_2_with_one_line(capsys):
    exit_code = main(["poll", "--account", ACCOUNTS[0]])

    err = capsys.readouterr().err
    assert exit_code == 2
    assert err.count("\n") == 1
    assert "nothing to poll" in err


def test_status_flag_and_config_name_the_same_statuses():
    args = build_parser().parse_args(
        ["poll", "--status", "Queued, InProgress", "--status", "RequestPending", "--account", "a-1"]
    )
    config = poll_config(args)

    assert config.discover.statuses == ("Queued", "InProgress", "RequestPending")
    assert discovery_accounts(config) == ("a-1",)


async def test_discovery_fetches_no_page_once_the_run_is_stopped(tmp_path):
    output = tmp_path / "out.jsonl"
    options = msgspec.structs.replace(MIXED, campaigns=60)
    control = RunControl()
    control.stop(StopReason("not_polled", "deadline passed", ExitCode.CUT_SHORT))
    async with run_simulator(options) as simulator:
        config = discovery_config(simulator.base_url, output)
        sink = open_sink(str(output))
        run = await run_poll(config, read_refs([], None), simulator_tokens(options), sink, control)
        sink.commit()

    assert simulator.stats.requests_total == 0
    assert run.exit_code == ExitCode.CUT_SHORT
    assert not run.complete
    assert run.campaigns_total == 0


async def test_report_pages_share_the_rate_limit_with_polling(tmp_path):
    output = tmp_path / "out.jsonl"
    options = msgspec.structs.replace(
        MIXED, campaigns=40, accounts=ACCOUNTS[:1], report_page_size=2
    )
    async with run_simulator(options) as simulator:
        config = msgspec.structs.replace(
            discovery_config(
                simulator.base_url, output, accounts=ACCOUNTS[:1], statuses=("Queued",)
            ),
            poll=PollConfig(concurrency=8, rate=12),
        )
        exit_code = await poll_command(config, [], simulator_tokens(options))

    stats = simulator.stats
    assert exit_code == 0
    assert len(stats.report_pages) >= 3
    assert stats.requests_total > 12
    assert stats.max_starts_in_window(1.0) <= 12


async def test_discovery_reads_a_last_page_id_as_string_null_or_zero_through_the_cli(tmp_path):
    # Verizon's SDK types lastSeenUpgradeId as an integer, "0 if hasMoreData=false"; the
    # simulator ends each (account, status) with the id, null or 0.
    statuses = ("Queued", "InProgress", "Finished")
    options = msgspec.structs.replace(
        MIXED, campaigns=300, accounts=ACCOUNTS[:1], report_page_size=7
    )
    output = tmp_path / "out.jsonl"
    async with run_simulator(options) as simulator:
        expected = truth(simulator.catalog, statuses)
        command = [sys.executable, "-m", "fota_poller", "poll", "--status", ",".join(statuses)]
        command += ["--account", ACCOUNTS[0], "--base-url", simulator.base_url, "--rate", "0"]
        command += ["--output", str(output)]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("THINGSPACE_")}
        environ |= {
            "THINGSPACE_BEARER_TOKEN": options.bearer_token,
            "THINGSPACE_SESSION_TOKEN": options.session_token,
        }
        result = await anyio.run_process(command, env=environ, check=False)
        stats = simulator.stats

    campaigns, run = campaigns_and_run(output)
    assert result.returncode == 0, result.stderr.decode()
    assert run.complete
    assert {(r.account_name, r.upgrade_id) for r in campaigns} == expected
    assert len(campaigns) == len(expected)
    # Each form was served on a last page, after pages that carried upgrade ids.
    assert stats.last_page_forms == {"id": 1, "null": 1, "0": 1}
    assert len(stats.report_pages) > len(statuses)
    # Every request is counted once by status (report pages were counted twice).
    assert sum(stats.requests_by_status.values()) == stats.requests_total == run.requests_total


class PagesGetter:
    """A stand-in `Getter` serving report pages in order; no retries, no network."""

    def __init__(self, *pages):
        self.pages = list(pages)
        self.urls = []

    async def get(self, url):
        self.urls.append(str(url))
        body = msgspec.json.encode(self.pages.pop(0))
        return HttpResponse(200, body, datetime.now(UTC), 1.0)


ENTRY = {"id": "e3a8d88a-04c6-4ef3-b039-89b62f91e962"}


@pytest.mark.parametrize("last_seen", [17, 0])
async def test_an_integer_last_seen_id_with_more_data_is_a_clear_discovery_error(last_seen):
    client = PagesGetter(
        {"hasMoreFlag": True, "lastSeenUpgradeId": last_seen, "reportList": [ENTRY]}
    )
    found = []

    async def collect():
        pages = discover(client, "http://x", ACCOUNTS[:1], ["Queued"], RunControl(), max_pages=10)
        async for item in pages:
            found.append(item)  # noqa: PERF401 - what came before the error must be kept

    with pytest.raises(DiscoveryError, match=f"integer lastSeenUpgradeId {last_seen}"):
        await collect()
    assert found == [CampaignRef(ACCOUNTS[0], ENTRY["id"])]
    assert len(client.urls) == 1


async def test_a_zero_last_seen_id_on_the_last_page_ends_discovery():
    second = {"id": "44e11f09-6b75-4d97-9307-8beeb9d97d46"}
    client = PagesGetter(
        {"hasMoreFlag": True, "lastSeenUpgradeId": ENTRY["id"], "reportList": [ENTRY]},
        {"hasMoreFlag": False, "lastSeenUpgradeId": 0, "reportList": [second]},
    )
    found = [
        item
        async for item in discover(
            client, "http://x", ACCOUNTS[:1], ["Queued"], RunControl(), max_pages=10
        )
    ]
    assert found == [CampaignRef(ACCOUNTS[0], ENTRY["id"]), CampaignRef(ACCOUNTS[0], second["id"])]
    assert client.urls[1].endswith(f"/index/{ENTRY['id']}")


def endless_pages(count):
    """`count` pages, each naming a new lastSeenUpgradeId and saying more follow."""
    ids = [f"{number:08x}-6b75-4d97-9307-8beeb9d97d46" for number in range(count)]
    return [{"hasMoreFlag": True, "lastSeenUpgradeId": i, "reportList": [{"id": i}]} for i in ids]


async def test_pages_that_never_end_stop_at_max_pages_with_a_clear_error():
    client = PagesGetter(*endless_pages(10))
    found = []

    async def collect():
        pages = discover(client, "http://x", ACCOUNTS[:1], ["Queued"], RunControl(), max_pages=3)
        async for item in pages:
            found.append(item)  # noqa: PERF401 - what came before the error must be kept

    with pytest.raises(DiscoveryError, match=r"more than 3 pages \(discover.max_pages\)"):
        await collect()
    # The three pages read are polled all the same; the fourth is never asked for.
    assert len(found) == len(client.urls) == 3


async def test_a_report_of_exactly_max_pages_pages_is_complete():
    last = {"hasMoreFlag": False, "lastSeenUpgradeId": 0, "reportList": [ENTRY]}
    client = PagesGetter(*endless_pages(2), last)
    pages = discover(client, "http://x", ACCOUNTS[:1], ["Queued"], RunControl(), max_pages=3)
    found = [item async for item in pages]
    assert len(found) == len(client.urls) == 3
