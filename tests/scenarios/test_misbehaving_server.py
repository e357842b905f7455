"""Issue 18: a server that took the connection and broke HTTP is `misbehaving`, not `unreachable`.

Raw-socket servers on loopback (aiohttp's own server cannot send a bad status line) answer
every request with the same bytes; the real CLI polls them. `unreachable` stays the word for
no connection at all (a closed port), `unavailable` for an answer that says the server is down.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator

import anyio
import pytest
from helpers import ACCOUNT, UPGRADE, assert_calm, clean_environ, credentials_environ, parse_output

from fota_poller.simulator import SimulatorAuthOptions

TOKENS = {"THINGSPACE_BEARER_TOKEN": "bearer-token-1", "THINGSPACE_SESSION_TOKEN": "session-t-1"}

# What each server sends back, whatever it was asked, before it closes the connection.
ANSWERS = {
    "bad status line": b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}",
    "not HTTP at all": b"SSH-2.0-OpenSSH_8.9\r\n",
    "bad header": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nNo colon in this header\r\n\r\n{}",
    "body cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b'{"id":',
    "bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "closed without an answer": b"",
}


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A loopback server sending `ANSWERS[request.param]` to every request: its base URL."""
    answer = ANSWERS[request.param]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def poll(base_url, tmp_path, poll_config):
    ids, config = tmp_path / "ids.txt", tmp_path / "fota.toml"
    ids.write_text(f"{ACCOUNT},{UPGRADE}\n")
    config.write_text(f"[poll]\n{poll_config}")
    command = [sys.executable, "-m", "fota_poller", "poll", "--config", str(config)]
    command += ["--ids", str(ids), "--base-url", base_url, "--log-format", "json"]
    return await anyio.run_process(command, env=clean_environ() | TOKENS, check=False)


ONE_ATTEMPT = "max_attempts = 1\n"
SHORT_OUTAGE = "circuit_failures = 1\ncircuit_probe_s = 0.1\nmax_outage_s = 0.5\n"


def assert_clean(result):
    stderr = result.stderr.decode()
    assert_calm(stderr)
    assert "unreachable" not in stderr
    # The reason never carries the URL's path (aiohttp's parser errors hold the whole URL).
    assert "/fota/v1" not in stderr


@pytest.mark.parametrize("raw_server", list(ANSWERS), indirect=True)
async def test_a_broken_answer_fails_its_campaign_naming_it_not_unreachable(raw_server, tmp_path):
    failed = await poll(raw_server, tmp_path, ONE_ATTEMPT)

    assert_clean(failed)
    assert failed.returncode == 1
    record = parse_output(failed.stdout).campaigns[0]
    assert record.error_kind == "network"
    assert record.error_message.startswith(raw_server.removeprefix("http://") + " ")
    assert any(
        reason in record.error_message
        for reason in ("bad HTTP answer: ", "response cut short", "server disconnected")
    )


@pytest.mark.parametrize("raw_server", ["bad status line", "body cut short"], indirect=True)
async def test_an_outage_of_broken_answers_is_misbehaving(raw_server, tmp_path):
    outage = await poll(raw_server, tmp_path, SHORT_OUTAGE)

    assert_clean(outage)
    assert outage.returncode == 4
    cut_short = parse_output(outage.stdout).campaigns[0]
    assert cut_short.error_kind == "not_polled"
    assert " misbehaving for 0.5 s (" in cut_short.error_message


async def test_a_closed_port_is_still_unreachable(tmp_path):
    base_url = closed_port_url()
    outage = await poll(base_url, tmp_path, SHORT_OUTAGE)

    assert outage.returncode == 4
    message = parse_output(outage.stdout).campaigns[0].error_message
    assert message.startswith(f"not polled: {base_url.removeprefix('http://')} unreachable for")
    assert "(connection refused)" in message


@pytest.mark.parametrize("raw_server", ["bad status line"], indirect=True)
async def test_check_names_a_token_endpoint_that_breaks_http_misbehaving(raw_server):
    env = credentials_environ(SimulatorAuthOptions())
    command = [sys.executable, "-m", "fota_poller", "check", "--base-url", raw_server]
    result = await anyio.run_process(command, env=env, check=False)

    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 4, output
    assert_calm(output)
    assert "auth endpoint misbehaving (token request)" in output
    assert "bad HTTP answer: Invalid status code" in output
    assert "unreachable" not in output
