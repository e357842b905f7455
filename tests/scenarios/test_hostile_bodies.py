"""Issue 18, one bad byte: a body the decoder cannot read costs its own campaign, never the night.

Through the real CLI (a process) against a small ThingSpace of our own on loopback, which
answers what the simulator never would: a string holding an invalid UTF-8 byte, JSON nested
a thousand deep, report pages that never end. The decoder raises more than
`msgspec.DecodeError` on these (`UnicodeDecodeError`, `RecursionError`); each must become the
documented failure of its input: a `decode` record, an auth failure, a discovery failure.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from aiohttp import web
from helpers import ACCOUNT, assert_calm, clean_environ, parse_output, serve_app

CAMPAIGNS = 200
BAD_BYTE = b'"status":"Upgrade\xe9chec"'
DEEP = 1_000
CREDENTIALS = {
    "THINGSPACE_APP_KEY": "hostile-app-key",
    "THINGSPACE_APP_SECRET": "hostile-app-secret",
    "THINGSPACE_USERNAME": "hostile-user",
    "THINGSPACE_PASSWORD": "hostile-password",
}
GOOD_TOKEN = b'{"access_token":"hostile-bearer-token","expires_in":3600}'


def upgrade_ids(count: int) -> list[str]:
    return [str(uuid.UUID(int=number + 1, version=4)) for number in range(count)]


def upgrade_body(upgrade_id: str, status: bytes = b'"status":"Upgrade Completed"') -> bytes:
    return (
        b'{"id":"%s","accountName":"%s",%s,"deviceList":[{"deviceId":"99000000000000%d",'
        b'"status":"Device Accepted","resultReason":"success"}]}'
        % (upgrade_id.encode(), ACCOUNT.encode(), status, len(upgrade_id))
    )


def nested_body(upgrade_id: str) -> bytes:
    # Under a key nobody reads: msgspec still walks it to skip it, a level a frame.
    deep = b"[" * DEEP + b"]" * DEEP
    return upgrade_body(upgrade_id).replace(b'"deviceList"', b'"extra":' + deep + b',"deviceList"')


class HostileThingSpace:
    """The gateway, the login and the FOTA routes, each answering what the test sets."""

    def __init__(self) -> None:
        self.token_body = GOOD_TOKEN
        self.login_body = b'{"sessionToken":"hostile-session-token"}'
        self.upgrades: dict[str, bytes] = {}
        self.errors: dict[str, bytes] = {}  # answered 400 with this body
        self.report: Callable[[str], bytes] = lambda _index: b'{"hasMoreFlag":false}'
        self.report_requests = 0

    async def token(self, _request: web.Request) -> web.Response:
        return _json(self.token_body)

    async def login(self, _request: web.Request) -> web.Response:
        return _json(self.login_body)

    async def logout(self, _request: web.Request) -> web.Response:
        return _json(b"{}")

    async def upgrade(self, request: web.Request) -> web.Response:
        upgrade = request.match_info["upgrade"]
        if upgrade in self.errors:
            return web.Response(
                body=self.errors[upgrade], status=400, content_type="application/json"
            )
        return _json(self.upgrades[upgrade])

    async def reports(self, request: web.Request) -> web.Response:
        self.report_requests += 1
        return _json(self.report(request.match_info["index"]))


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


@pytest.fixture
async def thingspace() -> AsyncIterator[tuple[HostileThingSpace, str]]:
    server = HostileThingSpace()
    app = web.Application()
    app.router.add_post("/ts/v1/oauth2/token", server.token)
    app.router.add_post("/m2m/v1/session/login", server.login)
    app.router.add_post("/m2m/v1/session/logout", server.logout)
    app.router.add_get("/fota/v1/upgrades/{account}/upgrade/{upgrade}", server.upgrade)
    app.router.add_get("/fota/v1/reports/{account}/status/{status}/index/{index}", server.reports)
    async with serve_app(app) as base_url:
        yield server, base_url


async def poll(base_url: str, *flags: str) -> tuple[int, str]:
    """`fota-poller poll` as a process against `base_url`: its exit code and stderr."""
    command = [
        sys.executable, "-m", "fota_poller", "poll", "--base-url", base_url,
        "--account", ACCOUNT, "--rate", "0", "--log-format", "json", *flags,
    ]  # fmt: skip
    result = await anyio.run_process(command, env=clean_environ() | CREDENTIALS, check=False)
    return result.returncode, result.stderr.decode("utf-8", errors="replace")


def metric(path: Path, name: str) -> float:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in {path}")


async def test_one_unreadable_body_costs_its_campaign_and_never_the_night(tmp_path, thingspace):
    server, base_url = thingspace
    ids = upgrade_ids(CAMPAIGNS)
    server.upgrades = {upgrade_id: upgrade_body(upgrade_id) for upgrade_id in ids}
    bad_byte, nested = ids[57], ids[142]
    server.upgrades[bad_byte] = upgrade_body(bad_byte, BAD_BYTE)
    server.upgrades[nested] = nested_body(nested)
    (tmp_path / "ids.txt").write_text("".join(f"{ACCOUNT},{i}\n" for i in ids), encoding="utf-8")
    output, state, metrics = tmp_path / "out.jsonl", tmp_path / "state.db", tmp_path / "m.prom"

    code, stderr = await poll(
        base_url, "--ids", str(tmp_path / "ids.txt"), "--output", str(output),
        "--state", str(state), "--metrics-file", str(metrics),
    )  # fmt: skip

    assert_calm(stderr)
    assert code == 1, stderr[-2000:]
    records = parse_output(output.read_bytes())
    by_id = {record.upgrade_id: record for record in records.campaigns}
    assert set(by_id) == set(ids)
    failed = {i: r for i, r in by_id.items() if r.outcome == "failed"}
    assert set(failed) == {bad_byte, nested}
    assert {record.error_kind for record in failed.values()} == {"decode"}
    assert "not valid UTF-8: byte 0xe9" in (failed[bad_byte].error_message or "")
    assert failed[nested].error_message == "nested too deeply to read"
    assert len(records.devices) == CAMPAIGNS - 2
    assert records.run.campaigns_failed == 2
    with sqlite3.connect(state) as db:
        remembered = {row[0] for row in db.execute("SELECT upgrade_id FROM campaigns")}
    assert remembered == set(ids) - {bad_byte, nested}
    assert metric(metrics, "fota_poller_last_run_exit_code") == 1
    assert metric(metrics, 'fota_poller_last_run_failed_campaigns{error_kind="decode"}') == 2


async def test_megabytes_of_error_text_are_cut_in_records_logs_and_metrics(tmp_path, thingspace):
    server, base_url = thingspace
    ids = upgrade_ids(20)
    server.upgrades = {upgrade_id: upgrade_body(upgrade_id) for upgrade_id in ids}
    huge = ids[7]
    server.errors[huge] = b'{"errorCode":"%s","errorMessage":"%s"}' % (
        b"E" * 1_000_000,
        b"M" * 2_000_000,
    )
    (tmp_path / "ids.txt").write_text("".join(f"{ACCOUNT},{i}\n" for i in ids), encoding="utf-8")
    output, state, metrics = tmp_path / "out.jsonl", tmp_path / "state.db", tmp_path / "m.prom"

    code, stderr = await poll(
        base_url, "--ids", str(tmp_path / "ids.txt"), "--output", str(output),
        "--state", str(state), "--metrics-file", str(metrics), "--log-level", "debug",
    )  # fmt: skip

    assert_calm(stderr)
    assert code == 1, stderr[-2000:]
    # 3 MB from the server; a few kB of stderr, each text cut at 200 characters with a marker.
    assert len(stderr) < 50_000
    assert "E" * 201 not in stderr
    assert "M" * 201 not in stderr
    assert "[cut, 1000000 chars]" in stderr  # after "\\u2026", as JSON writes "…"
    assert "[cut, 221 chars]" not in stderr  # a cut text is not cut again
    written = output.read_bytes()
    assert len(written) < 50_000
    records = parse_output(written)
    by_id = {record.upgrade_id: record for record in records.campaigns}
    assert set(by_id) == set(ids)
    failed = by_id[huge]
    assert failed.outcome == "failed"
    assert failed.error_code == "E" * 200 + "…[cut, 1000000 chars]"
    assert failed.error_message == "M" * 200 + "…[cut, 2000000 chars]"
    assert len(records.devices) == len(ids) - 1
    with sqlite3.connect(state) as db:
        remembered = {row[0] for row in db.execute("SELECT upgrade_id FROM campaigns")}
    assert remembered == set(ids) - {huge}
    assert "E" * 201 not in metrics.read_text(encoding="utf-8")
    assert metric(metrics, "fota_poller_last_run_exit_code") == 1


@pytest.mark.parametrize("answer", ["token", "login"])
async def test_an_auth_answer_with_a_bad_byte_is_an_auth_failure(tmp_path, thingspace, answer):
    server, base_url = thingspace
    [upgrade_id] = upgrade_ids(1)
    server.upgrades = {upgrade_id: upgrade_body(upgrade_id)}
    if answer == "token":
        server.token_body = b'{"access_token":"hostile\xe9token","expires_in":3600}'
    else:
        server.login_body = b'{"sessionToken":"hostile\xe9session"}'
    (tmp_path / "ids.txt").write_text(f"{ACCOUNT},{upgrade_id}\n", encoding="utf-8")

    code, stderr = await poll(
        base_url, "--ids", str(tmp_path / "ids.txt"), "--output", str(tmp_path / "out.jsonl")
    )

    assert_calm(stderr)
    assert code == 3, stderr[-2000:]
    reason = f"the {answer} answer could not be read: a string is not valid UTF-8: byte 0xe9"
    assert sum(reason in line for line in stderr.splitlines()) == 1, stderr[-2000:]


async def test_a_report_page_nested_deep_is_a_discovery_failure(tmp_path, thingspace):
    server, base_url = thingspace
    server.report = lambda _index: b'{"extra":' + b"[" * DEEP + b"]" * DEEP + b"}"

    code, stderr = await poll(
        base_url, "--status", "Queued", "--output", str(tmp_path / "out.jsonl")
    )

    assert_calm(stderr)
    assert code == 1, stderr[-2000:]
    [line] = [line for line in stderr.splitlines() if '"discovery.failed"' in line]
    assert "unreadable page: nested too deeply to read" in line
    run = parse_output((tmp_path / "out.jsonl").read_bytes()).run
    assert not run.complete


async def test_report_pages_that_never_end_stop_at_max_pages(tmp_path, thingspace):
    server, base_url = thingspace
    ids = iter(upgrade_ids(100))
    server.upgrades = {upgrade_id: upgrade_body(upgrade_id) for upgrade_id in upgrade_ids(100)}

    def endless(_index: str) -> bytes:
        upgrade_id = next(ids)  # a new lastSeenUpgradeId on every page: no loop to see
        entry = b'{"id":"%s"}' % upgrade_id.encode()
        return b'{"hasMoreFlag":true,"lastSeenUpgradeId":"%s","reportList":[%s]}' % (
            upgrade_id.encode(),
            entry,
        )

    server.report = endless
    config = tmp_path / "config.toml"
    config.write_text("[discover]\nmax_pages = 5\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"

    code, stderr = await poll(
        base_url, "--config", str(config), "--status", "Queued", "--output", str(output)
    )

    assert_calm(stderr)
    assert code == 1, stderr[-2000:]
    assert server.report_requests == 5
    [line] = [line for line in stderr.splitlines() if '"discovery.failed"' in line]
    assert "more than 5 pages (discover.max_pages): stopped there" in line
    records = parse_output(output.read_bytes())
    assert len(records.campaigns) == 5
    assert not records.run.complete


async def test_check_reads_a_bad_token_answer_as_a_refusal(thingspace):
    server, base_url = thingspace
    server.token_body = b'{"access_token":"hostile\xe9token","expires_in":3600}'
    command = [sys.executable, "-m", "fota_poller", "check", "--base-url", base_url]
    result = await anyio.run_process(command, env=clean_environ() | CREDENTIALS, check=False)
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    assert "Traceback" not in output
    assert result.returncode == 3, output
    assert "token answer could not be read: a string is not valid UTF-8" in output
