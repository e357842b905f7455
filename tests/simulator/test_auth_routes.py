import base64

import aiohttp
import msgspec
import pytest

from fota_poller.cli import build_parser
from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.auth_routes import simulator_auth_options

AUTH = SimulatorAuthOptions(bearer_ttl_s=100.0, session_idle_ttl_s=50.0)
OPTIONS = SimulatorOptions(campaigns=3, devices_min=1, devices_max=3, auth=AUTH)


def basic(key=AUTH.app_key, secret=AUTH.app_secret):
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@pytest.fixture
async def simulator(clock):
    async with run_simulator(OPTIONS, clock=clock) as running:
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as client:
        yield client


async def request_token(http, simulator, authorization=None):
    async with http.post(
        f"{simulator.base_url}/ts/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization or basic()},
    ) as response:
        return response.status, await response.json()


async def login(http, simulator, bearer, password=AUTH.password):
    async with http.post(
        f"{simulator.base_url}/m2m/v1/session/login",
        json={"username": AUTH.username, "password": password},
        headers={"Authorization": f"Bearer {bearer}"},
    ) as response:
        return response.status, await response.json()


async def get_upgrade(http, simulator, bearer, session):
    account, upgrade_id = next(simulator.catalog.ids())
    url = f"{simulator.base_url}/fota/v1/upgrades/{account}/upgrade/{upgrade_id}"
    headers = {"Authorization": f"Bearer {bearer}", "VZ-M2M-Token": session}
    async with http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def open_session(http, simulator):
    _, token = await request_token(http, simulator)
    _, answer = await login(http, simulator, token["access_token"])
    return token["access_token"], answer["sessionToken"]


async def test_right_client_credentials_get_a_bearer_token_with_its_lifetime(simulator, http):
    status, body = await request_token(http, simulator)

    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 100
    assert body["access_token"] in simulator.auth.issued


async def test_wrong_client_secret_is_refused_with_invalid_client(simulator, http):
    status, body = await request_token(http, simulator, basic(secret="wrong"))

    assert status == 401
    assert body["error"] == "invalid_client"
    assert simulator.auth.stats.token_failures == 1
    assert simulator.auth.stats.tokens_issued == 0


async def test_token_asked_again_within_its_lifetime_is_the_same_until_near_its_end(
    simulator, http, clock
):
    _, first = await request_token(http, simulator)
    clock.now += 10
    _, again = await request_token(http, simulator)
    clock.now += 80  # 10 s left: inside the last quarter, a new token is issued
    _, near_end = await request_token(http, simulator)

    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == 90
    assert near_end["access_token"] != first["access_token"]
    assert simulator.auth.stats.tokens_issued == 2


async def test_expired_bearer_is_answered_with_the_invalid_credentials_fault(
    simulator, http, clock
):
    bearer, session = await open_session(http, simulator)
    clock.now += 101

    status, body = await get_upgrade(http, simulator, bearer, session)

    assert status == 401
    assert body["fault"]["code"] == "900901"
    assert simulator.auth.stats.expired_bearer_rejections == 1


async def test_idle_session_is_answered_with_session_token_expired(simulator, http, clock):
    bearer, session = await open_session(http, simulator)
    clock.now += 51

    status, body = await get_upgrade(http, simulator, bearer, session)

    assert status == 400
    assert body["errorCode"].endswith("REQUEST_FAILED.SessionToken.Expired")
    assert body["errorMessage"] == "The Session has expired."


async def test_session_in_use_stays_alive_past_its_idle_lifetime(simulator, http, clock):
    _, token = await request_token(http, simulator)
    bearer = token["access_token"]
    _, answer = await login(http, simulator, bearer)
    statuses = []
    for _ in range(3):
        clock.now += 30
        status, _ = await get_upgrade(http, simulator, bearer, answer["sessionToken"])
        statuses.append(status)

    assert statuses == [200, 200, 200]


async def test_login_needs_a_valid_bearer_token(simulator, http):
    status, body = await login(http, simulator, "not-a-token")

    assert status == 401
    assert body["fault"]["code"] == "900901"
    assert simulator.auth.stats.login_failures == 0


async def test_five_failed_logins_lock_the_account_even_for_the_right_password(simulator, http):
    _, token = await request_token(http, simulator)
    bearer = token["access_token"]
    for _ in range(4):
        status, _ = await login(http, simulator, bearer, password="wrong")
        assert status == 400
    assert not simulator.auth.stats.locked
    await login(http, simulator, bearer, password="wrong")

    status, body = await login(http, simulator, bearer)

    assert simulator.auth.stats.locked
    assert status == 400
    assert body["errorCode"].endswith("AccountLocked")
    assert simulator.auth.stats.sessions_issued == 0


async def test_a_good_login_resets_the_failure_streak(simulator, http):
    _, token = await request_token(http, simulator)
    bearer = token["access_token"]
    for _ in range(4):
        await login(http, simulator, bearer, password="wrong")
    await login(http, simulator, bearer)
    for _ in range(4):
        await login(http, simulator, bearer, password="wrong")

    status, _ = await login(http, simulator, bearer)

    assert status == 200
    assert not simulator.auth.stats.locked


async def test_logout_ends_the_session(simulator, http):
    bearer, session = await open_session(http, simulator)
    headers = {"Authorization": f"Bearer {bearer}", "VZ-M2M-Token": session}
    async with http.post(f"{simulator.base_url}/m2m/v1/session/logout", headers=headers) as r:
        assert r.status == 200

    status, body = await get_upgrade(http, simulator, bearer, session)

    assert status == 400
    assert body["errorCode"].endswith("SessionToken.Invalid")
    assert simulator.auth.stats.logout_requests == 1


async def test_pre_issued_simulator_tokens_never_expire(simulator, http, clock):
    clock.now += 10**6

    status, _ = await get_upgrade(http, simulator, OPTIONS.bearer_token, OPTIONS.session_token)

    assert status == 200


def test_simulate_command_takes_lifetimes_from_flags_and_credentials_from_environment():
    args = build_parser().parse_args(["simulate", "--bearer-ttl", "2", "--session-idle-ttl", "3"])
    options = simulator_auth_options(args, {"THINGSPACE_PASSWORD": "from-env"})

    assert msgspec.structs.asdict(options) == msgspec.structs.asdict(
        SimulatorAuthOptions(password="from-env", bearer_ttl_s=2.0, session_idle_ttl_s=3.0)
    )
