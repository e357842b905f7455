"""One tally counts a whole run against the simulator: requests, retries, 429s and auth requests."""

from helpers import refs_of, split

from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.token_provider import TokenProvider
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.model.tally import RunTally
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions
from fota_poller.testing import MemorySink

AUTH = SimulatorAuthOptions()


async def test_one_tally_counts_every_request_retry_429_and_auth_request_of_a_run():
    # 429s and 503s to retry, and a stale pre-issued session token the API rejects once.
    faults = FaultOptions(mix=(("429", 0.15), ("503", 0.15)), retry_after_s=0)
    options = SimulatorOptions(campaigns=20, devices_min=1, devices_max=5, faults=faults)
    credentials = Credentials(
        app_key=Secret(AUTH.app_key),
        app_secret=Secret(AUTH.app_secret),
        username=Secret(AUTH.username),
        password=Secret(AUTH.password),
        session_token=Secret("stale-session"),
    )
    tally = RunTally()
    sink = MemorySink()
    async with run_simulator(options) as simulator:
        config = Config(
            api=ApiConfig(base_url=simulator.base_url),
            poll=PollConfig(concurrency=4, rate=0, backoff_initial_s=0.001, backoff_max_s=0.002),
        )
        async with TokenProvider(config, credentials, tally=tally) as tokens:
            run = await run_poll(config, refs_of(simulator.catalog), tokens, sink, tally=tally)
        served, auth = simulator.stats, simulator.auth.stats

    devices, campaigns, _ = split(sink.records())
    attempts = sum(campaign.attempts for campaign in campaigns)
    assert run.exit_code == 0
    assert tally.campaigns_by_outcome == {"ok": options.campaigns}
    assert tally.devices_written == run.devices_total == len(devices)
    # Requests: as the simulator counted them, every attempt plus the one the rejection re-sent.
    assert tally.requests_total == run.requests_total == served.requests_total
    assert tally.tokens_rejected == 1
    assert tally.requests_total == attempts + tally.tokens_rejected
    assert tally.retries == attempts - options.campaigns > 0
    assert tally.rate_limited == served.requests_by_status[429] > 0
    # Auth: what the provider sent, the logout at the end included.
    assert (tally.token_requests, tally.login_requests, tally.logout_requests) == (1, 1, 1)
    assert (auth.token_requests, auth.login_requests, auth.logout_requests) == (1, 1, 1)
