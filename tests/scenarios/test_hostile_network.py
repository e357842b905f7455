"""Issue 9, a hostile server: redirects are never followed, a gzip bomb never inflates in memory.

Through the real CLI (a process) against the simulator's `redirect` and `gzipbomb` faults;
the good-night runs against the same simulator are in test_resilience.py.
"""

import sys
from collections.abc import AsyncIterator

import anyio
import pytest
from aiohttp import web
from helpers import ACCOUNT, credentials_environ, parse_output, serve_app

from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions

# Runs the CLI as its only child and prints the child's peak RSS (KiB on Linux) on stdout.
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def environment():
    """The simulator's own credentials, as the poller reads them."""
    return credentials_environ(SimulatorAuthOptions())


def campaigns(path):
    return parse_output(path.read_bytes() if path.exists() else b"").campaigns


class Listener:
    """A second loopback server that counts every request it receives, whatever it is."""

    def __init__(self):
        self.received = []

    async def count(self, request):
        self.received.append((request.method, request.path))
        return web.Response(text='{"access_token":"stolen","sessionToken":"stolen"}')


@pytest.fixture
async def listener() -> AsyncIterator[tuple[Listener, str]]:
    counting = Listener()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counting.count)
    async with serve_app(app) as base_url:
        yield counting, base_url


@pytest.mark.parametrize(
    ("route", "exit_code"), [("login", 3), ("token", 3), ("upgrade", 1), ("reports", 1)]
)
async def test_a_redirect_is_never_followed_on_any_route(tmp_path, listener, route, exit_code):
    counting, target = listener
    faults = FaultOptions(mix=(("redirect", 1.0),), routes=(route,), redirect_to=target)
    options = SimulatorOptions(campaigns=5, devices_min=1, devices_max=3, faults=faults)
    output = tmp_path / "out.jsonl"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        sources = ["--status", "Queued"] if route == "reports" else []
        command = [
            sys.executable, "-m", "fota_poller", "poll", "--base-url", simulator.base_url,
            "--account", ACCOUNT, "--output", str(output), "--rate", "0",
            *(sources or ["--ids", str(tmp_path / "ids.txt")]),
        ]  # fmt: skip
        result = await anyio.run_process(command, env=environment(), check=False)

    stderr = result.stderr.decode()
    assert counting.received == []
    assert result.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    # Each redirect was asked for once: a login is never sent again (lockout), nor a GET.
    assert simulator.stats.faults_by_kind == {"redirect": 1 if route != "upgrade" else 5}
    host = target.removeprefix("http://")
    if route == "upgrade":
        records = campaigns(output)
        assert len(records) == 5
        assert {(r.error_kind, r.http_status, r.attempts) for r in records} == {("http", 307, 1)}
        assert {r.error_message for r in records} == {
            f"HTTP 307 redirect to host {host}, not followed"
        }
    else:
        assert f"HTTP 307 redirect to host {host}, not followed" in stderr


async def test_a_gzip_bomb_is_too_large_and_never_inflated_in_memory(tmp_path):
    # 1 MB on the wire, 1 GiB inflated, at the default cap of 256 MB.
    faults = FaultOptions(mix=(("gzipbomb", 1.0),), bomb_inflated_mb=1024)
    options = SimulatorOptions(campaigns=1, devices_min=1, devices_max=3, faults=faults)
    output = tmp_path / "out.jsonl"
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        command = [
            sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "fota_poller", "poll",
            "--base-url", simulator.base_url, "--ids", str(tmp_path / "ids.txt"),
            "--account", ACCOUNT, "--output", str(output), "--deadline", "60s",
        ]  # fmt: skip
        env = environment() | {"THINGSPACE_BEARER_TOKEN": "sim-bearer-token"}
        env |= {"THINGSPACE_SESSION_TOKEN": "sim-session-token"}
        result = await anyio.run_process(command, env=env, check=False)

    peak_rss_mb = int(result.stdout) / 1024
    [record] = campaigns(output)
    assert (record.error_kind, record.http_status, record.attempts) == ("too_large", 200, 1)
    assert "inflated bytes or more is over the 268435456 byte cap" in (record.error_message or "")
    assert result.returncode == 1
    assert simulator.stats.requests_total == 1
    assert peak_rss_mb < 100, f"peak RSS {peak_rss_mb:.0f} MB"
