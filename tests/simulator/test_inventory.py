"""The account device list as drawn from the catalogue: firmware, late successes, models, truth."""

import datetime as dt
import re
from collections import Counter

import msgspec
import pytest

from fota_poller.simulator import (
    Catalog,
    DeviceInventory,
    EvolveOptions,
    InventoryOptions,
    SimulatorOptions,
)
from fota_poller.simulator.inventory import (
    FAILING_MODEL,
    FAILURE_STATUSES,
    MODELS,
    NEVER_TEXT,
    SUCCESS_STATUSES,
    upgrade_time_text,
)

TODAY = dt.date(2026, 1, 15)
SMALL = SimulatorOptions(campaigns=40, devices_min=1, devices_max=60)
# Enough devices for shares: about 30,000 in 120 campaigns, about 30 of which have ended.
BIG = SimulatorOptions(campaigns=120, devices_min=150, devices_max=350)
GO_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+0000 UTC")


def inventory_of(options, today=TODAY):
    return DeviceInventory(Catalog(options, today=today))


def campaign_devices(inventory, day=None):
    """(campaign, device, the device's truth in the list, its campaign truth) for every device."""
    catalog = inventory.catalog
    on_day = catalog.day if day is None else day
    truths = {account: inventory.truth(account, day) for account in catalog.options.accounts}
    for account, upgrade_id in catalog.ids():
        truth = truths[account]
        campaign = catalog.campaign_on(account, upgrade_id, on_day)
        judged = inventory.campaign_truth(account, upgrade_id, day)
        for device in campaign.device_list:
            yield campaign, device, truth[device.device_id], judged[device.device_id]


def ended(campaign):
    return campaign.end_date is not None and dt.date.fromisoformat(campaign.end_date) < TODAY


def start_of(day_text):
    return dt.datetime.fromisoformat(day_text).replace(tzinfo=dt.UTC)


def test_a_succeeded_device_runs_the_target_firmware_upgraded_within_its_campaign():
    succeeded = 0
    for campaign, device, truth, judged in campaign_devices(inventory_of(SMALL)):
        if device.status not in SUCCESS_STATUSES:
            continue
        succeeded += 1
        assert truth.firmware == campaign.firmware_to
        assert judged.on_target
        assert not judged.late
        assert truth.upgrade_time >= start_of(campaign.start_date)
        if campaign.end_date is not None:
            assert truth.upgrade_time < start_of(campaign.end_date) + dt.timedelta(days=1)
    assert succeeded > 50


def test_late_successes_are_about_the_share_asked_and_upgraded_after_the_end_date():
    options = msgspec.structs.replace(BIG, inventory=InventoryOptions(late_share=0.2))
    candidates = late = 0
    for campaign, device, truth, judged in campaign_devices(inventory_of(options)):
        if device.status in SUCCESS_STATUSES:
            continue
        if not ended(campaign):
            # Still reporting daily: nothing runs the target without saying so.
            assert not judged.on_target
            continue
        candidates += 1
        if judged.late:
            late += 1
            assert truth.firmware == campaign.firmware_to
            assert truth.upgrade_time >= start_of(campaign.end_date) + dt.timedelta(days=1)
    assert candidates > 4000
    # A binomial share of 0.2 over more than 4,000 draws: 4 standard deviations are < 0.025.
    assert abs(late / candidates - 0.2) < 0.025, late / candidates


def test_a_device_neither_succeeded_nor_late_runs_the_firmware_before_the_target_never_upgraded():
    others = 0
    for campaign, _device, truth, judged in campaign_devices(inventory_of(SMALL)):
        if judged.on_target:
            continue
        others += 1
        target = int(campaign.firmware_to.rsplit("-", 1)[1])
        assert truth.firmware == f"VerizonFirmwareVersion-{target - 1:02d}"
        assert truth.upgrade_time is None
    assert others > 100


def test_the_same_seed_gives_the_same_device_list_and_another_seed_another():
    account = SMALL.accounts[0]
    first = inventory_of(SMALL).truth(account)

    assert inventory_of(SMALL).truth(account) == first
    assert inventory_of(msgspec.structs.replace(SMALL, seed=2)).truth(account) != first


def test_the_failing_model_fails_far_more_often_than_the_others():
    devices, failed = Counter(), Counter()
    for _campaign, device, truth, _judged in campaign_devices(inventory_of(BIG)):
        devices[truth.model] += 1
        failed[truth.model] += device.status in FAILURE_STATUSES

    shares = {model: failed[model] / devices[model] for model in devices}
    assert set(shares) == {model for model, _ in MODELS}
    others = [share for model, share in shares.items() if model != FAILING_MODEL]
    assert shares[FAILING_MODEL] > 3 * max(others), shares


def test_each_model_has_one_make():
    truth = inventory_of(SMALL).truth(SMALL.accounts[0])

    assert {(device.model, device.make) for device in truth.values()} == set(MODELS)


def test_the_list_has_devices_in_no_campaign_and_a_few_not_eligible():
    options = msgspec.structs.replace(BIG, inventory=InventoryOptions(extra_devices=40))
    inventory = inventory_of(options)
    truth = inventory.truth(options.accounts[0])
    in_campaigns = {device.device_id for _, device, _, _ in campaign_devices(inventory)}

    assert len(truth.keys() - in_campaigns) == 40
    not_eligible = sum(not device.fota_eligible for device in truth.values())
    assert 0 < not_eligible < len(truth) * 0.05


def test_a_device_rejected_as_not_eligible_says_fota_eligible_false():
    rejected = [
        truth
        for _, device, truth, _ in campaign_devices(inventory_of(BIG))
        if device.result_reason == "Device not eligible for upgrade"
    ]

    assert rejected
    assert not any(truth.fota_eligible for truth in rejected)


def test_each_account_lists_its_own_campaigns_devices_only():
    options = msgspec.structs.replace(SMALL, accounts=("0000000001-00001", "0000000002-00001"))
    inventory = inventory_of(options)
    for account, upgrade_id in inventory.catalog.ids():
        other = next(name for name in options.accounts if name != account)
        campaign = inventory.catalog.campaign(account, upgrade_id)
        ids = {device.device_id for device in campaign.device_list}
        assert ids <= inventory.truth(account).keys()
        assert ids.isdisjoint(inventory.truth(other).keys())


class SharedDeviceCatalog(Catalog):
    """A catalogue whose last campaign also lists the first campaign's first device."""

    def campaign_on(self, account, upgrade_id, day):
        campaign = super().campaign_on(account, upgrade_id, day)
        ids = list(self.ids())
        if campaign is None or (account, upgrade_id) != ids[-1]:
            return campaign
        first = super().campaign_on(*ids[0], day)
        shared = msgspec.structs.replace(first.device_list[0], status="UpgradeSuccess")
        return msgspec.structs.replace(campaign, device_list=[*campaign.device_list, shared])


def test_a_device_in_several_campaigns_reports_the_latest_started_campaigns_truth():
    options = SimulatorOptions(campaigns=2, devices_min=3, devices_max=3, seed=4)
    catalog = SharedDeviceCatalog(options, today=TODAY)
    inventory = DeviceInventory(catalog)
    (account, first_id), (_, last_id) = catalog.ids()
    first, last = catalog.campaign(account, first_id), catalog.campaign(account, last_id)
    shared = first.device_list[0].device_id
    # The seed is chosen so that the campaign listed last started later and aims elsewhere.
    assert last.start_date > first.start_date
    assert last.firmware_to != first.firmware_to

    assert inventory.truth(account)[shared].firmware == last.firmware_to
    assert inventory.campaign_truth(account, last_id)[shared].on_target
    assert not inventory.campaign_truth(account, first_id)[shared].on_target


def test_upgrade_times_are_written_in_gos_form_and_never_as_the_1900_value():
    moment = dt.datetime(2021, 6, 3, 0, 3, 56, 79000, tzinfo=dt.UTC)
    milliseconds = int(moment.timestamp() * 1000)

    assert upgrade_time_text(milliseconds) == "2021-06-03 00:03:56.079 +0000 UTC"
    assert GO_TIME.fullmatch(upgrade_time_text(milliseconds))
    assert upgrade_time_text(None) == NEVER_TEXT == "01/01/1900 0:0:0"


def evolving(options, late_share=0.05):
    return msgspec.structs.replace(
        options,
        evolve=EvolveOptions(seed=11, share=0.05),
        inventory=InventoryOptions(late_share=late_share),
    )


def test_evolving_days_turn_more_devices_of_ended_campaigns_into_late_successes():
    inventory = inventory_of(evolving(BIG))
    before = {(c.id, d.device_id): j for c, d, _, j in campaign_devices(inventory, day=0)}
    after = {(c.id, d.device_id): (c, j) for c, d, _, j in campaign_devices(inventory, day=1)}

    appeared = [
        key
        for key, (_, judged) in after.items()
        if judged.late and key in before and not before[key].on_target
    ]
    # About 5% of 6,000 not-succeeded devices of ended campaigns a day.
    assert len(appeared) > 100
    assert all(ended(after[key][0]) for key in appeared)
    # Nothing on target ever goes back.
    assert all(
        after[key][1].on_target for key in before.keys() & after.keys() if before[key].on_target
    )


def test_the_catalogues_day_is_the_device_lists_day():
    inventory = inventory_of(evolving(SMALL))
    account = SMALL.accounts[0]
    day0 = inventory.truth(account)

    inventory.catalog.advance_day()

    assert inventory.truth(account) == inventory.truth(account, day=1)
    assert inventory.truth(account) != day0
    assert inventory.truth(account, day=0) == day0


@pytest.mark.parametrize(
    ("inventory", "message"),
    [
        (InventoryOptions(late_share=1.5), "late share"),
        (InventoryOptions(extra_devices=-1), "extra devices"),
        (InventoryOptions(page_size=0), "page size"),
        (InventoryOptions(quirk="sideways"), "quirk"),
    ],
)
def test_bad_device_list_options_are_refused(inventory, message):
    with pytest.raises(ValueError, match=message):
        Catalog(msgspec.structs.replace(SMALL, inventory=inventory))


def test_campaign_bodies_are_the_same_whatever_the_device_list_options():
    plain = Catalog(SMALL, today=TODAY)
    options = msgspec.structs.replace(
        SMALL, inventory=InventoryOptions(late_share=0.9, extra_devices=500, quirk="stuck")
    )
    listed = Catalog(options, today=TODAY)
    DeviceInventory(listed).truth(SMALL.accounts[0])

    for account, upgrade_id in plain.ids():
        assert listed.body(account, upgrade_id) == plain.body(account, upgrade_id)
