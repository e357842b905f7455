"""Issue 12, acceptance 4 and 5's logs: every line of a bad night carries its run_id; hosts named.

One `poll` process against the simulator over loopback, with JSON logs on stderr (a pipe):
a campaign that fails (an unknown id), 429s, an outage that opens the circuit, and Bearer
tokens that live one second, so they are renewed during the run. The password comes from a
file others may read, so a warning is logged before the run starts; the logout is logged
after it finished: the process's every line is checked, not only those in between.
"""

import json
import socket

import anyio.to_thread
import msgspec
import pytest
from helpers import (
    ACCOUNT,
    credentials_environ,
    parse_output,
    poll_cli,
    run_cli,
    token_environ,
    write_unknown_ids,
)

from fota_poller.simulator import SimulatorAuthOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions


@pytest.mark.timeout(120)
async def test_every_log_line_of_a_bad_nights_run_carries_its_run_id(tmp_path):
    auth = msgspec.structs.replace(SimulatorAuthOptions(), bearer_ttl_s=1.0)
    # The outage starts once the process is up and polling: the simulator's clock starts now.
    faults = FaultOptions(mix=(("429", 0.03),), outage=(2.5, 4.0))
    options = SimulatorOptions(
        campaigns=150, devices_min=1, devices_max=3, accounts=(ACCOUNT,), auth=auth, faults=faults
    )
    config = tmp_path / "config.toml"
    password = tmp_path / "password"
    password.write_text(auth.password, encoding="utf-8")
    password.chmod(0o644)
    config.write_text(
        "[poll]\ncircuit_probe_s = 0.2\ncircuit_probe_max_s = 0.5\n"
        f"[auth]\npassword_file = {str(password)!r}\n",
        encoding="utf-8",
    )
    env = credentials_environ(auth)
    del env["THINGSPACE_PASSWORD"]  # the environment wins over the file
    write_unknown_ids(tmp_path / "unknown.txt", ACCOUNT, 1)
    async with run_simulator(options) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        result = await poll_cli(
            simulator,
            tmp_path / "ids.txt",
            "--ids",
            str(tmp_path / "unknown.txt"),
            "--config",
            str(config),
            "--rate",
            "40",
            "--verbose",
            env=env,
        )
        stats = simulator.stats

    output = parse_output(result.stdout)
    run_id = output.run.run_id
    lines = [json.loads(line) for line in result.stderr.decode().splitlines()]
    events = [line["event"] for line in lines]
    run = lines[events.index("run.started") : events.index("run.finished") + 1]

    # The night was as bad as it was meant to be.
    assert result.returncode == 1
    assert [c.outcome for c in output.campaigns].count("failed") == 1
    assert stats.requests_by_status.get(429, 0) > 0
    assert stats.faults_by_kind["outage"] > 0
    assert simulator.auth.stats.tokens_issued >= 2
    seen = {line["event"] for line in run}
    assert {
        "campaign.failed",
        "backoff.rate_lowered",
        "backoff.circuit_opened",
        "backoff.circuit_closed",
        "auth.bearer_renewing",
        "auth.bearer_obtained",
    } <= seen
    # Before the run started: the config read and the credentials' warning; after it
    # finished: the logout.
    assert {"config.read", "auth.secret_file_readable_by_others"} <= set(
        events[: events.index("run.started")]
    )
    assert "auth.session_closed" in events[events.index("run.finished") :]
    # Every line of the process, from every task, joins up with the run's record.
    assert [line for line in lines if line.get("run_id") != run_id] == []
    assert len(run) > 10


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_closed_port_is_named_with_connection_refused_in_records_and_logs(tmp_path):
    port = _closed_port()
    (tmp_path / "ids.txt").write_text(f"{ACCOUNT},e3a8d88a-04c6-4ef3-b039-89b62f91e962\n")
    config = tmp_path / "config.toml"
    # One attempt and a circuit that does not open: the campaign fails with what it got.
    config.write_text("[poll]\nmax_attempts = 1\ncircuit_failures = 100\n", encoding="utf-8")
    base_url = f"http://127.0.0.1:{port}/api"
    result = run_cli(
        [
            "poll",
            "--ids",
            str(tmp_path / "ids.txt"),
            "--config",
            str(config),
            "--base-url",
            base_url,
        ],
        env=token_environ(SimulatorOptions()),
    )

    [campaign] = parse_output(result.stdout).campaigns
    assert result.returncode == 1
    assert campaign.error_kind == "network"
    assert campaign.error_message == f"127.0.0.1:{port} connection refused"
    failed = [json.loads(line) for line in result.stderr.decode().splitlines()]
    assert any(f"127.0.0.1:{port} connection refused" in json.dumps(line) for line in failed)


# Probes every tenth of a second, and an outage budget of half a second: a run of seconds.
SHORT_OUTAGE = "[poll]\nmax_outage_s = 0.5\ncircuit_probe_s = 0.1\ncircuit_probe_max_s = 0.2\n"


def _outage_run(tmp_path, base_url: str, env: dict[str, str], campaigns: int = 6):
    """`poll` of `campaigns` ids against `base_url` with SHORT_OUTAGE: (exit code, output)."""
    ids = tmp_path / "ids.txt"
    if not ids.exists():
        write_unknown_ids(ids, ACCOUNT, campaigns)
    config = tmp_path / "config.toml"
    config.write_text(SHORT_OUTAGE, encoding="utf-8")
    argv = ["poll", "--ids", str(ids), "--config", str(config), "--base-url", base_url]
    result = run_cli([*argv, "--rate", "0"], env=env)
    return result.returncode, parse_output(result.stdout)


@pytest.mark.parametrize(
    "env",
    [token_environ(SimulatorOptions()), credentials_environ(SimulatorAuthOptions())],
    ids=["pre-issued-tokens", "app-credentials"],
)
def test_an_outage_names_the_host_and_the_reason_in_every_not_polled_record(tmp_path, env):
    port = _closed_port()

    code, output = _outage_run(tmp_path, f"http://127.0.0.1:{port}", env)

    assert code == 4
    assert len(output.campaigns) == 6
    why = (
        f"not polled: 127.0.0.1:{port} unreachable for 0.5 s (connection refused), "
        "the longest outage poll.max_outage_s allows"
    )
    assert {(c.error_kind, c.error_message) for c in output.campaigns} == {("not_polled", why)}
    assert output.run.complete is False


async def test_an_api_answering_503_is_named_unavailable_in_the_not_polled_records(tmp_path):
    faults = FaultOptions(outage=(0.0, 3600.0))  # down for longer than the run can wait
    async with run_simulator(SimulatorOptions(campaigns=4, faults=faults)) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        code, output = await anyio.to_thread.run_sync(
            _outage_run, tmp_path, simulator.base_url, token_environ(simulator.options)
        )
        host = simulator.base_url.removeprefix("http://")

    assert code == 4
    why = f"not polled: {host} unavailable for 0.5 s (HTTP 503), "
    assert {c.error_message for c in output.campaigns} == {
        why + "the longest outage poll.max_outage_s allows"
    }
    assert len(output.campaigns) == 4
