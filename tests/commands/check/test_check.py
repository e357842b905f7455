"""`fota-poller check` against the simulator, and the base URL's scheme refused at start."""

import contextlib
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
import pytest
from helpers import credentials_environ, refusal, simulator_credentials, token_environ

from fota_poller.api import token_provider
from fota_poller.api.token_provider import TokenProvider
from fota_poller.cli import main
from fota_poller.config import ApiConfig, Config
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions
from fota_poller.simulator.faults import FaultOptions

AUTH = SimulatorAuthOptions()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def check(*flags: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    """`fota-poller check FLAGS` as a process: the exit code, its step lines, stderr.

    The config's lines under the `config` step (indented: commands/check/sources.py) are
    left out; tests/commands/check/test_check_sources.py reads them.
    """
    command = [sys.executable, "-m", "fota_poller", "check", *flags]
    result = await anyio.run_process(
        command, env=env if env is not None else credentials_environ(AUTH), check=False
    )
    lines = [line for line in result.stdout.decode().splitlines() if not line.startswith(" ")]
    return result.returncode, lines, result.stderr.decode()


def steps(lines: list[str]) -> list[tuple[str, str]]:
    return [(line.split()[0], line.split()[1]) for line in lines]


async def test_check_opens_and_closes_one_session_with_one_token_request(simulator):
    async with simulator(auth=AUTH, campaigns=3) as sim:
        code, lines, stderr = await check("--base-url", sim.base_url)
        stats = sim.auth.stats

    assert code == 0, stderr
    assert steps(lines) == [
        ("ok", "config"),
        ("ok", "credentials"),
        ("ok", "connect"),
        ("ok", "token"),
        ("ok", "session"),
        ("ok", "logout"),
    ]
    assert lines[0].split()[-1] == "defaults"
    assert lines[2].endswith(sim.base_url.removeprefix("http://"))
    assert (stats.token_requests, stats.login_requests, stats.logout_requests) == (1, 1, 1)
    # The credentials are named, never shown.
    output = "\n".join(lines) + stderr
    assert AUTH.password not in output
    assert AUTH.app_secret not in output


async def test_check_with_pre_issued_tokens_names_them_and_makes_no_auth_request(simulator):
    async with simulator(campaigns=1) as sim:
        code, lines, stderr = await check(
            "--base-url", sim.base_url, env=token_environ(sim.options)
        )
        stats = sim.auth.stats

    assert code == 0, stderr
    # Named in words the redactor leaves alone (it once ate "token" after "Bearer").
    assert lines[1] == "ok   credentials pre-issued OAuth token, pre-issued session token", lines
    # No logout step with a pre-issued session.
    assert steps(lines)[-2:] == [("ok", "token"), ("ok", "session")]
    assert lines[-2].endswith("pre-issued"), lines
    assert lines[-1].endswith("pre-issued"), lines
    assert (stats.token_requests, stats.login_requests) == (0, 0)


async def test_check_with_a_wrong_password_makes_exactly_one_login_and_exits_3(simulator):
    env = credentials_environ(AUTH) | {"THINGSPACE_PASSWORD": "wrong"}
    async with simulator(auth=AUTH) as sim:
        code, lines, stderr = await check("--base-url", sim.base_url, env=env)
        stats = sim.auth.stats

    assert code == 3, stderr
    assert steps(lines)[-1] == ("FAIL", "session")
    assert "the session login was rejected" in lines[-1]
    assert stats.login_requests == 1
    assert stats.login_failures == 1
    assert stats.logout_requests == 0
    assert "wrong" not in "\n".join(lines) + stderr


async def test_check_of_a_closed_port_exits_4_at_once_naming_host_and_reason():
    port = closed_port()
    code, lines, stderr = await check("--base-url", f"http://127.0.0.1:{port}")

    assert code == 4, stderr
    assert lines[-1] == f"FAIL connect     127.0.0.1:{port}: connection refused"
    # Nothing after the failed connect: no token request, no wait for an outage to end.
    assert steps(lines) == [("ok", "config"), ("ok", "credentials"), ("FAIL", "connect")]


async def test_check_of_an_auth_endpoint_that_drops_the_connection_exits_4_after_one_request(
    simulator,
):
    faults = FaultOptions(mix=(("reset", 1.0),), routes=("token",))
    async with simulator(auth=AUTH, faults=faults) as sim:
        code, lines, stderr = await check("--base-url", sim.base_url)
        reset = sim.stats.faults_by_kind

    host = sim.base_url.removeprefix("http://")
    assert code == 4, stderr
    assert steps(lines)[-1] == ("FAIL", "token")
    assert lines[-1].endswith(
        f"auth endpoint unreachable (token request): {host}: connection reset"
    )
    # A preflight does not wait out an outage: one token request, no retry.
    assert reset == {"reset": 1}


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A loopback server that takes every connection, reads what is sent, and never answers."""

    async def swallow(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                while True:
                    await stream.receive()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as serving:
        serving.start_soon(listener.serve, swallow)
        yield f"http://127.0.0.1:{port}"
        serving.cancel_scope.cancel()


def short_preflight(tmp_path: Path) -> Path:
    """A config whose connect timeout, the preflight's limit on any answer, is half a second."""
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nconnect_timeout_s = 0.5\n", encoding="utf-8")
    return config


# A check that waited the read timeout (30 s) would be stopped here and fail.
@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    ("secrets", "flags", "failed_step"),
    [
        ("credentials", (), "token"),
        ("tokens", ("--upgrade", f"0000123456-00001,{uuid.UUID(int=7)}"), "upgrade"),
    ],
    ids=["token-request", "upgrade-with-pre-issued-tokens"],
)
async def test_check_of_a_server_that_never_answers_exits_4_within_the_connect_timeout(
    tmp_path, secrets, flags, failed_step
):
    # Built here, not when the module is read: the environment then has this test's own
    # failed-login folder (conftest), not the user's ~/.local/state.
    env = (
        credentials_environ(AUTH) if secrets == "credentials" else token_environ(SimulatorOptions())
    )
    config = short_preflight(tmp_path)
    async with silent_server() as base_url:
        code, lines, stderr = await check(
            "--base-url", base_url, "--config", str(config), *flags, env=env
        )

    host = base_url.removeprefix("http://")
    assert code == 4, stderr
    assert steps(lines)[2] == ("ok", "connect")  # the connection was taken, then silence
    assert steps(lines)[-1] == ("FAIL", failed_step)
    assert host in lines[-1]
    if failed_step == "token":
        assert lines[-1].endswith(f"{host}: no answer within 0.5 s")
    else:
        assert f"{host} timed out" in lines[-1]


@pytest.mark.timeout(15)
async def test_check_of_a_logout_that_never_ends_exits_4_naming_host_and_reason(
    simulator, tmp_path
):
    # The logout's answer stalls after its headers, for a minute (the simulator's default).
    faults = FaultOptions(mix=(("stall", 1.0),), routes=("logout",))
    async with simulator(auth=AUTH, faults=faults) as sim:
        code, lines, stderr = await check(
            "--base-url", sim.base_url, "--config", str(short_preflight(tmp_path))
        )
        stats = sim.auth.stats

    host = sim.base_url.removeprefix("http://")
    assert code == 4, stderr
    assert steps(lines)[-2:] == [("ok", "session"), ("FAIL", "logout")]
    assert lines[-1].endswith(f"auth endpoint unreachable (logout): {host}: no answer within 0.5 s")
    assert stats.logout_requests == 1


@pytest.mark.timeout(15)
async def test_a_logout_cut_off_by_the_providers_own_limit_is_reported_as_unanswered(
    simulator, monkeypatch
):
    # With the default timeouts the provider's logout limit (10 s) runs out before the
    # socket read limit (10 s for check, 30 s for a run): check must still see no answer.
    monkeypatch.setattr(token_provider, "_LOGOUT_TIMEOUT_S", 0.3)
    faults = FaultOptions(mix=(("stall", 1.0),), routes=("logout",))
    async with simulator(auth=AUTH, faults=faults) as sim:
        config = Config(api=ApiConfig(base_url=sim.base_url))
        async with TokenProvider(config, simulator_credentials(AUTH)) as tokens:
            await tokens.headers()
        host = sim.base_url.removeprefix("http://")

    assert not tokens.session_closed
    assert str(tokens.logout_unanswered) == (
        f"auth endpoint unreachable (logout): {host}: no answer within 0.3 s"
    )


@pytest.mark.parametrize("url", ["127.0.0.1:18080", "ftp://127.0.0.1:18080", "http://"])
async def test_check_refuses_a_base_url_without_http_scheme_or_host(url):
    code, lines, stderr = await check("--base-url", url)

    assert code == 2, stderr
    assert len(lines) == 1
    assert lines[0].startswith(
        # Named by the flag that gave it, as argparse names a flag's bad value.
        f"FAIL config      --base-url {url!r} is not an http:// or https:// URL with a host"
    )


async def test_check_polls_a_known_upgrade_and_fails_an_unknown_one_with_exit_1(simulator):
    async with simulator(auth=AUTH, campaigns=2, devices_min=3, devices_max=3) as sim:
        account, upgrade_id = next(sim.catalog.ids())
        known = await check("--base-url", sim.base_url, "--upgrade", f"{account},{upgrade_id}")
        unknown_id = str(uuid.UUID(int=12))
        unknown = await check("--base-url", sim.base_url, "--upgrade", f"{account},{unknown_id}")
        stats = sim.auth.stats

    code, lines, stderr = known
    assert code == 0, stderr
    assert steps(lines)[-2:] == [("ok", "upgrade"), ("ok", "logout")]
    assert f"{account},{upgrade_id}: status " in lines[-2]
    assert lines[-2].endswith(", 3 devices")
    code, lines, stderr = unknown
    assert code == 1, stderr
    assert steps(lines)[-1] == ("FAIL", "upgrade")
    assert f"{account},{unknown_id}: HTTP 4" in lines[-1]
    # Each check logged out of the session it opened, the failed one too.
    assert (stats.login_requests, stats.logout_requests) == (2, 2)


async def test_check_upgrade_needs_account_and_id():
    code, _, stderr = await check("--base-url", "http://127.0.0.1:1", "--upgrade", "only-an-id")

    assert code == 2
    assert "expected ACCOUNT,ID" in stderr


def test_poll_refuses_a_base_url_without_scheme_at_start(tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("0000123456-00001,e3a8d88a-04c6-4ef3-b039-89b62f91e962\n")
    output = tmp_path / "out.jsonl"

    code = main(
        ["poll", "--base-url", "127.0.0.1:18080", "--ids", str(ids), "--output", str(output)]
    )

    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert refusal(err[0]).startswith(
        "fota-poller: --base-url '127.0.0.1:18080' is not an http:// or https:// URL with a host"
    )
    assert not output.exists()


def test_a_config_file_base_url_without_scheme_is_refused_too(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[api]\nbase_url = "thingspace.verizon.com/api"\n')
    ids = tmp_path / "ids.txt"
    ids.write_text("0000123456-00001,e3a8d88a-04c6-4ef3-b039-89b62f91e962\n")

    code = main(["poll", "--config", str(config), "--ids", str(ids)])

    assert code == 2
    assert "'thingspace.verizon.com/api' is not an http:// or https:// URL" in (
        capsys.readouterr().err
    )
