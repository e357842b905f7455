"""Issue 3's acceptance points, end to end against the simulator over loopback."""

import math
import time

import msgspec
import pytest
from helpers import credentials_environ, parse_output, poll_cli, simulator_credentials

from fota_poller.api.redact import Redactor
from fota_poller.commands.poll.core import authenticated_poll
from fota_poller.config import ApiConfig, Config, OutputConfig, PollConfig
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator

# Known values, so the test can look for them in everything the poller prints.
SECRETS = SimulatorAuthOptions(
    app_key="app-key-7c1e94",
    app_secret="app-secret-4fd2a8",
    username="user-93b7e1",
    password="password-2e6c05",
)


FLAGS = ("--concurrency", "8", "--rate", "0")


async def test_short_lived_tokens_are_renewed_once_per_expiry_not_once_per_worker(tmp_path):
    # Acceptance 1, scaled down (bench/auth_expiry.py runs 500 campaigns at rate 50).
    auth = msgspec.structs.replace(SECRETS, bearer_ttl_s=1.0, session_idle_ttl_s=1.5)
    options = SimulatorOptions(campaigns=100, devices_min=1, devices_max=5, auth=auth)
    credentials = simulator_credentials(auth)
    output = tmp_path / "out.jsonl"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        config = Config(
            api=ApiConfig(base_url=simulator.base_url),
            poll=PollConfig(concurrency=50, rate=50),
            output=OutputConfig(path=str(output)),
        )
        started = time.monotonic()
        exit_code = await authenticated_poll(
            config, [str(tmp_path / "ids.txt")], credentials, Redactor()
        )
        elapsed = time.monotonic() - started

    stats = simulator.auth.stats
    campaigns = parse_output(output.read_bytes()).campaigns
    assert exit_code == 0
    assert len(campaigns) == 100
    assert {(r.outcome, r.attempts) for r in campaigns} == {("ok", 1)}
    # Every token request brought a new token: none was asked for twice.
    assert stats.token_requests == stats.tokens_issued
    # At least one renewal happened; no more than one per (90%-of-)lifetime the run spanned.
    assert 2 <= stats.token_requests <= math.ceil(elapsed / (auth.bearer_ttl_s * 0.9)) + 1
    # The session was in use all along, so it never idled out: one login, closed at the end.
    assert stats.login_requests == stats.sessions_issued == 1
    assert stats.logout_requests == 1


async def test_wrong_password_exits_3_after_one_login_and_two_runs_cannot_lock_the_account(
    tmp_path,
):
    # Acceptance 2.
    options = SimulatorOptions(campaigns=30, devices_min=1, devices_max=5, auth=SECRETS)
    environ = credentials_environ(SECRETS) | {"THINGSPACE_PASSWORD": "not-the-password"}
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        first = await poll_cli(simulator, tmp_path / "ids.txt", *FLAGS, env=environ)
        assert simulator.auth.stats.login_requests == 1
        second = await poll_cli(simulator, tmp_path / "ids.txt", *FLAGS, env=environ)

    stats = simulator.auth.stats
    for result in (first, second):
        assert result.returncode == 3
        found = parse_output(result.stdout)
        campaigns = found.campaigns
        assert len(campaigns) == 30
        assert {(r.outcome, r.error_kind) for r in campaigns} == {("failed", "auth")}
        assert found.run.complete is False
    # The second run remembers the first one's rejection and does not log in at all
    # (tests/scenarios/test_lockout.py: ten runs, one login).
    assert stats.login_requests == 1
    assert stats.login_failures == 1
    assert not stats.locked
    assert simulator.stats.requests_total == 0


@pytest.mark.parametrize("password", [SECRETS.password, "not-the-password"])
async def test_debug_poll_prints_no_secret_anywhere(tmp_path, password):
    # Acceptance 3: a whole poll at debug level, successful or refused.
    options = SimulatorOptions(campaigns=20, devices_min=1, devices_max=5, auth=SECRETS)
    environ = credentials_environ(SECRETS) | {"THINGSPACE_PASSWORD": password}
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        result = await poll_cli(
            simulator, tmp_path / "ids.txt", *FLAGS, "--log-level", "debug", env=environ
        )

    printed = result.stdout + result.stderr
    secrets = [
        SECRETS.app_key,
        SECRETS.app_secret,
        SECRETS.username,
        password,
        *simulator.auth.issued,
    ]
    assert result.returncode == (0 if password == SECRETS.password else 3)
    assert b'"level":"debug"' in result.stderr
    assert [secret for secret in secrets if secret.encode() in printed] == []
