"""Issue 9's auth points through the real CLI against the simulator: a refusing proxy, and
the gateway's same-token renewal. bench/auth_expiry.py prints the full-size figures."""

import math
import time

import msgspec
from helpers import clean_environ, credentials_environ, parse_output, poll_cli

from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions, parse_mix, split_server_faults

AUTH = SimulatorAuthOptions()


async def poll_all(simulator, tmp_path, *flags):
    simulator.catalog.write_ids(tmp_path / "ids.txt")
    return await poll_cli(simulator, tmp_path / "ids.txt", *flags, env=credentials_environ(AUTH))


def campaigns(stdout):
    output = parse_output(stdout)
    return output.campaigns, output.run


async def test_a_401_with_an_html_body_on_every_request_exits_3_after_two_requests(tmp_path):
    # Acceptance 5, second half: a proxy's page, not the gateway's fault, on every upgrade GET.
    faults = FaultOptions(mix=parse_mix("401html=1"))
    options = SimulatorOptions(campaigns=200, devices_min=1, devices_max=5, faults=faults)
    async with run_simulator(options) as simulator:
        result = await poll_all(simulator, tmp_path, "--concurrency", "8", "--rate", "0")

    records, run = campaigns(result.stdout)
    renewals = simulator.auth.stats.token_requests - 1
    assert result.returncode == 3
    assert renewals >= 1
    assert simulator.stats.requests_total <= 2 * renewals
    assert run.exit_code == 3
    assert not run.complete
    assert len(records) == 200
    assert {(r.outcome, r.error_kind) for r in records} == {("failed", "auth")}
    # Only the campaigns whose request went out count an attempt (a renewal's retry is not one).
    attempted = [r.attempts for r in records if r.attempts]
    assert attempted in ([1], [1, 1])
    assert b"Traceback" not in result.stderr


async def test_a_rejected_token_record_carries_the_gateway_error_code(tmp_path):
    # Pre-issued tokens the simulator does not know: 401 with the gateway's fault 900901.
    options = SimulatorOptions(campaigns=20, devices_min=1, devices_max=5)
    async with run_simulator(options) as simulator:
        environ = clean_environ()
        environ |= {"THINGSPACE_BEARER_TOKEN": "stale", "THINGSPACE_SESSION_TOKEN": "stale"}
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        result = await poll_cli(simulator, tmp_path / "ids.txt", env=environ)

    records, _ = campaigns(result.stdout)
    assert result.returncode == 3
    assert simulator.stats.requests_total == 1
    assert {(r.error_kind, r.error_code) for r in records} == {("auth", "900901")}
    assert sorted(r.attempts for r in records) == [0] * 19 + [1]


async def test_two_second_tokens_from_a_same_token_gateway_cost_one_request_per_lifetime(
    tmp_path,
):
    # Acceptance 6: 500 campaigns at --rate 50 (about 10 s) while tokens live 2 s.
    _, server_faults = split_server_faults("sametoken")
    auth = msgspec.structs.replace(AUTH, bearer_ttl_s=2.0, same_token="sametoken" in server_faults)
    options = SimulatorOptions(campaigns=500, devices_min=1, devices_max=20, auth=auth)
    async with run_simulator(options) as simulator:
        started = time.monotonic()
        result = await poll_all(simulator, tmp_path, "--concurrency", "50", "--rate", "50")
        elapsed = time.monotonic() - started

    stats = simulator.auth.stats
    records, run = campaigns(result.stdout)
    assert result.returncode == 0
    assert [r.outcome for r in records] == ["ok"] * 500
    assert run.requests_total == 500
    lifetimes = math.ceil(elapsed / auth.bearer_ttl_s)
    assert 2 <= stats.token_requests <= lifetimes + 1
    assert stats.expired_bearer_rejections <= 2
    # Never asked while the old token was still good: every answer was a new token.
    assert stats.tokens_reused == 0
