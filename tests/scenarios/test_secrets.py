"""Issue 18, acceptance 3: no secret leaves the process, whatever the server echoes.

An echo server on loopback puts every credential and token it receives (the Basic header's
key and secret, the login body's username and password, the Bearer and session tokens) into
every field it answers with, as they are, in base64 and URL-encoded, on every route: the
token and login errors, the upgrades' error bodies and a 200 body's strings, a redirect's
`Location`, a text error page, a report page's error, the logout. `poll` (with --output,
--state and --metrics-file) and `check` run against it; every byte they wrote (stdout,
stderr, every file of their folder) is searched for every form of every secret.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import anyio
import pytest
from aiohttp import web
from helpers import ACCOUNT, assert_calm, clean_environ, parse_output, serve_app

APP_KEY = "appkey-ECHO-0123456789abcdef"
APP_SECRET = "appsecret/ECHO+9876543210 zyx"
USERNAME = "operator.echo@example.com"
PASSWORD = "pass word/ECHO+with&chars=!"
BEARER = "bearer-ECHO-TOKEN/value+0123456789"
SESSION = "session-ECHO-TOKEN/value+fedcba9876"
SECRETS = (APP_KEY, APP_SECRET, USERNAME, PASSWORD, BEARER, SESSION)

# Upgrade ids and what the echo server answers for each.
ANSWERS = {
    "11111111-1111-4111-8111-111111111111": "api_400",
    "22222222-2222-4222-8222-222222222222": "fault_404",
    "33333333-3333-4333-8333-333333333333": "ok_echo",
    "44444444-4444-4444-8444-444444444444": "redirect",
    "55555555-5555-4555-8555-555555555555": "text_418",
}
OK_ID = "33333333-3333-4333-8333-333333333333"


def forms(secret: str) -> set[bytes]:
    """What must never be found: the secret, its base64 and its URL-encoded forms."""
    raw = secret.encode()
    padded = base64.b64encode(raw)
    found = {raw, padded, padded.rstrip(b"="), base64.urlsafe_b64encode(raw).rstrip(b"=")}
    found |= {quote(secret, safe="").encode(), quote(secret).encode(), quote_plus(secret).encode()}
    return found


FORBIDDEN = {form: secret for secret in SECRETS for form in forms(secret)} | {
    base64.b64encode(f"{APP_KEY}:{APP_SECRET}".encode()): "basic app key:secret",
    base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()): "username:password",
}


def echo_parts(values: list[str]) -> list[str]:
    """Every value, as it is, base64, URL-encoded, and as Basic and Bearer credentials."""
    parts = []
    for value in values:
        encoded = base64.b64encode(value.encode()).decode()
        parts += [value, encoded, quote(value, safe=""), quote_plus(value)]
        parts += [f"Basic {encoded}", f"Bearer {value}"]
    return parts


def echo_of(values: list[str]) -> str:
    return " | ".join(echo_parts(values))


class EchoServer:
    """A ThingSpace that echoes, into every field it answers with, whatever it was sent."""

    def __init__(self) -> None:
        self.token_mode = "ok"
        self.login_mode = "ok"
        self.access_token = BEARER
        self.session_token = SESSION
        self.seen: list[str] = []
        self.status: str | None = None  # the 200 body's status, when not the echo
        self.quiet = False  # answer plainly, echoing nothing (a token too large to echo)
        self.inventory_mode = "ok"  # the device list: a page of echoes, or a 400 of them

    async def received(self, request: web.Request) -> list[str]:
        if self.quiet:
            await request.read()
            return []
        values = [request.headers.get("Authorization", ""), request.headers.get("VZ-M2M-Token", "")]
        auth = values[0]
        if auth.startswith("Basic "):
            values += base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
        elif auth.startswith("Bearer "):
            values.append(auth.removeprefix("Bearer "))
        body = await request.text()
        values.append(body)
        if body.startswith("{"):
            values += [str(value) for value in json.loads(body).values()]
        values = [value for value in values if value]
        self.seen += values
        return values

    async def token(self, request: web.Request) -> web.Response:
        echo = echo_of(await self.received(request))
        if self.token_mode == "reject":
            basic = request.headers.get("Authorization", "")
            body = {"error": f"invalid_client: {basic} {echo}", "error_description": echo}
            return web.json_response(body, status=401)
        return web.json_response({"access_token": self.access_token, "expires_in": 3600})

    async def login(self, request: web.Request) -> web.Response:
        echo = echo_of(await self.received(request))
        if self.login_mode == "reject":
            return web.json_response({"errorCode": echo, "errorMessage": echo}, status=400)
        return web.json_response({"sessionToken": self.session_token})

    async def logout(self, request: web.Request) -> web.Response:
        echo = echo_of(await self.received(request))
        if self.quiet:
            return web.json_response({})
        return web.json_response({"errorCode": echo, "errorMessage": echo}, status=400)

    async def report(self, request: web.Request) -> web.Response:
        echo = echo_of(await self.received(request))
        return web.json_response({"errorCode": echo, "errorMessage": echo}, status=400)

    async def inventory(self, request: web.Request) -> web.Response:
        parts = echo_parts(await self.received(request))
        echo = " | ".join(parts)
        if self.inventory_mode == "reject":
            return web.json_response({"errorCode": echo, "errorMessage": echo}, status=400)
        # The upgrade's device "plain" (its echoed ids are redacted, so found in no list)
        # and every echo as a device id, their model, make, firmware and MDN echoes.
        devices = [
            {"deviceId": part, "mdn": echo, "model": echo, "make": echo, "firmware": echo,
             "fotaEligible": True, "upgradeTime": echo}
            for part in ["plain", *parts]
        ]  # fmt: skip
        body = {
            "accountName": request.match_info["account"],
            "hasMoreData": False,
            "lastSeenDeviceId": 0,
            "deviceList": devices,
        }
        return web.json_response(body)

    async def upgrade(self, request: web.Request) -> web.Response:
        parts = echo_parts(await self.received(request))
        echo = " | ".join(parts)
        answer = "ok_echo" if self.quiet else ANSWERS.get(request.match_info["upgrade_id"])
        if answer == "fault_404":
            body = {"fault": {"code": echo, "message": echo, "description": echo}}
            return web.json_response(body, status=404)
        if answer == "redirect":
            raise web.HTTPFound(f"http://elsewhere.invalid/?{quote_plus(echo)}")
        if answer == "text_418":
            return web.Response(status=418, text=f"<html>{echo}</html>")
        if answer == "ok_echo":
            # A device id echoes one value whole; the statuses and reasons echo them all.
            devices = [
                {"deviceId": part, "status": echo, "resultReason": echo} for part in parts
            ] + [{"deviceId": "plain", "status": "UpgradeSuccess"}]
            return web.json_response(
                {
                    "id": request.match_info["upgrade_id"],
                    "accountName": ACCOUNT,
                    "firmwareName": echo,
                    "firmwareTo": echo,
                    "startDate": "2026-11-01",
                    "endDate": "2026-12-31",
                    "status": self.status or echo,
                    "deviceList": devices,
                }
            )
        return web.json_response({"errorCode": echo, "errorMessage": echo}, status=400)


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[EchoServer, str]]:
    server = EchoServer()
    app = web.Application()
    app.router.add_post("/ts/v1/oauth2/token", server.token)
    app.router.add_post("/m2m/v1/session/login", server.login)
    app.router.add_post("/m2m/v1/session/logout", server.logout)
    app.router.add_get("/fota/v1/upgrades/{account}/upgrade/{upgrade_id}", server.upgrade)
    app.router.add_get("/fota/v1/reports/{tail:.*}", server.report)
    app.router.add_get("/fota/v1/devices/{account}/index/{start}", server.inventory)
    # An 8 MB token comes back in a header: let the server read it.
    async with serve_app(app, max_field_size=32 * 1024 * 1024) as base_url:
        yield server, base_url


def environment() -> dict[str, str]:
    return clean_environ() | {
        "THINGSPACE_APP_KEY": APP_KEY,
        "THINGSPACE_APP_SECRET": APP_SECRET,
        "THINGSPACE_USERNAME": USERNAME,
        "THINGSPACE_PASSWORD": PASSWORD,
    }


async def cli(*args: str) -> tuple[int, bytes]:
    """`fota-poller ARGS` as a process: its exit code, and its stdout and stderr together."""
    result = await anyio.run_process(
        [sys.executable, "-m", "fota_poller", *args], env=environment(), check=False
    )
    return result.returncode, result.stdout + b"\n" + result.stderr


def leaks(written: bytes) -> list[str]:
    return sorted({name for form, name in FORBIDDEN.items() if form in written})


def every_file(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


async def test_no_secret_leaves_a_poll_whatever_the_server_echoes(tmp_path, echo_server):
    server, base_url = echo_server
    run = tmp_path / "run"
    run.mkdir()
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{ACCOUNT},{upgrade_id}\n" for upgrade_id in ANSWERS))
    output, state, metrics = run / "out.jsonl", run / "state.db", run / "metrics.prom"

    code, shown = await cli(
        "poll", "--base-url", base_url, "--ids", str(ids), "--account", ACCOUNT,
        "--status", "Queued", "--output", str(output), "--state", str(state),
        "--metrics-file", str(metrics), "--max-attempts", "1", "--rate", "0",
        "--log-level", "debug", "--log-format", "json",
    )  # fmt: skip

    written = shown + every_file(run)
    assert leaks(written) == []
    # The server did echo them all, and the run did write what it echoed, redacted.
    assert set(SECRETS) <= set(server.seen)
    assert code == 1, shown.decode()
    assert_calm(shown)
    records = parse_output(output.read_bytes())
    assert {record.upgrade_id for record in records.campaigns} == set(ANSWERS)
    failed = [record for record in records.campaigns if record.outcome == "failed"]
    assert len(failed) == 4
    for record in failed:
        assert len(record.error_message or "") <= 240
        # A refused redirect names only the host of its Location.
        assert "<redacted>" in (record.error_message or "") or record.http_status == 302
    # The echoes are long: each error text says it was cut, after it was redacted.
    api = [record for record in failed if record.error_kind == "api"]
    assert len(api) == 2
    assert all("…[cut, " in (record.error_code or "") for record in api)
    [ok] = [record for record in records.campaigns if record.outcome == "ok"]
    assert "<redacted>" in (ok.campaign_status or "")
    # Every echoed device came through: a value echoed twice (a token in two headers) is
    # one device id listed twice, kept once and counted as a duplicate.
    assert len(records.devices) + (ok.devices_duplicate or 0) > 10
    assert state.stat().st_size > 0
    assert b"last_run_devices" in metrics.read_bytes()


@pytest.mark.parametrize("mode", ["ok", "reject"])
async def test_no_secret_leaves_a_poll_whose_device_list_echoes_them(tmp_path, echo_server, mode):
    server, base_url = echo_server
    server.inventory_mode = mode
    run = tmp_path / "run"
    run.mkdir()
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ACCOUNT},{OK_ID}\n")
    output, metrics = run / "out.jsonl", run / "metrics.prom"

    code, shown = await cli(
        "poll", "--base-url", base_url, "--ids", str(ids), "--inventory",
        "--output", str(output), "--metrics-file", str(metrics), "--max-attempts", "1",
        "--rate", "0", "--log-level", "debug", "--log-format", "json",
    )  # fmt: skip

    assert leaks(shown + every_file(run)) == []
    assert set(SECRETS) <= set(server.seen)
    assert_calm(shown)
    [campaign] = [json.loads(line) for line in output.read_bytes().splitlines()
                  if b'"record":"campaign"' in line]  # fmt: skip
    if mode == "reject":
        # The list's refusal, echoing every secret, is one redacted line and exit 1.
        assert code == 1, shown.decode()
        assert campaign["inventory"] == "failed"
        assert b"inventory.failed" in shown
    else:
        assert code == 0, shown.decode()
        assert campaign["inventory"] == "ok"
        # The echoes were joined, redacted: the models are what the list said, less the secrets.
        models = campaign["device_models"] or {}
        assert models, campaign
        assert all("<redacted>" in model for model in models), campaign


@pytest.mark.parametrize("route", ["token", "login"])
async def test_no_secret_leaves_a_refused_poll_or_check(tmp_path, echo_server, route):
    server, base_url = echo_server
    setattr(server, f"{route}_mode", "reject")
    run = tmp_path / "run"
    run.mkdir()
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{ACCOUNT},{upgrade_id}\n" for upgrade_id in ANSWERS))

    poll_code, poll_shown = await cli(
        "poll", "--base-url", base_url, "--ids", str(ids), "--output", str(run / "out.jsonl"),
        "--state", str(run / "state.db"), "--metrics-file", str(run / "metrics.prom"),
        "--log-level", "debug", "--log-format", "json",
    )  # fmt: skip
    # The poll's rejected login is remembered: check tries it again only with --login.
    retry = ["--login"] if route == "login" else []
    check_code, check_shown = await cli("check", "--base-url", base_url, *retry)

    written = poll_shown + check_shown + every_file(run)
    assert leaks(written) == []
    assert (poll_code, check_code) == (3, 3), (poll_shown + check_shown).decode()
    assert b"Traceback" not in written
    step = {"token": "token", "login": "session"}[route]
    assert f"FAIL {step:<11}".encode() in check_shown
    assert b"<redacted>" in check_shown
    records = parse_output((run / "out.jsonl").read_bytes())
    assert {record.error_kind for record in records.campaigns} == {"auth"}


async def test_no_secret_leaves_check_upgrade(tmp_path, echo_server):
    _, base_url = echo_server

    outcomes = [
        await cli("check", "--base-url", base_url, "--upgrade", f"{ACCOUNT},{upgrade_id}")
        for upgrade_id in ANSWERS
    ]

    written = b"".join(shown for _, shown in outcomes)
    assert leaks(written) == []
    assert b"Traceback" not in written
    assert [code for code, _ in outcomes] == [1, 1, 0, 1, 1], written.decode()
    assert b"ok   upgrade     0000123456-00001,33333333" in written


async def test_a_server_status_with_controls_cannot_forge_a_check_line(echo_server):
    server, base_url = echo_server
    server.status = "x\r\x1b[2Kok   upgrade     all good\nFAIL"

    code, shown = await cli("check", "--base-url", base_url, "--upgrade", f"{ACCOUNT},{OK_ID}")

    upgrade_lines = [line for line in shown.split(b"\n") if b"upgrade" in line]
    assert code == 0, shown.decode()
    shown_status = b"x\\x0d\\x1b[2Kok   upgrade     all good\\x0aFAIL"
    [line] = upgrade_lines
    assert line.startswith(
        b"ok   upgrade     0000123456-00001,33333333-3333-4333-8333-333333333333: status "
        + shown_status
        + b", "
    )


@pytest.mark.parametrize("size", [1, 8 * 1024 * 1024], ids=["one-char", "8MB"])
async def test_a_token_of_any_size_mangles_no_log_line(tmp_path, echo_server, size):
    server, base_url = echo_server
    server.access_token = "e" if size == 1 else "T0k" * (size // 3)
    server.quiet = True
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ACCOUNT},{next(iter(ANSWERS))}\n")

    code, shown = await cli(
        "poll", "--base-url", base_url, "--ids", str(ids), "--output", str(tmp_path / "o.jsonl"),
        "--max-attempts", "1", "--rate", "0", "--log-format", "json",
    )  # fmt: skip

    lines = [json.loads(line) for line in shown.splitlines() if line.startswith(b"{")]
    assert "run.finished" in {line["event"] for line in lines}, shown[-2000:].decode()
    assert code == 0, shown[-2000:].decode()
    records = parse_output((tmp_path / "o.jsonl").read_bytes())
    assert records.run.complete
    assert len(records.devices) == 1
    if size == 1:
        # Every field of every line as it was written: no "e" replaced anywhere.
        assert all("<redacted>" not in line for line in map(json.dumps, lines))


@pytest.mark.parametrize("command", ["poll", "check"])
@pytest.mark.parametrize("where", ["flag", "config"])
async def test_a_base_url_with_credentials_is_refused_at_start(tmp_path, command, where):
    url = "http://operator:PASSWORD-in-url-123@127.0.0.1:9/api"
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nbase_url = "{url}"\n')
    chosen = ["--base-url", url] if where == "flag" else ["--config", str(config)]
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ACCOUNT},{OK_ID}\n")
    sources = ["--ids", str(ids)] if command == "poll" else []

    code, shown = await cli(command, *chosen, *sources)

    assert code == 2
    assert b"PASSWORD-in-url-123" not in shown
    assert b"http://operator:***@127.0.0.1:9/api" in shown
    assert b"run.started" not in shown
    assert_calm(shown)
    assert len(shown.strip().splitlines()) == 1
