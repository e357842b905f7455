"""The whole path against the simulator: ids in, every campaign accounted for, devices as served."""

from __future__ import annotations

import codecs
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import msgspec
import pytest
from helpers import ACCOUNT, PollOutput, SimulatorFactory, parse_output, poll_in_process, run_cli

from fota_poller.model.records import CampaignRecord, DeviceRecord
from fota_poller.simulator import Catalog, RunningSimulator
from fota_poller.simulator.faults import FaultOptions


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def assert_contiguous(output: PollOutput) -> None:
    """Each campaign's device lines come right before its campaign line, none interleaved."""
    pending: list[DeviceRecord] = []
    for record in output.lines[:-1]:
        if isinstance(record, DeviceRecord):
            pending.append(record)
            continue
        assert isinstance(record, CampaignRecord)
        assert len(pending) == (record.device_count or 0)
        assert all(
            (d.account_name, d.upgrade_id) == (record.account_name, record.upgrade_id)
            for d in pending
        )
        pending = []
    assert pending == []


def assert_devices_match_simulator(output: PollOutput, catalog: Catalog) -> None:
    by_campaign: dict[tuple[str, str], list[DeviceRecord]] = {}
    for device in output.devices:
        by_campaign.setdefault((device.account_name, device.upgrade_id), []).append(device)
    for record in output.campaigns:
        if record.outcome != "ok":
            continue
        assert record.account_name is not None
        assert record.upgrade_id is not None
        truth = catalog.campaign(record.account_name, record.upgrade_id)
        assert truth is not None
        got = by_campaign.pop((record.account_name, record.upgrade_id), [])
        assert [(d.device_id, d.status, d.result_reason) for d in got] == [
            (d.device_id, d.status, d.result_reason) for d in truth.device_list
        ]
        for device in got:
            assert device.firmware_name == truth.firmware_name
            assert device.firmware_to == truth.firmware_to
            assert device.start_date == truth.start_date
            assert device.end_date == truth.end_date
            assert device.campaign_status == truth.status
        assert record.campaign_status == truth.status
        assert record.device_count == len(truth.device_list)
        assert sum((record.device_status_counts or {}).values()) == len(truth.device_list)
    assert by_campaign == {}, "device lines without an ok campaign line"


async def test_thousand_ids_with_bad_lines_account_for_every_pair(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    async with simulator(campaigns=980, devices_min=1, devices_max=20, seed=3) as sim:
        known = [f"{account},{upgrade}" for account, upgrade in sim.catalog.ids()]
        malformed = [
            "not-a-uuid",
            f"{ACCOUNT},1234",
            "a,b,c",
            "{broken json",
            f"bad account!,{uuid.uuid4()}",
            f"{'x' * 65},{uuid.uuid4()}",
            '{"accountName": "0000123456-00001"}',
            f"{ACCOUNT},{uuid.uuid4()},extra",
            "{}",
            f"{ACCOUNT},g3a8d88a-04c6-4ef3-b039-89b62f91e962",
        ]
        unknown = [
            f"{ACCOUNT},{uuid.UUID(int=random.Random(i).getrandbits(128))}" for i in range(9)
        ]
        unknown.append(f"9999999999-00001,{uuid.uuid4()}")
        lines = known + malformed + unknown
        random.Random(5).shuffle(lines)
        # Noise that is not campaigns: a header, comments, blanks, and duplicates.
        first = write_lines(
            tmp_path / "a.csv", ["accountName,upgradeId", "# nightly", *lines[:500]]
        )
        second = write_lines(tmp_path / "b.txt", ["", *lines[500:], known[0], known[1].upper()])

        output = await poll_in_process(sim, [first, second], concurrency=16)

    campaigns = output.campaigns
    assert len(campaigns) == 1000
    pairs = [(c.account_name, c.upgrade_id) for c in campaigns if c.error_kind != "invalid_input"]
    assert len(pairs) == len(set(pairs)) == 990
    failed = [c for c in campaigns if c.outcome == "failed"]
    assert len(failed) == 20
    assert sorted(c.error_kind or "" for c in failed) == ["api"] * 10 + ["invalid_input"] * 10
    invalid = [c for c in failed if c.error_kind == "invalid_input"]
    assert all(c.attempts == 0 and c.http_status is None for c in invalid)
    assert all(c.error_message and (":" in c.error_message) for c in invalid)
    assert all(("a.csv:" in m or "b.txt:" in m) for m in (c.error_message or "" for c in invalid))
    unknown_errors = [c for c in failed if c.error_kind == "api"]
    assert {c.http_status for c in unknown_errors} == {400}
    assert all(c.error_code for c in unknown_errors)

    assert_contiguous(output)
    assert_devices_match_simulator(output, sim.catalog)

    run = output.run
    assert run.campaigns_total == 1000
    assert run.campaigns_ok == 980
    assert run.campaigns_failed == 20
    assert run.campaigns_ok + run.campaigns_failed == run.campaigns_total
    assert run.devices_total == len(output.devices) == sum(c.device_count or 0 for c in campaigns)
    assert run.requests_total == 990 == sim.stats.requests_total
    assert run.complete is True
    assert run.exit_code == 1
    assert len({r.run_id for r in output.lines}) == 1


async def test_every_key_is_present_even_when_null(small_simulator: RunningSimulator, tmp_path):
    ids = write_lines(tmp_path / "ids", [f"{a},{u}" for a, u in small_simulator.catalog.ids()])
    output = await poll_in_process(small_simulator, [ids])
    expected = {
        "device": set(DeviceRecord.__struct_fields__) | {"record"},
        "campaign": set(CampaignRecord.__struct_fields__) | {"record"},
    }
    for record in output.lines[:-1]:
        raw = msgspec.json.decode(msgspec.json.encode(record))
        assert set(raw) == expected[raw["record"]]


async def test_campaign_ended_follows_the_end_date(small_simulator: RunningSimulator, tmp_path):
    ids = write_lines(tmp_path / "ids", [f"{a},{u}" for a, u in small_simulator.catalog.ids()])
    output = await poll_in_process(small_simulator, [ids])
    for record in output.campaigns:
        polled_on = (record.polled_at or "")[:10]
        if record.end_date is None:
            assert record.campaign_ended is None
        else:
            assert record.campaign_ended == (polled_on > record.end_date)
        assert (record.polled_at or "").endswith("Z")
        assert len(record.polled_at or "") == len("2026-01-01T00:00:00.000Z")


async def test_bare_ids_take_the_default_account(small_simulator: RunningSimulator, tmp_path):
    ids = write_lines(tmp_path / "ids", [u for _, u in small_simulator.catalog.ids()][:5])
    output = await poll_in_process(small_simulator, [ids], account=ACCOUNT)
    assert [c.outcome for c in output.campaigns] == ["ok"] * 5


async def test_json_lines_are_accepted(small_simulator: RunningSimulator, tmp_path):
    pairs = list(small_simulator.catalog.ids())[:3]
    lines = [msgspec.json.encode({"accountName": a, "upgradeId": u}).decode() for a, u in pairs]
    output = await poll_in_process(small_simulator, [write_lines(tmp_path / "ids", lines)])
    assert [c.outcome for c in output.campaigns] == ["ok"] * 3


def test_cli_poll_writes_the_file_and_exits_1_on_a_failed_campaign(tmp_path: Path) -> None:
    """A real process against a real simulator process: exit code, output file, logs on stderr."""
    ids_file = tmp_path / "ids.txt"
    server = subprocess.Popen(
        [sys.executable, "-m", "fota_poller", "simulate", "--port", "0", "--campaigns", "12",
         "--devices", "1-5", "--write-ids", str(ids_file)],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        ready = server.stderr.readline().decode()
        assert "listening on" in ready
        base_url = ready.rsplit(" ", 1)[-1].strip()
        with ids_file.open("a") as extra:
            extra.write("not-a-uuid\n")
        output_file = tmp_path / "out.jsonl"
        result = run_cli(
            ["poll", "--ids", str(ids_file), "--base-url", base_url, "--output", str(output_file)],
            env={
                "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
                "THINGSPACE_SESSION_TOKEN": "sim-session-token",
            },
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 1, result.stderr.decode()
    assert result.stdout == b""
    output = parse_output(output_file.read_bytes())
    assert output.run.campaigns_ok == 12
    assert output.run.campaigns_failed == 1
    logs = [msgspec.json.decode(line) for line in result.stderr.splitlines()]
    events = [entry["event"] for entry in logs]
    assert events[0] == "run.started"
    assert events[-1] == "run.finished"
    assert events.count("campaign.failed") == 1
    assert not list(tmp_path.glob(".out.jsonl.*.tmp"))


SIM_TOKENS = {
    "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
    "THINGSPACE_SESSION_TOKEN": "sim-session-token",
}


async def poll_cli(
    sim: RunningSimulator, ids: str, output: Path, *, stdin: bytes | None = None, **env: str
) -> tuple[int, PollOutput, bytes]:
    """`fota-poller poll` as a process against `sim`: exit code, records, stderr."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("THINGSPACE_")}
    command = [sys.executable, "-m", "fota_poller", "poll", "--ids", ids, "--rate", "0"]
    command += ["--base-url", sim.base_url, "--output", str(output)]
    result = await anyio.run_process(
        command, input=stdin, env=environ | SIM_TOKENS | env, check=False
    )
    records = parse_output(await anyio.Path(output).read_bytes())
    return result.returncode, records, result.stderr


@pytest.mark.parametrize("via", ["file", "stdin"])
async def test_an_id_list_with_a_byte_order_mark_polls_its_first_line(
    small_simulator: RunningSimulator, tmp_path: Path, via: str
) -> None:
    # A spreadsheet's "CSV UTF-8" export: a BOM, then the first line. On stdin the locale's
    # encoding (latin-1 here) must not matter: id lists are UTF-8.
    pairs = list(small_simulator.catalog.ids())[:5]
    data = codecs.BOM_UTF8 + "".join(f"{a},{u}\n" for a, u in pairs).encode()
    ids = tmp_path / "ids.csv"
    ids.write_bytes(data)
    exit_code, output, _ = await poll_cli(
        small_simulator,
        str(ids) if via == "file" else "-",
        tmp_path / "out.jsonl",
        stdin=data if via == "stdin" else None,
        PYTHONIOENCODING="latin-1",
    )
    assert exit_code == 0
    # Sorted: campaigns are polled concurrently, so their records come in any order.
    assert sorted((c.account_name, c.upgrade_id, c.outcome) for c in output.campaigns) == sorted(
        (a, u, "ok") for a, u in pairs
    )


async def test_a_body_for_another_campaign_fails_that_campaign_only(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    # The worst night next to the good one above: a proxy mixes up answers (`foreign` fault).
    faults = FaultOptions(mix=(("foreign", 0.3),))
    async with simulator(campaigns=40, devices_min=1, devices_max=5, seed=4, faults=faults) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        exit_code, output, _ = await poll_cli(sim, str(tmp_path / "ids.txt"), tmp_path / "o.jsonl")
        served_foreign = sim.stats.faults_by_kind["foreign"]

    assert exit_code == 1
    failed = [c for c in output.campaigns if c.outcome == "failed"]
    assert 0 < len(failed) == served_foreign < 40
    for record in failed:
        message = record.error_message or ""
        assert record.error_kind == "decode"
        assert record.http_status == 200
        assert record.device_count is None
        assert f"not upgrade {record.upgrade_id} of account {record.account_name}" in message
        assert "body is for upgrade '" in message
    assert not {(d.account_name, d.upgrade_id) for d in output.devices} & {
        (c.account_name, c.upgrade_id) for c in failed
    }
    assert_devices_match_simulator(output, sim.catalog)
    assert output.run.campaigns_ok == 40 - served_foreign
