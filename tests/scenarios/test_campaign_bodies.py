"""Issue 18, bodies a server may send that are valid but odd: devices listed twice, a status
invented per device. Through the real CLI against a small aiohttp server on loopback that
serves set bodies (pre-issued tokens: no auth route is asked).
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator

import anyio
import msgspec
import pytest
from aiohttp import web
from helpers import ACCOUNT, clean_environ, parse_output, serve_app

UPGRADE_A = "44e11f09-6b75-4d97-9307-8beeb9d97d46"
UPGRADE_B = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"
TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-t", "THINGSPACE_SESSION_TOKEN": "session-t"}


class Bodies:
    """The campaigns the server answers, by upgrade id: the test sets them between runs."""

    def __init__(self) -> None:
        self.devices: dict[str, list[dict[str, str]]] = {}

    async def upgrade(self, request: web.Request) -> web.Response:
        upgrade_id = request.match_info["upgrade_id"]
        body = {
            "id": upgrade_id,
            "accountName": request.match_info["account"],
            "status": "Queued",
            "deviceList": self.devices[upgrade_id],
        }
        return web.Response(body=msgspec.json.encode(body), content_type="application/json")


@pytest.fixture
async def server() -> AsyncIterator[tuple[Bodies, str]]:
    bodies = Bodies()
    app = web.Application()
    app.router.add_get("/fota/v1/upgrades/{account}/upgrade/{upgrade_id}", bodies.upgrade)
    async with serve_app(app) as base_url:
        yield bodies, base_url


async def poll(base_url, tmp_path, *flags):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ACCOUNT},{UPGRADE_A}\n{ACCOUNT},{UPGRADE_B}\n")
    command = [
        sys.executable,
        "-m",
        "fota_poller",
        "poll",
        "--ids",
        str(ids),
        "--base-url",
        base_url,
    ]
    command += ["--rate", "0", "--log-format", "json", *flags]
    result = await anyio.run_process(command, env=clean_environ() | TOKENS, check=False)
    assert "Traceback" not in result.stderr.decode()
    return result


def devices(count, status, start=0):
    return [
        {"deviceId": f"99000086247{index:04d}", "status": status, "resultReason": "r"}
        for index in range(start, start + count)
    ]


async def test_a_device_listed_twice_gets_one_line_and_is_counted_once(server, tmp_path):
    bodies, base_url = server
    state = tmp_path / "state.db"
    # Each device of A twice: first as Queued, then (the entry that counts) as Device Accepted.
    bodies.devices = {
        UPGRADE_A: devices(50, "Queued") + devices(50, "Device Accepted"),
        UPGRADE_B: devices(3, "Queued"),
    }
    first = await poll(base_url, tmp_path, "--state", str(state))
    # The second night half of A's devices succeed, in the last entry; a few are listed thrice.
    bodies.devices[UPGRADE_A] = (
        devices(5, "UpgradeFailed") + devices(50, "Device Accepted") + devices(25, "UpgradeSuccess")
    )
    second = await poll(base_url, tmp_path, "--state", str(state))

    assert first.returncode == second.returncode == 0, second.stderr
    night_one, night_two = parse_output(first.stdout), parse_output(second.stdout)
    a_one = next(c for c in night_one.campaigns if c.upgrade_id == UPGRADE_A)
    assert (a_one.device_count, a_one.devices_duplicate, a_one.devices_new) == (50, 50, 50)
    assert a_one.device_status_counts == {"Device Accepted": 50}
    lines = [d for d in night_one.devices if d.upgrade_id == UPGRADE_A]
    assert len(lines) == len({d.device_id for d in lines}) == 50
    assert {d.status for d in lines} == {"Device Accepted"}
    assert night_one.run.devices_total == 53

    a_two = next(c for c in night_two.campaigns if c.upgrade_id == UPGRADE_A)
    assert (a_two.device_count, a_two.devices_duplicate) == (50, 30)
    assert (a_two.devices_new, a_two.devices_changed, a_two.devices_gone) == (0, 25, 0)
    changed = [d for d in night_two.devices if d.upgrade_id == UPGRADE_A and d.change == "changed"]
    assert len(changed) == 25
    assert {(d.previous_status, d.status) for d in changed} == {
        ("Device Accepted", "UpgradeSuccess")
    }
    b_two = next(c for c in night_two.campaigns if c.upgrade_id == UPGRADE_B)
    assert (b_two.devices_duplicate, b_two.devices_changed) == (0, 0)


async def test_thousands_of_invented_statuses_log_and_count_within_bounds(server, tmp_path):
    bodies, base_url = server
    invented = [
        {"deviceId": f"35{index:013d}", "status": f"Made-up status {index}"}
        for index in range(5000)
    ]
    bodies.devices = {UPGRADE_A: invented, UPGRADE_B: devices(3, "Queued")}
    metrics = tmp_path / "fota.prom"
    result = await poll(base_url, tmp_path, "--metrics-file", str(metrics))

    assert result.returncode == 0
    stderr = result.stderr.decode()
    assert len(stderr.splitlines()) < 40
    assert stderr.count('"phase.unknown_status"') == 20
    counts = [line for line in stderr.splitlines() if "unknown_statuses_not_logged" in line]
    assert len(counts) == 1
    assert msgspec.json.decode(counts[0])["count"] == 4980
    output = parse_output(result.stdout)
    # The records keep every device's raw status.
    served = {(d["deviceId"], d["status"]) for d in invented}
    assert {(d.device_id, d.status) for d in output.devices if d.upgrade_id == UPGRADE_A} == served
    series = re.findall(
        r'^fota_poller_last_run_devices\{status="(.*)"\} (\d+)', metrics.read_text(), re.MULTILINE
    )
    assert len(series) == 51
    assert sum(int(count) for _, count in series) == 5003
    assert "(other)" in dict(series)
