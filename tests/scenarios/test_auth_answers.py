"""Auth answers no client should act on: a 404 (a wrong base URL), a token with a control
character, a token that expires within a round trip. Through the CLI, against the simulator
or a small token server on loopback."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import msgspec
import pytest
from aiohttp import web
from helpers import credentials_environ, serve_app

from fota_poller.simulator import SimulatorAuthOptions

AUTH = SimulatorAuthOptions()
TOKEN_ROUTE = "/ts/v1/oauth2/token"
LOGIN_ROUTE = "/m2m/v1/session/login"
ACCOUNT, UPGRADE = "0000123456-00001", "44e1a7c6-6d5f-4c43-9a49-0c5e7b9a1f3e"


async def cli(tmp_path: Path, command: str, base_url: str, *flags: str) -> tuple[int, str, str]:
    """`poll` over two campaigns, or `check`, as a process: (exit code, stdout, stderr)."""
    args = [sys.executable, "-m", "fota_poller", command, "--base-url", base_url, *flags]
    if command == "poll":
        ids = tmp_path / "ids.txt"
        ids.write_text(f"{ACCOUNT},{UPGRADE}\n{ACCOUNT},{UPGRADE.replace('4', '5')}\n")
        args += ["--ids", str(ids), "--output", str(tmp_path / "out.jsonl"), "--rate", "0"]
        args += ["--log-format", "json"]
    result = await anyio.run_process(args, env=credentials_environ(AUTH), check=False)
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert "Traceback" not in stderr
    assert len(stderr) < 20_000
    return result.returncode, stdout, stderr


def campaign_records(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["record"] == "campaign"]


@contextlib.asynccontextmanager
async def auth_server(
    token: tuple[int, bytes], login: tuple[int, bytes] = (404, b"")
) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A gateway on loopback answering the token and login routes as told: its URL, its counts."""
    seen: Counter[str] = Counter()

    def answer(status: int, body: bytes, route: str):
        async def handle(request: web.Request) -> web.Response:
            seen[route] += 1
            await request.read()
            return web.Response(status=status, body=body, content_type="application/json")

        return handle

    app = web.Application()
    app.router.add_post(TOKEN_ROUTE, answer(*token, "token"))
    app.router.add_post(LOGIN_ROUTE, answer(*login, "login"))
    async with serve_app(app) as base_url:
        yield base_url, seen


# A wrong base URL ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["poll", "check"])
async def test_a_base_url_with_a_segment_too_many_is_exit_2_naming_the_url(
    tmp_path, simulator, command
):
    async with simulator(auth=AUTH) as sim:
        wrong = f"{sim.base_url}/api"
        code, stdout, stderr = await cli(tmp_path, command, wrong)
        stats = sim.auth.stats

    assert code == 2
    said = stdout + stderr
    assert f"api.base_url {wrong} looks wrong" in said
    assert f"from {wrong}/ts/v1/oauth2/token" in said
    assert "rejected" not in said
    assert (stats.token_requests, stats.login_requests) == (0, 0)
    if command == "poll":
        records = campaign_records(tmp_path)
        assert len(records) == 2
        assert {r["outcome"] for r in records} == {"failed"}


async def test_a_login_route_answering_404_is_exit_2_and_no_failed_login(tmp_path):
    token = json.dumps({"access_token": "good-token-value", "expires_in": 3600}).encode()
    async with auth_server((200, token), (404, b"Not Found")) as (url, seen):
        for _ in range(2):
            code, stdout, _ = await cli(tmp_path, "check", url)
            assert code == 2
            assert "looks wrong" in stdout
    # Not remembered as a failed login: the second run tried again.
    assert seen["login"] == 2


# A token with a control character ----------------------------------------------------------

HOSTILE = ["\r\nX-Injected: 1", "\n", "\x00", "\x1b[31m", "\x7f", "\u0085"]


@pytest.mark.parametrize(
    ("command", "bad"),
    [("check", bad) for bad in HOSTILE] + [("poll", bad) for bad in HOSTILE[::2]],
    ids=repr,
)
async def test_a_token_with_a_control_character_is_refused_never_sent(tmp_path, command, bad):
    token = "tok-" + bad + "-SECRETPART"
    body = json.dumps({"access_token": token, "expires_in": 3600}).encode()
    async with auth_server((200, body)) as (url, seen):
        code, stdout, stderr = await cli(tmp_path, command, url)

    assert code == 3
    assert "holds a control or non-ASCII character; refused, never sent" in stdout + stderr
    assert "SECRETPART" not in stdout + stderr
    assert seen == {"token": 1}  # nothing was sent with it: no login, no API request
    if command == "poll":
        records = campaign_records(tmp_path)
        assert {(r["outcome"], r["error_kind"]) for r in records} == {("failed", "auth")}
        assert "SECRETPART" not in (tmp_path / "out.jsonl").read_text()


@pytest.mark.parametrize("bad", ["\r\n", "\x00"], ids=repr)
async def test_a_session_token_with_a_control_character_is_refused_too(tmp_path, bad):
    token = json.dumps({"access_token": "good-token-value", "expires_in": 3600}).encode()
    session = json.dumps({"sessionToken": f"s{bad}SECRETPART"}).encode()
    async with auth_server((200, token), (200, session)) as (url, seen):
        code, stdout, stderr = await cli(tmp_path, "check", url)

    assert code == 3
    assert "FAIL session" in stdout
    assert "refused, never sent" in stdout
    assert "SECRETPART" not in stdout + stderr
    assert seen == {"token": 1, "login": 1}


# A token that expires within a round trip --------------------------------------------------


@pytest.mark.parametrize("command", ["poll", "check"])
async def test_a_token_living_a_millisecond_ends_the_run_after_three_token_requests(
    tmp_path, simulator, command
):
    auth = msgspec.structs.replace(AUTH, bearer_ttl_s=0.001)
    async with simulator(auth=auth) as sim:
        code, stdout, stderr = await cli(tmp_path, command, sim.base_url)
        stats = sim.auth.stats
        requests = sim.stats.requests_total

    assert code == 3
    assert "3 token answers in a row expire within a round trip" in stdout + stderr
    assert stats.token_requests == 3
    assert stats.login_requests == 0
    assert requests == 0  # no upgrade was asked for with a token that could not be sent


async def test_logins_answered_401_to_the_runs_last_try_are_remembered_as_refused(tmp_path):
    # How ThingSpace answers a wrong password is not documented: a 401 whose body does not
    # name the session reads as a refused Bearer token. Three in a run are remembered too.
    token = json.dumps({"access_token": "good-token-value", "expires_in": 3600}).encode()
    refused = json.dumps(
        {"errorCode": "REQUEST_FAILED.InvalidCredentials", "errorMessage": "Invalid login."}
    ).encode()
    async with auth_server((200, token), (401, refused)) as (url, seen):
        code, _, _ = await cli(tmp_path, "check", url)
        assert (code, seen["login"]) == (3, 3)
        code, stdout, _ = await cli(tmp_path, "check", url)
        assert code == 3
        assert "rejected (HTTP 401)" in stdout
        assert "not tried again" in stdout
    assert seen["login"] == 3
