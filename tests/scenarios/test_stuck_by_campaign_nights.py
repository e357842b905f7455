"""Acceptance 6 (its second half): three nights of `poll --state` through the CLI against the
evolving simulator, then `state stuck --by campaign --limit 5` lists the five campaigns with
the most stuck devices, and `state stuck --limit 5` the five devices stuck longest, checked
against the simulator's catalogue and the nights' own poll times."""

import json

from helpers import poll_cli, run_cli, token_environ

from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import CampaignRecord
from fota_poller.simulator import EvolveOptions, SimulatorOptions, run_simulator
from fota_poller.testing import read_records

OPTIONS = SimulatorOptions(
    campaigns=30, devices_min=0, devices_max=40, seed=21, evolve=EvolveOptions(seed=6, share=0.3)
)
STUCK_PHASES = {"pending", "unknown"}


def statuses_on(catalog, day):
    """{(account, upgrade id): {device id: status}} as the simulator serves on `day`."""
    served = {}
    for account, upgrade_id in catalog.ids():
        campaign = catalog.campaign_on(account, upgrade_id, day)
        devices = [] if campaign is None else campaign.device_list
        served[account, upgrade_id] = {d.device_id: d.status for d in devices}
    return served


def truth(catalog, polled_at):
    """Each stuck device after night 2: (status_since, account, upgrade id, device id).

    A device's status is dated from the first night of its unbroken stretch in it, at that
    night's poll of its campaign: never before the first night fota-poller saw it.
    """
    phases = PhaseTable()
    nights = [statuses_on(catalog, day) for day in range(3)]
    stuck = []
    for campaign, devices in nights[2].items():
        for device_id, status in devices.items():
            if phases.phase(status) not in STUCK_PHASES:
                continue
            first = 2
            while first > 0 and nights[first - 1][campaign].get(device_id) == status:
                first -= 1
            stuck.append((polled_at[first][campaign], *campaign, device_id))
    return sorted(stuck)


def most_stuck(devices):
    """The campaigns most stuck first: count, then the oldest status time, account, upgrade."""
    campaigns = {}
    for since, account, upgrade, _ in devices:
        count, oldest = campaigns.get((account, upgrade), (0, since))
        campaigns[account, upgrade] = (count + 1, min(oldest, since))
    ranked = sorted(campaigns.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))
    return [(account, upgrade, count) for (account, upgrade), (count, _) in ranked]


async def test_stuck_by_campaign_lists_the_five_campaigns_with_most_stuck_devices(tmp_path):
    ids, state = tmp_path / "ids.txt", tmp_path / "state.db"
    polled_at = []
    async with run_simulator(OPTIONS) as sim:
        sim.catalog.write_ids(ids)
        for night in range(3):
            if night:
                sim.catalog.advance_day()
            output = tmp_path / f"night{night}.jsonl"
            done = await poll_cli(
                sim, ids, "--state", str(state), "--output", str(output), "--rate", "0",
                env=token_environ(sim.options),
            )  # fmt: skip
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            polled_at.append({
                (r.account_name, r.upgrade_id): r.polled_at
                for r in read_records(output.read_bytes())
                if isinstance(r, CampaignRecord)
            })  # fmt: skip
        expected = truth(sim.catalog, polled_at)

    ask = ["state", "stuck", "--state", str(state), "--stuck-after", "0s", "--format", "json"]
    by_campaign = run_cli([*ask, "--by", "campaign", "--limit", "5"])
    devices = run_cli([*ask, "--limit", "5"])

    assert by_campaign.returncode == devices.returncode == 0
    listed = [json.loads(line) for line in by_campaign.stdout.splitlines()]
    ranked = most_stuck(expected)
    assert [(c["account_name"], c["upgrade_id"], c["stuck"]) for c in listed] == ranked[:5]
    assert ranked[4][2] > 0  # five campaigns with stuck devices: the test is not vacuous
    # Stuck since night 0 and since night 2 both: the order by time is not trivially one.
    moments = {since for since, *_ in expected}
    assert moments & set(polled_at[0].values())
    assert moments & set(polled_at[2].values())
    longest = [json.loads(line) for line in devices.stdout.splitlines()]
    assert [
        (d["status_since"], d["account_name"], d["upgrade_id"], d["device_id"]) for d in longest
    ] == expected[:5]
    # "Stuck since" is never before the first night the device was seen.
    assert all(d["status_since"] >= d["first_seen"] for d in longest)
