import socket

import anyio
import anyio.lowlevel
import msgspec
import pytest
from helpers import FakeClock, refs_of, simulator_credentials

from fota_poller.api.client import UpgradeClient, open_session, upgrade_url
from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.redact import Redactor
from fota_poller.api.token_provider import TokenProvider
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.errors import AuthenticationError, ExitCode, NoAuthAnswerError
from fota_poller.model.records import CampaignRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator
from fota_poller.testing import MemorySink

AUTH = SimulatorAuthOptions(bearer_ttl_s=100.0, session_idle_ttl_s=50.0)
OPTIONS = SimulatorOptions(campaigns=60, devices_min=1, devices_max=3, auth=AUTH)


def full_credentials(password=AUTH.password, **pre_issued):
    return simulator_credentials(AUTH, password=password, **pre_issued)


def config_for(base_url, concurrency=50, rate=0.0):
    return Config(
        api=ApiConfig(base_url=base_url), poll=PollConfig(concurrency=concurrency, rate=rate)
    )


@pytest.fixture
async def simulator(clock):
    async with run_simulator(OPTIONS, clock=clock) as running:
        yield running


async def fetch_concurrently(client, simulator, count):
    refs = [CampaignRef(*ids) for ids in list(simulator.catalog.ids())[:count]]
    statuses = []

    async def fetch(ref):
        statuses.append((await client.get(upgrade_url(simulator.base_url, ref))).status)

    async with anyio.create_task_group() as group:
        for ref in refs:
            group.start_soon(fetch, ref)
    return statuses


async def test_expired_session_is_renewed_once_for_fifty_waiting_workers(simulator, clock):
    config = config_for(simulator.base_url)
    async with TokenProvider(config, full_credentials()) as tokens, open_session(config) as http:
        client = UpgradeClient(http, simulator.base_url, tokens, RateLimiter(0))
        assert await fetch_concurrently(client, simulator, 50) == [200] * 50
        clock.now += AUTH.session_idle_ttl_s + 1

        statuses = await fetch_concurrently(client, simulator, 50)

    stats = simulator.auth.stats
    assert statuses == [200] * 50
    assert stats.expired_session_rejections == 50
    assert stats.login_requests == 2
    assert stats.token_requests == 1
    assert client.tally.requests_total == 150


async def test_expired_bearer_is_renewed_once_for_fifty_waiting_workers(clock):
    long_sessions = msgspec.structs.replace(AUTH, session_idle_ttl_s=AUTH.bearer_ttl_s * 10)
    options = msgspec.structs.replace(OPTIONS, auth=long_sessions)
    async with run_simulator(options, clock=clock) as simulator:
        config = config_for(simulator.base_url)
        tokens = TokenProvider(config, full_credentials())
        async with tokens, open_session(config) as http:
            client = UpgradeClient(http, simulator.base_url, tokens, RateLimiter(0))
            await fetch_concurrently(client, simulator, 50)
            # Only the simulator's clock moves: the provider still believes its token is good.
            clock.now += AUTH.bearer_ttl_s + 1

            statuses = await fetch_concurrently(client, simulator, 50)

    stats = simulator.auth.stats
    assert statuses == [200] * 50
    assert stats.expired_bearer_rejections == 50
    assert stats.token_requests == 2
    assert stats.login_requests == 1


class SleepingClock(FakeClock):
    """A fake clock whose sleep moves it on: a renewal's pause takes no real time."""

    async def sleep(self, seconds):
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def sleeping_clock():
    return SleepingClock()


@pytest.fixture
async def gateway(sleeping_clock):
    """The simulator answering token requests as ThingSpace's gateway: the same token until it
    has expired, `expires_in` the remaining whole seconds. Tokens live 100 s; sessions longer."""
    auth = msgspec.structs.replace(AUTH, session_idle_ttl_s=10_000.0, same_token=True)
    options = msgspec.structs.replace(OPTIONS, auth=auth)
    async with run_simulator(options, clock=sleeping_clock) as running:
        yield running


def gateway_provider(simulator, clock):
    config = config_for(simulator.base_url)
    return config, TokenProvider(config, full_credentials(), clock=clock, sleep=clock.sleep)


async def test_fifty_workers_at_one_expiry_make_one_token_request_and_meet_no_rejection(
    gateway, sleeping_clock
):
    config, tokens = gateway_provider(gateway, sleeping_clock)
    async with tokens, open_session(config) as http:
        client = UpgradeClient(http, gateway.base_url, tokens, RateLimiter(0))
        assert await fetch_concurrently(client, gateway, 50) == [200] * 50
        sleeping_clock.now += AUTH.bearer_ttl_s - 0.5  # half a second before the token expires
        before_expiry = await fetch_concurrently(client, gateway, 50)
        sleeping_clock.now += 1.0
        after_expiry = await fetch_concurrently(client, gateway, 50)

    stats = gateway.auth.stats
    assert before_expiry == after_expiry == [200] * 50
    assert stats.token_requests == stats.tokens_issued == 2
    assert stats.tokens_reused == 0
    assert stats.expired_bearer_rejections == 0


async def test_expires_in_zero_means_expires_now_not_an_hour(gateway, sleeping_clock):
    _, tokens = gateway_provider(gateway, sleeping_clock)
    async with tokens:
        first = await tokens.headers()
        sleeping_clock.now += AUTH.bearer_ttl_s - 0.5
        # Asked again 0.5 s before it expires, the gateway gives the same token, expires_in 0.
        await tokens.renew_after_rejection("bearer", first)
        assert gateway.auth.stats.tokens_reused == 1

        renewed = await tokens.headers()

    assert renewed.headers["Authorization"] != first.headers["Authorization"]
    assert sleeping_clock.now >= 1000.0 + AUTH.bearer_ttl_s  # it waited for the expiry, then asked
    assert gateway.auth.stats.token_requests == 3
    assert gateway.auth.stats.tokens_issued == 2


async def test_a_gateway_whose_tokens_always_expire_now_fails_the_run_after_three_answers(
    sleeping_clock,
):
    auth = msgspec.structs.replace(AUTH, bearer_ttl_s=0.0, same_token=True)
    options = msgspec.structs.replace(OPTIONS, auth=auth)
    async with run_simulator(options, clock=sleeping_clock) as stuck:
        _, tokens = gateway_provider(stuck, sleeping_clock)
        async with tokens:
            with pytest.raises(AuthenticationError, match="3 token answers in a row") as first:
                await tokens.headers()
            with pytest.raises(AuthenticationError) as again:
                await tokens.headers()

    assert again.value is first.value  # the run has failed: no more token requests
    assert stuck.auth.stats.token_requests == 3


async def test_same_token_given_back_early_is_not_asked_for_again_before_it_expires(
    gateway, sleeping_clock
):
    _, tokens = gateway_provider(gateway, sleeping_clock)
    async with tokens:
        first = await tokens.headers()
        sleeping_clock.now += 10
        await tokens.renew_after_rejection("bearer", first)  # same token, expires_in 90
        sleeping_clock.now += AUTH.bearer_ttl_s - 10 - 2  # 2 s before the expiry
        kept = await tokens.headers()
        asked_before_expiry = gateway.auth.stats.token_requests
        sleeping_clock.now += 1.5
        renewed = await tokens.headers()

    assert kept.headers["Authorization"] == first.headers["Authorization"]
    assert asked_before_expiry == 2
    assert renewed.headers["Authorization"] != first.headers["Authorization"]
    assert gateway.auth.stats.token_requests == 3
    assert gateway.auth.stats.tokens_issued == 2


async def test_renewal_retry_does_not_count_as_an_attempt_of_the_campaign(simulator, clock):
    config = config_for(simulator.base_url, concurrency=10)
    sink = MemorySink()
    async with TokenProvider(config, full_credentials()) as tokens:
        await tokens.headers()
        clock.now += 10**6  # both tokens the provider holds are now dead at the simulator
        run = await run_poll(config, refs_of(simulator.catalog), tokens, sink)

    campaigns = [r for r in sink.records() if isinstance(r, CampaignRecord)]
    assert run.exit_code == 0
    assert run.requests_total > OPTIONS.campaigns
    assert simulator.auth.stats.expired_bearer_rejections > 0
    assert simulator.auth.stats.expired_session_rejections > 0
    assert {r.attempts for r in campaigns} == {1}
    assert {r.outcome for r in campaigns} == {"ok"}


async def test_wrong_password_makes_one_login_and_fails_every_campaign_with_auth(simulator):
    config = config_for(simulator.base_url, concurrency=20)
    sink = MemorySink()
    async with TokenProvider(config, full_credentials(password="wrong")) as tokens:
        run = await run_poll(config, refs_of(simulator.catalog), tokens, sink)

    campaigns = [r for r in sink.records() if isinstance(r, CampaignRecord)]
    assert simulator.auth.stats.login_requests == 1
    assert simulator.auth.stats.logout_requests == 0
    assert run.exit_code == ExitCode.AUTH_FAILED
    assert not run.complete
    assert len(campaigns) == OPTIONS.campaigns
    assert {(r.outcome, r.error_kind) for r in campaigns} == {("failed", "auth")}
    assert "password" not in (campaigns[0].error_message or "")


async def test_rejected_client_credentials_stop_the_run_after_one_token_request(simulator):
    config = config_for(simulator.base_url, concurrency=20)
    credentials = msgspec.structs.replace(full_credentials(), app_secret=Secret("wrong"))
    async with TokenProvider(config, credentials) as tokens:
        run = await run_poll(config, refs_of(simulator.catalog), tokens, MemorySink())

    assert simulator.auth.stats.token_requests == 1
    assert simulator.auth.stats.login_requests == 0
    assert run.exit_code == ExitCode.AUTH_FAILED


async def test_no_more_than_three_logins_are_made_in_a_run(simulator, clock):
    config = config_for(simulator.base_url)
    async with TokenProvider(config, full_credentials()) as tokens, open_session(config) as http:
        client = UpgradeClient(http, simulator.base_url, tokens, RateLimiter(0))
        ref = CampaignRef(*next(simulator.catalog.ids()))
        for _ in range(3):
            assert (await client.get(upgrade_url(simulator.base_url, ref))).status == 200
            clock.now += AUTH.session_idle_ttl_s + 1

        with pytest.raises(AuthenticationError, match="3 login attempts"):
            await client.get(upgrade_url(simulator.base_url, ref))

    assert simulator.auth.stats.login_requests == 3


async def test_login_to_a_closed_port_is_a_network_failure_not_a_spent_login():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port: every login gets a refused connection, so the password
    # never left and no attempt is spent: each call fails alone, as a network failure.
    config = config_for(f"http://127.0.0.1:{port}")
    credentials = full_credentials(bearer_token="pre-issued")
    async with TokenProvider(config, credentials) as tokens:
        for _ in range(5):
            with pytest.raises(NoAuthAnswerError) as caught:
                await tokens.headers()
            assert not isinstance(caught.value, AuthenticationError)
            assert str(caught.value) == (
                f"auth endpoint unreachable (login): 127.0.0.1:{port}: connection refused"
            )

    assert tokens.tally.login_requests == 5


async def test_pre_issued_tokens_take_precedence_and_the_session_is_not_logged_out(simulator):
    config = config_for(simulator.base_url)
    credentials = full_credentials(
        bearer_token=OPTIONS.bearer_token, session_token=OPTIONS.session_token
    )
    async with TokenProvider(config, credentials) as tokens:
        run = await run_poll(config, refs_of(simulator.catalog), tokens, MemorySink())

    assert run.exit_code == 0
    assert simulator.auth.stats.token_requests == 0
    assert simulator.auth.stats.login_requests == 0
    assert simulator.auth.stats.logout_requests == 0


async def test_rejected_pre_issued_bearer_without_app_key_fails_the_run(simulator):
    config = config_for(simulator.base_url, concurrency=5)
    credentials = Credentials(bearer_token=Secret("stale"), session_token=Secret("stale"))
    async with TokenProvider(config, credentials) as tokens:
        run = await run_poll(config, refs_of(simulator.catalog), tokens, MemorySink())

    assert run.exit_code == ExitCode.AUTH_FAILED
    # Only the first requests of the five workers, already in flight together, were sent.
    assert simulator.stats.requests_total <= 5


async def test_session_the_run_opened_is_logged_out_at_the_end(simulator):
    config = config_for(simulator.base_url)
    async with TokenProvider(config, full_credentials()) as tokens:
        run = await run_poll(config, refs_of(simulator.catalog), tokens, MemorySink())

    assert run.exit_code == 0
    assert simulator.auth.stats.login_requests == 1
    assert simulator.auth.stats.logout_requests == 1


async def test_obtained_tokens_are_added_to_the_redactor_and_kept_out_of_repr(simulator):
    config = config_for(simulator.base_url)
    redactor = Redactor()
    async with TokenProvider(config, full_credentials(), redactor=redactor) as tokens:
        auth = await tokens.headers()
        text = f"{tokens!r} {auth!r} {auth.headers['Authorization']} {auth.headers['VZ-M2M-Token']}"

    assert all(token not in repr(tokens) for token in simulator.auth.issued)
    assert all(token not in redactor.redact(text) for token in simulator.auth.issued)
    assert len(simulator.auth.issued) == 2
