"""An auth endpoint that does not answer is an outage (exit 4), never a refusal (exit 3)."""

import errno
import json
import socket
import sys

import aiohttp
import anyio
import pytest
from helpers import credentials_environ, simulator_credentials

from fota_poller.api.token_provider import TokenProvider
from fota_poller.api.unreachable import reason_of
from fota_poller.config import ApiConfig, Config
from fota_poller.errors import AuthenticationError, NoAuthAnswerError
from fota_poller.simulator import SimulatorAuthOptions
from fota_poller.simulator.faults import FaultOptions

AUTH = SimulatorAuthOptions()
# A short outage budget: the run that cannot reach the auth endpoint ends in about a second.
SHORT_OUTAGE = "[poll]\nmax_outage_s = 1\ncircuit_probe_s = 0.1\ncircuit_probe_max_s = 0.2\n"
# Probes often enough to see the auth endpoint come back, and an outage budget it never meets.
QUICK_PROBES = "[poll]\nmax_outage_s = 120\ncircuit_probe_s = 0.1\ncircuit_probe_max_s = 0.3\n"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def poll(tmp_path, base_url: str, config: str) -> tuple[int, list[dict], list[dict]]:
    """`poll` as a process with app credentials: exit code, records, JSON log lines."""
    (tmp_path / "config.toml").write_text(config)
    output = tmp_path / "out.jsonl"
    command = [
        sys.executable, "-m", "fota_poller", "poll", "--config", str(tmp_path / "config.toml"),
        "--base-url", base_url, "--ids", str(tmp_path / "ids.txt"), "--output", str(output),
        "--rate", "0",
    ]  # fmt: skip
    result = await anyio.run_process(command, env=credentials_environ(AUTH), check=False)
    records = [json.loads(line) for line in output.read_text().splitlines()]
    logs = [json.loads(line) for line in result.stderr.decode().splitlines()]
    return result.returncode, records, logs


async def test_poll_with_the_base_url_on_a_closed_port_ends_as_an_outage_not_exit_3(
    tmp_path, simulator
):
    async with simulator(campaigns=6) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
    port = closed_port()

    code, records, logs = await poll(tmp_path, f"http://127.0.0.1:{port}", SHORT_OUTAGE)

    assert code == 4
    campaigns = [r for r in records if r["record"] == "campaign"]
    assert len(campaigns) == 6
    assert {(r["outcome"], r["error_kind"]) for r in campaigns} == {("failed", "not_polled")}
    assert records[-1]["complete"] is False
    unreachable = [line for line in logs if line["event"] == "auth.unreachable"]
    assert unreachable
    assert {(line["host"], line["reason"]) for line in unreachable} == {
        (f"127.0.0.1:{port}", "connection refused")
    }
    events = {line["event"] for line in logs}
    assert {"backoff.circuit_opened", "backoff.outage_too_long"} <= events
    assert "auth.failed" not in events


# Patient once the API has answered (max_outage_s), quick while it never has.
STARTUP_LIMIT = (
    "[poll]\nmax_startup_outage_s = 1\ncircuit_probe_s = 0.1\ncircuit_probe_max_s = 0.2\n"
)


async def test_a_closed_port_from_the_start_ends_the_run_at_max_startup_outage(tmp_path):
    (tmp_path / "ids.txt").write_text(
        "0000123456-00001,44e1a7c6-6d5f-4c43-9a49-0c5e7b9a1f3e\n"
        "0000123456-00001,55e1a7c6-6d5f-4c43-9a49-0c5e7b9a1f3e\n"
    )
    port = closed_port()

    code, records, logs = await poll(tmp_path, f"http://127.0.0.1:{port}", STARTUP_LIMIT)

    assert code == 4
    campaigns = [r for r in records if r["record"] == "campaign"]
    assert len(campaigns) == 2
    assert {(r["outcome"], r["error_kind"]) for r in campaigns} == {("failed", "not_polled")}
    for record in campaigns:
        message = record["error_message"]
        assert f"127.0.0.1:{port} unreachable for 1 s (connection refused)" in message
        assert "poll.max_startup_outage_s" in message
    [ended] = [line for line in logs if line["event"] == "backoff.outage_too_long"]
    assert ended["setting"] == "poll.max_startup_outage_s"
    assert "auth.failed" not in {line["event"] for line in logs}


async def test_the_startup_limit_leaves_a_run_that_gets_answers_alone(tmp_path, simulator):
    async with simulator(campaigns=4, auth=AUTH) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        code, records, _ = await poll(tmp_path, sim.base_url, STARTUP_LIMIT)

    assert code == 0
    assert {r["outcome"] for r in records if r["record"] == "campaign"} == {"ok"}


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(FaultOptions(outage=(0.0, 2.5), routes=("token",)), id="token-outage"),
        pytest.param(FaultOptions(mix=(("reset", 0.7),), routes=("token",)), id="token-resets"),
    ],
)
async def test_poll_recovers_when_the_token_route_comes_back(tmp_path, simulator, faults):
    async with simulator(campaigns=10, seed=3, auth=AUTH, faults=faults) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        code, records, logs = await poll(tmp_path, sim.base_url, QUICK_PROBES)
        faulted = sum(sim.stats.faults_by_kind.values())
        stats = sim.auth.stats

    assert code == 0, [line for line in logs if line["level"] != "info"]
    campaigns = [r for r in records if r["record"] == "campaign"]
    assert {r["outcome"] for r in campaigns} == {"ok"}
    assert len(campaigns) == 10
    assert faulted >= 1
    assert any(line["event"] in {"auth.unavailable", "auth.unreachable"} for line in logs)
    # One session, whatever the token route did meanwhile.
    assert (stats.login_requests, stats.logout_requests) == (1, 1)


async def test_token_route_answering_503_is_a_network_failure_that_fails_nothing_for_good(
    simulator,
):
    faults = FaultOptions(mix=(("503", 1.0),), routes=("token",))
    async with simulator(auth=AUTH, faults=faults) as sim:
        config = Config(api=ApiConfig(base_url=sim.base_url))
        async with TokenProvider(config, simulator_credentials(AUTH)) as tokens:
            for _ in range(4):
                with pytest.raises(NoAuthAnswerError) as caught:
                    await tokens.headers()
                assert not isinstance(caught.value, AuthenticationError)
        host = sim.base_url.removeprefix("http://")

    assert str(caught.value) == f"auth endpoint unavailable (token request): {host}: HTTP 503"
    assert sim.stats.faults_by_kind == {"503": 4}


async def test_logins_that_may_have_reached_the_server_still_count_towards_the_three(simulator):
    # A login answered 503 may have been seen by the session service: it is spent, so a run
    # whose logins all get 503 stops logging in after three (five lock the account).
    faults = FaultOptions(mix=(("503", 1.0),), routes=("login",))
    async with simulator(auth=AUTH, faults=faults) as sim:
        config = Config(api=ApiConfig(base_url=sim.base_url))
        async with TokenProvider(config, simulator_credentials(AUTH)) as tokens:
            for _ in range(3):
                with pytest.raises(NoAuthAnswerError, match=r"\(login\): .*: HTTP 503"):
                    await tokens.headers()
            with pytest.raises(AuthenticationError, match="3 login attempts"):
                await tokens.headers()

    assert sim.stats.faults_by_kind == {"503": 3}


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"), "connection refused"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "name not resolved"),
        (aiohttp.ServerDisconnectedError(), "server disconnected without an answer"),
        (aiohttp.ClientOSError(errno.ECONNRESET, "reset by peer"), "connection reset"),
        (TimeoutError(), "no answer within 120 s"),
        (aiohttp.SocketTimeoutError("Timeout on reading data"), "no answer within 30 s"),
    ],
)
def test_network_failures_are_named_in_words_an_operator_can_act_on(exc, reason):
    assert reason_of(exc, connect_limit_s=10, answer_limit_s=120, read_limit_s=30) == reason
