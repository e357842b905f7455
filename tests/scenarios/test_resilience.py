"""Acceptance of issue 4 against the simulator over loopback, at sizes that keep tests fast.

The full figures (1,000 campaigns, the 2-12 s outage with default probing) are run by
bench/resilience.py; these tests check the same outcomes on smaller runs.
"""

import uuid
from collections import Counter

import msgspec
import pytest
from helpers import (
    ACCOUNT,
    poll_simulator,
    polled,
    run_cli,
    simulator_process,
    simulator_tokens,
    split,
    truth,
    write_unknown_ids,
)

from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.model.records import RunRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.model.stop import RunControl, cut_short
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import Catalog, SimulatorOptions, run_simulator
from fota_poller.simulator.faults import FaultOptions, parse_mix
from fota_poller.testing import MemorySink

SIMULATOR_TOKENS = {
    "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
    "THINGSPACE_SESSION_TOKEN": "sim-session-token",
}


class _Kind(msgspec.Struct):
    error_kind: str | None = None


_kind_decoder = msgspec.json.Decoder(_Kind)

EVERY_FAULT_AT_25_PERCENT = (
    "429=0.03,408=0.02,500=0.03,502=0.02,502html=0.03,503=0.02,504=0.02,"
    "reset=0.03,truncate=0.03,stall=0.02"
)


def test_the_fault_mix_adds_up_to_a_quarter_and_uses_every_kind():
    mix = parse_mix(EVERY_FAULT_AT_25_PERCENT)
    assert round(sum(p for _, p in mix), 6) == 0.25
    assert {kind for kind, _ in mix} == {
        "429", "408", "500", "502", "502html", "503", "504", "reset", "truncate", "stall"
    }  # fmt: skip


async def test_every_campaign_ends_ok_through_a_quarter_of_faulty_answers():
    faults = FaultOptions(mix=parse_mix(EVERY_FAULT_AT_25_PERCENT), stall_s=5.0)
    options = SimulatorOptions(campaigns=200, devices_min=1, devices_max=40, faults=faults)
    async with run_simulator(options) as simulator:
        # 0.25 ** 10 * 200 campaigns: one failing all its attempts is a 1-in-5,000 event.
        # At the default of 5 it would be 0.25 ** 5 * 200 = 0.2 expected failures per run.
        run, records = await poll_simulator(
            simulator, concurrency=16, rate=0, max_attempts=10, read_timeout_s=0.5,
            backoff_initial_s=0.01, backoff_max_s=0.2, max_retry_after_s=0.2,
        )  # fmt: skip
        stats = simulator.stats
    devices, campaigns, runs = split(records)

    assert [c.outcome for c in campaigns] == ["ok"] * 200
    assert polled(devices) == truth(simulator)
    assert len({(d.upgrade_id, d.device_id) for d in devices}) == len(devices)
    assert run.exit_code == 0
    assert run.complete
    assert runs == [run]
    # Every kind was injected, and attempts count requests. aiohttp itself sends a request
    # again once when a reused keep-alive connection is reset (RFC 9112 9.3.1), so the
    # simulator may see up to one more request per reset than the poller made.
    assert set(stats.faults_by_kind) >= {"429", "408", "500", "502html", "reset", "truncate"}
    assert sum(c.attempts for c in campaigns) == run.requests_total
    assert 0 <= stats.requests_total - run.requests_total <= stats.faults_by_kind["reset"]
    assert max(c.attempts for c in campaigns) > 1


async def test_a_rate_limited_server_sees_few_429s_once_the_run_slows_down():
    faults = FaultOptions(rate_limit=20)
    options = SimulatorOptions(campaigns=120, devices_min=1, devices_max=5, faults=faults)
    async with run_simulator(options) as simulator:
        run, records = await poll_simulator(simulator, concurrency=8, rate=50)
        stats = simulator.stats
    _, campaigns, _ = split(records)

    assert Counter(c.outcome for c in campaigns) == {"ok": 120}
    throttled = stats.requests_by_status.get(429, 0)
    assert throttled > 0
    assert throttled < 0.1 * stats.requests_total
    assert run.exit_code == 0


async def test_an_outage_costs_a_few_probes_and_no_campaign():
    # The circuit opens on the first failures; waiting campaigns are not charged for it.
    faults = FaultOptions(outage=(1.0, 4.0))
    options = SimulatorOptions(campaigns=150, devices_min=1, devices_max=5, faults=faults)
    async with run_simulator(options) as simulator:
        run, records = await poll_simulator(
            simulator, concurrency=8, rate=50, circuit_probe_s=0.25, circuit_probe_max_s=1.0
        )
        stats = simulator.stats
    _, campaigns, _ = split(records)

    assert Counter(c.outcome for c in campaigns) == {"ok": 150}
    assert 0 < stats.faults_by_kind["outage"] < 30
    assert run.exit_code == 0


async def test_an_api_that_never_comes_back_ends_the_run_after_max_outage():
    # Down from the start and for longer than the test: only max_outage_s can end the run.
    faults = FaultOptions(outage=(0.0, 3600.0))
    options = SimulatorOptions(campaigns=40, devices_min=1, devices_max=5, faults=faults)
    async with run_simulator(options) as simulator:
        run, records = await poll_simulator(
            simulator,
            concurrency=4,
            rate=0,
            circuit_probe_s=0.1,
            circuit_probe_max_s=0.2,
            max_outage_s=1.0,
        )
        stats = simulator.stats
    _, campaigns, runs = split(records)

    assert len(campaigns) == 40
    assert {c.error_kind for c in campaigns} == {"not_polled"}
    assert all("max_outage_s" in (c.error_message or "") for c in campaigns)
    assert runs == [run]
    assert run.exit_code == 4
    assert not run.complete
    # The circuit opened after the first failures; then only probes, a few a second.
    assert stats.requests_total < 30


async def test_a_body_over_the_cap_fails_as_too_large_without_retrying():
    options = SimulatorOptions(campaigns=3, devices_min=200, devices_max=300)
    async with run_simulator(options) as simulator:
        run, records = await poll_simulator(simulator, max_response_mb=1 / 1024)
    _, campaigns, _ = split(records)

    assert {(c.outcome, c.error_kind, c.attempts) for c in campaigns} == {
        ("failed", "too_large", 1)
    }
    assert run.exit_code == 1


async def test_a_permanent_error_is_not_retried():
    options = SimulatorOptions(campaigns=2, devices_min=1, devices_max=3)
    # Campaigns of another seed, which the simulator does not know: 400 INVALID_PARAMETER.
    unknown = Catalog(msgspec.structs.replace(options, seed=99))
    async with run_simulator(options) as simulator:
        _, records = await poll_simulator(simulator, catalog=unknown)
    _, campaigns, _ = split(records)

    assert {(c.error_kind, c.http_status, c.attempts) for c in campaigns} == {("api", 400, 1)}


async def test_the_deadline_marks_every_campaign_not_started_as_not_polled():
    options = SimulatorOptions(campaigns=100, devices_min=1, devices_max=3, latency_ms=20)
    async with run_simulator(options) as simulator:
        run, records = await poll_simulator(simulator, concurrency=2, rate=0, deadline="0.3s")
    _, campaigns, runs = split(records)

    outcomes = Counter((c.outcome, c.error_kind) for c in campaigns)
    assert len(campaigns) == 100
    assert len({c.upgrade_id for c in campaigns}) == 100
    assert outcomes[("ok", None)] > 0
    assert outcomes[("failed", "not_polled")] > 0
    assert set(outcomes) == {("ok", None), ("failed", "not_polled")}
    assert "deadline of 0.3s" in next(c for c in campaigns if c.outcome == "failed").error_message
    assert run.complete is False
    assert run.exit_code == 4
    assert runs == [run]


# A guard, not a figure: a loaded machine is slow; bench/ prints the figures.
@pytest.mark.timeout(300)
def test_a_million_ids_past_the_deadline_are_each_accounted_for_and_the_run_exits_4(tmp_path):
    """The worst night: a slow server and a million campaigns left at the deadline.

    The run must account for every id (at the hot path's speed: bench/deadline.py prints how
    long it takes, 10 s deadline included); the timeout is only a guard.
    """
    ids, output = tmp_path / "ids.txt", tmp_path / "out.jsonl"
    write_unknown_ids(ids, ACCOUNT, 1_000_000)
    with simulator_process("--campaigns", "10", "--latency-ms", "200") as base_url:
        result = run_cli(
            ["poll", "--ids", str(ids), "--output", str(output), "--base-url", base_url,
             "--rate", "0", "--concurrency", "32", "--deadline", "1s"],
            env=SIMULATOR_TOKENS, timeout=280,
        )  # fmt: skip
    assert result.returncode == 4, result.stderr.decode()[-2000:]
    lines = output.read_bytes().splitlines()
    run = msgspec.json.decode(lines[-1], type=RunRecord)
    kinds = Counter(_kind_decoder.decode(line).error_kind for line in lines[:-1])
    assert len(lines) == 1_000_001
    assert set(kinds) == {"api", "not_polled"}
    assert kinds["not_polled"] > 900_000
    assert (run.campaigns_total, run.complete, run.exit_code) == (1_000_000, False, 4)
    # One record per id: every line of the file is a distinct campaign.
    assert len({line[line.index(b'"upgrade_id"') :][:52] for line in lines[:-1]}) == 1_000_000


async def test_a_stopped_run_writes_the_campaigns_it_never_started_in_batches():
    """Not polled records cost one hand-off, one encode and one write per batch, not per id."""

    class CountingSink(MemorySink):
        writes = 0

        def write(self, data):
            self.writes += 1
            super().write(data)

    options = SimulatorOptions(campaigns=1, devices_min=1, devices_max=1)
    control = RunControl()
    control.stop(cut_short("stopped before the first campaign"))
    ids = [CampaignRef(ACCOUNT, str(uuid.UUID(int=number + 1))) for number in range(10_000)]

    async def refs():
        for ref in [*ids, *ids[:100]]:  # the duplicates get no second record
            yield ref

    sink = CountingSink()
    async with run_simulator(options) as simulator:
        config = Config(api=ApiConfig(base_url=simulator.base_url), poll=PollConfig(rate=0))
        tokens = simulator_tokens(options)
        run = await run_poll(config, refs(), tokens, sink, control)
        requests = simulator.stats.requests_total
    _, campaigns, _ = split(sink.records())

    assert requests == 0
    assert sorted(c.upgrade_id for c in campaigns) == sorted(ref.upgrade_id for ref in ids)
    assert {(c.error_kind, c.error_message) for c in campaigns} == {
        ("not_polled", "stopped before the first campaign")
    }
    assert (run.campaigns_total, run.campaigns_failed, run.exit_code) == (10_000, 10_000, 4)
    # The run line, plus one write per batch of thousands (today's code: one per campaign).
    assert sink.writes <= 10


FAILED = 30_000


# A guard, not a figure: a loaded machine is slow; bench/ prints the figures.
@pytest.mark.timeout(300)
def test_thirty_thousand_failed_campaigns_write_kilobytes_to_stderr_and_a_summary(tmp_path):
    # A line per failure would be some 6 MB here: 30,000 are as many as 100,000 to tell.
    ids, output = tmp_path / "ids.txt", tmp_path / "out.jsonl"
    write_unknown_ids(ids, ACCOUNT, FAILED)
    with simulator_process("--campaigns", "10") as base_url:
        result = run_cli(
            ["poll", "--ids", str(ids), "--output", str(output), "--base-url", base_url,
             "--rate", "0", "--concurrency", "32"],
            env=SIMULATOR_TOKENS, timeout=280,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    assert len(result.stderr) < 100_000
    logs = [msgspec.json.decode(line) for line in result.stderr.splitlines()]
    summary = next(entry for entry in logs if entry["event"] == "run.failures")
    assert summary["by_error_kind"] == {"api": FAILED}
    assert summary["failed"] == FAILED
    assert all("INVALID_PARAMETER" in example for example in summary["examples"]["api"])
    assert logs[-1]["event"] == "run.finished"
    run = msgspec.json.decode(output.read_bytes().splitlines()[-1], type=RunRecord)
    assert (run.campaigns_total, run.campaigns_failed) == (FAILED, FAILED)


async def test_a_request_still_in_flight_after_the_grace_is_cancelled_and_not_polled():
    faults = FaultOptions(mix=(("stall", 1.0),), stall_s=30.0)
    options = SimulatorOptions(campaigns=20, devices_min=5, devices_max=5, faults=faults)
    async with run_simulator(options) as simulator:
        run, records = await poll_simulator(
            simulator, concurrency=4, rate=0, deadline="0.2s", grace_s=0.1
        )
    _, campaigns, _ = split(records)

    assert Counter((c.error_kind, c.attempts) for c in campaigns) == {
        ("not_polled", 1): 4,
        ("not_polled", 0): 16,
    }
    assert run.exit_code == 4


async def test_an_abort_cancels_at_once_and_still_ends_with_the_run_line():
    options = SimulatorOptions(campaigns=50, devices_min=1, devices_max=3, latency_ms=10_000)
    control = RunControl()
    async with run_simulator(options) as simulator:
        # Aborted before any answer can arrive: the 10 s latency never matters.
        control.abort(cut_short("aborted by the test"))
        run, records = await poll_simulator(simulator, control=control, grace_s=60)
    _, campaigns, runs = split(records)

    assert runs == [run]
    assert run.complete is False
    assert run.exit_code == 4
    assert all(c.error_kind == "not_polled" for c in campaigns)
