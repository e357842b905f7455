"""Issue 11's change feed end to end: the real CLI, an evolving simulator, three nights.

Every transition the simulator made appears exactly once in the next run's feed, with the
right previous status; nothing it did not do appears; `--emit changes` keeps every campaign
record and the run record and drops only the unchanged devices.
"""

import shutil

from helpers import poll_cli, token_environ

from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.simulator import EvolveOptions, SimulatorOptions, run_simulator
from fota_poller.testing import read_records

OPTIONS = SimulatorOptions(
    campaigns=25, devices_min=0, devices_max=60, seed=11, evolve=EvolveOptions(seed=5, share=0.1)
)


def devices_on(catalog, day):
    """{(upgrade id, device id): (status, result reason)} as the simulator serves on `day`."""
    served = {}
    for account, upgrade_id in catalog.ids():
        for device in catalog.campaign_on(account, upgrade_id, day).device_list:
            served[upgrade_id, device.device_id] = (device.status, device.result_reason)
    return served


def transitions(before, after):
    """What a feed must report: {(upgrade, device): (change, previous status, status, reason)}."""
    feed = {}
    for key, (status, reason) in after.items():
        if key not in before:
            feed[key] = ("new", None, status, reason)
        elif before[key] != (status, reason):
            feed[key] = ("changed", before[key][0], status, reason)
    for key, (status, _) in before.items():
        if key not in after:
            feed[key] = ("gone", status, None, None)
    return feed


def reported(records):
    """The feed a run wrote: every device record whose change is not `same`, keyed once."""
    feed = {}
    for record in records:
        if isinstance(record, DeviceRecord) and record.change != "same":
            key = (record.upgrade_id, record.device_id)
            assert key not in feed, f"{key} reported twice"
            feed[key] = (record.change, record.previous_status, record.status, record.result_reason)
    return feed


async def night(sim, ids, state, output, *flags):
    done = await poll_cli(
        sim, ids, "--state", str(state), "--output", str(output), "--rate", "0", *flags,
        env=token_environ(sim.options),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    records = read_records(output.read_bytes())
    assert isinstance(records[-1], RunRecord)
    assert records[-1].complete
    return records


async def test_three_nights_report_every_transition_once_and_nothing_else(tmp_path):
    ids = tmp_path / "ids.txt"
    state = tmp_path / "state.db"
    async with run_simulator(OPTIONS) as sim:
        sim.catalog.write_ids(ids)
        first = await night(sim, ids, state, tmp_path / "night0.jsonl")
        day0 = devices_on(sim.catalog, 0)
        assert reported(first) == transitions({}, day0)  # every device new, once
        polled_at = {r.upgrade_id: r.polled_at for r in first if isinstance(r, CampaignRecord)}

        sim.catalog.advance_day()
        second = await night(sim, ids, state, tmp_path / "night1.jsonl")
        day1 = devices_on(sim.catalog, 1)
        expected = transitions(day0, day1)
        assert {change for change, *_ in expected.values()} == {"new", "changed", "gone"}
        assert reported(second) == expected
        # The rest are `same`, still dated from the first night.
        same = [r for r in second if isinstance(r, DeviceRecord) and r.change == "same"]
        assert len(same) == len(day1) - sum(c != "gone" for c, *_ in expected.values())
        assert all(r.status_since == polled_at[r.upgrade_id] for r in same)
        assert all(r.previous_status == r.status for r in same)
        moved = [r for r in second if isinstance(r, DeviceRecord) and r.change == "changed"]
        assert all(r.status_since == r.polled_at for r in moved if r.previous_status != r.status)

        sim.catalog.advance_day()
        third = await night(sim, ids, state, tmp_path / "night2.jsonl", "--emit", "changes")
        day2 = devices_on(sim.catalog, 2)
        assert reported(third) == transitions(day1, day2)
        assert not any(isinstance(r, DeviceRecord) and r.change == "same" for r in third)
        # Every campaign is still accounted for, with its counts.
        campaigns = [r for r in third if isinstance(r, CampaignRecord)]
        assert len(campaigns) == len(sim.catalog)
        by_campaign = {}
        for change, *_ in transitions(day1, day2).values():
            by_campaign[change] = by_campaign.get(change, 0) + 1
        assert sum(c.devices_changed for c in campaigns) == by_campaign.get("changed", 0)
        assert sum(c.devices_new for c in campaigns) == by_campaign.get("new", 0)
        assert sum(c.devices_gone for c in campaigns) == by_campaign.get("gone", 0)
        assert sum(c.device_count for c in campaigns) == len(day2)


async def test_changes_only_holds_every_campaign_and_run_record_and_only_the_moved_devices(
    tmp_path,
):
    ids = tmp_path / "ids.txt"
    options = SimulatorOptions(
        campaigns=40, devices_min=50, devices_max=50, seed=3, evolve=EvolveOptions(seed=8)
    )  # the default share: 2% of the devices move a day
    async with run_simulator(options) as sim:
        sim.catalog.write_ids(ids)
        await night(sim, ids, tmp_path / "a.db", tmp_path / "night0.jsonl")
        shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
        sim.catalog.advance_day()
        full = await night(sim, ids, tmp_path / "a.db", tmp_path / "all.jsonl")
        changes = await night(
            sim, ids, tmp_path / "b.db", tmp_path / "changes.jsonl", "--emit", "changes"
        )
        expected = transitions(devices_on(sim.catalog, 0), devices_on(sim.catalog, 1))
    assert 0 < len(expected) < 0.1 * 40 * 50
    assert reported(changes) == reported(full) == expected
    kinds = [type(r).__name__ for r in changes]
    assert kinds.count("CampaignRecord") == 40
    assert kinds.count("RunRecord") == 1
    assert kinds.count("DeviceRecord") == len(expected)
    # The campaign lines carry the same counts in both modes.
    assert campaign_counts(full) == campaign_counts(changes)
    assert (tmp_path / "changes.jsonl").stat().st_size < (tmp_path / "all.jsonl").stat().st_size / 5


def campaign_counts(records):
    return sorted(
        (r.upgrade_id, r.device_count, r.devices_new, r.devices_changed, r.devices_gone)
        for r in records
        if isinstance(r, CampaignRecord)
    )
