"""The account device list the simulator serves: every device's model and installed firmware.

Built per account from the catalogue (on its current day) the first time it is asked for, and
kept as sorted columns (an IMEI array, small codes, upgrade times in milliseconds), so that a
1,000,000-device account costs tens of MB, not a million objects. Each device's draws come from
a hash of (seed, IMEI), so a device keeps its model and its late-success draw from day to day.

The truth of a campaign device, from the campaign that lists it (the one with the latest start
date, then the latest index, when several do):

- status `UpgradeSuccess`: the campaign's `firmwareTo`, upgraded within the campaign's dates;
- otherwise, in a campaign whose end date has passed, a share of `late_share` (plus
  `evolve.share` for each day past day 0): `firmwareTo`, upgraded after the end date;
- otherwise the campaign's `firmwareFrom` (one version below) and never upgraded (1900).

A device's model is drawn given its day-0 status: one model (`FAILING_MODEL`) carries far more
of the failures. `extra_devices` more devices per account are in no campaign.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import random
from array import array
from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from fota_poller.simulator.catalog import Catalog, SimulatedCampaign

# (model, make): a small fleet. Model-C fails far more often than the others.
MODELS: Final = (
    ("Model-A", "Acme"),
    ("Model-B", "Acme"),
    ("Model-C", "Borealis"),
    ("Model-D", "Cirrus"),
)
FAILING_MODEL: Final = "Model-C"
_MODEL_SHARES: Final = (40, 30, 20, 10)
# How much more likely a failure is on each model: P(model | failed) ~ share * factor.
_FAILURE_FACTORS: Final = (0.15, 0.15, 0.6, 0.15)
SUCCESS_STATUSES: Final = frozenset({"UpgradeSuccess"})
FAILURE_STATUSES: Final = frozenset({"UpgradeFailed", "Device Rejected", "LicenseRemoveFailed"})
_NOT_ELIGIBLE_REASON: Final = "Device not eligible for upgrade"
_NOT_ELIGIBLE_SHARE: Final = 0.01
_NO_LICENSE_SHARE: Final = 0.03
FIRMWARE_PREFIX: Final = "VerizonFirmwareVersion-"
NEVER: Final = -1  # the upgrade time of a device never upgraded
NEVER_TEXT: Final = "01/01/1900 0:0:0"  # how the device list writes it
_DAY_MS: Final = 86_400_000
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EXTRA_TAC_PREFIX: Final = "86"  # campaign IMEIs start with 35: no collision
_SERIALS_PER_TAC: Final = 1_000_000
_EXTRA_PER_TAC: Final = 500_000

_FLAG_ELIGIBLE: Final = 1
_FLAG_LICENSE: Final = 2
_Row = tuple[int, int, int, int, int]  # model, firmware, upgraded_ms, flags, mdn

# Ways the device list can misbehave, for the poller's worst nights (inventory_pages.py):
QUIRKS: Final = (
    "stuck",
    "backwards",
    "null_last",
    "string_last",
    "empty_last",
    "duplicate",
    "foreign",
)


class InventoryOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The device list: late successes, devices in no campaign, paging, and a misbehaviour."""

    late_share: float = 0.05  # of the not-succeeded devices of ended campaigns
    extra_devices: int = 25  # per account, in no campaign
    page_size: int = 1000
    quirk: str | None = None  # one of inventory_pages.QUIRKS, or None to answer as documented


def validate_inventory(options: InventoryOptions) -> None:
    """Raise ValueError for a share outside [0, 1], a negative count, a page under 1, a quirk."""
    if not 0 <= options.late_share <= 1:
        raise ValueError(f"the late share must be within 0-1, got {options.late_share}")
    if options.extra_devices < 0:
        raise ValueError(f"extra devices must not be negative, got {options.extra_devices}")
    if options.page_size < 1:
        raise ValueError(f"the inventory page size must be at least 1, got {options.page_size}")
    if options.quirk is not None and options.quirk not in QUIRKS:
        raise ValueError(f"unknown inventory quirk {options.quirk!r}; known: {', '.join(QUIRKS)}")


class InventoryTruth(msgspec.Struct, frozen=True):
    """What the device list says of one device; upgrade_time None is the 1900 "never"."""

    model: str
    make: str
    firmware: str
    upgrade_time: dt.datetime | None
    fota_eligible: bool
    license_assigned: bool


class CampaignDeviceTruth(msgspec.Struct, frozen=True):
    """One device of a campaign: its status there and whether its firmware is the target.

    `late` is on target without a succeeded status (the late success the poller must find).
    """

    status: str
    firmware_to: str
    reported_firmware: str
    on_target: bool
    late: bool


class InventoryTable:
    """One account's devices sorted by IMEI, as columns; built by `build_table`."""

    def __init__(self) -> None:
        self.imeis = array("q")
        self.models = bytearray()
        self.firmware = array("H")  # the version number after FIRMWARE_PREFIX
        self.upgraded_ms = array("q")  # ms since the epoch, or NEVER
        self.flags = bytearray()
        self.mdns = array("q")

    def __len__(self) -> int:
        return len(self.imeis)

    def append(self, imei: int, row: _Row) -> None:
        """Add a device after every one already held (IMEIs must come in order)."""
        model, firmware, upgraded, flags, mdn = row
        self.imeis.append(imei)
        self.models.append(model)
        self.firmware.append(firmware)
        self.upgraded_ms.append(upgraded)
        self.flags.append(flags)
        self.mdns.append(mdn)

    def position(self, imei: str) -> int | None:
        """Where imei is in the table, or None when the account has no such device."""
        key = int(imei)
        at = bisect.bisect_left(self.imeis, key)
        return at if at < len(self.imeis) and self.imeis[at] == key else None

    def truth_flags(self, at: int) -> tuple[bool, bool]:
        """(fotaEligible, licenseAssigned) of the device at position `at`."""
        flags = self.flags[at]
        return bool(flags & _FLAG_ELIGIBLE), bool(flags & _FLAG_LICENSE)

    def truth(self, at: int) -> InventoryTruth:
        """The device at position `at`."""
        model, make = MODELS[self.models[at]]
        upgraded = self.upgraded_ms[at]
        return InventoryTruth(
            model=model,
            make=make,
            firmware=firmware_name(self.firmware[at]),
            upgrade_time=None
            if upgraded == NEVER
            else _EPOCH + dt.timedelta(milliseconds=upgraded),
            fota_eligible=bool(self.flags[at] & _FLAG_ELIGIBLE),
            license_assigned=bool(self.flags[at] & _FLAG_LICENSE),
        )


def firmware_name(version: int) -> str:
    """`VerizonFirmwareVersion-02` for 2: how the campaigns name firmware."""
    return f"{FIRMWARE_PREFIX}{version:02d}"


def upgrade_time_text(upgraded_ms: int | None) -> str:
    """`2021-06-03 00:03:56.079 +0000 UTC`, or the 1900 value for None or NEVER."""
    if upgraded_ms is None or upgraded_ms == NEVER:
        return NEVER_TEXT
    moment = _EPOCH + dt.timedelta(milliseconds=upgraded_ms)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{upgraded_ms % 1000:03d} +0000 UTC"


def late_threshold(options: InventoryOptions, evolve_share: float | None, day: int) -> float:
    """The share of eligible devices that are late successes on `day`: it grows with evolve."""
    return min(1.0, options.late_share + (evolve_share or 0.0) * day)


def campaign_truth(
    table: InventoryTable, campaign: SimulatedCampaign
) -> dict[str, CampaignDeviceTruth]:
    """Each device of `campaign`, judged against the device list `table`."""
    truths = {}
    for device in campaign.device_list:
        at = table.position(device.device_id)
        reported = "" if at is None else firmware_name(table.firmware[at])
        on_target = reported == campaign.firmware_to
        truths[device.device_id] = CampaignDeviceTruth(
            status=device.status,
            firmware_to=campaign.firmware_to,
            reported_firmware=reported,
            on_target=on_target,
            late=on_target and device.status not in SUCCESS_STATUSES,
        )
    return truths


def build_table(
    catalog: Catalog, account: str, options: InventoryOptions, day: int
) -> InventoryTable:
    """The device list of `account` on `day`: its campaigns' devices and its extra devices."""
    evolve = catalog.options.evolve
    threshold = late_threshold(options, None if evolve is None else evolve.share, day)
    rows: dict[int, _Row] = {}
    for campaign, first_statuses in _latest_campaigns_last(catalog, account, day):
        _campaign_rows(rows, campaign, first_statuses, catalog, threshold)
    table = InventoryTable()
    for imei in sorted(rows):
        table.append(imei, rows[imei])
    # Extra IMEIs start with 86, every campaign's with 35: appended in order, they stay sorted.
    _extra_rows(table, catalog.options.seed, account, options.extra_devices, catalog.today)
    return table


def _latest_campaigns_last(
    catalog: Catalog, account: str, day: int
) -> list[tuple[SimulatedCampaign, dict[str, str]]]:
    """The account's campaigns on `day`, each with its day-0 statuses, oldest start first.

    Later campaigns overwrite earlier ones' rows: a device in several reports the latest's truth.
    """
    listed = []
    for index, (owner, upgrade_id) in enumerate(catalog.ids()):
        if owner != account:
            continue
        campaign = catalog.campaign_on(account, upgrade_id, day)
        first = campaign if day == 0 else catalog.campaign_on(account, upgrade_id, 0)
        if campaign is None or first is None:  # pragma: no cover - ids() lists served ones
            continue
        statuses = {device.device_id: device.status for device in first.device_list}
        listed.append((campaign.start_date, index, campaign, statuses))
    listed.sort(key=lambda entry: (entry[0], entry[1]))
    return [(campaign, statuses) for _, _, campaign, statuses in listed]


def _campaign_rows(
    rows: dict[int, _Row],
    campaign: SimulatedCampaign,
    first_statuses: dict[str, str],
    catalog: Catalog,
    late_share: float,
) -> None:
    target = int(campaign.firmware_to.rsplit("-", 1)[1])
    start = _day_ms(dt.date.fromisoformat(campaign.start_date))
    today = _day_ms(catalog.today)
    end = None if campaign.end_date is None else _day_ms(dt.date.fromisoformat(campaign.end_date))
    # Successes upgrade between the start and the end (or today); late ones after the end.
    success_until = max(start + _DAY_MS, today if end is None else min(today, end + _DAY_MS))
    for device in campaign.device_list:
        draws = _draws(catalog.options.seed, device.device_id)
        first = first_statuses.get(device.device_id)
        model = _model(draws[0], failed=None if first is None else first in FAILURE_STATUSES)
        firmware, upgraded = target - 1, NEVER
        if device.status in SUCCESS_STATUSES:
            firmware, upgraded = target, _between(start, success_until, draws[2])
        elif end is not None and end < today and draws[1] < late_share:
            after = end + _DAY_MS
            firmware, upgraded = target, _between(after, max(today, after + _DAY_MS), draws[2])
        eligible = draws[3] >= _NOT_ELIGIBLE_SHARE and device.result_reason != _NOT_ELIGIBLE_REASON
        rows[int(device.device_id)] = (
            model,
            firmware,
            upgraded,
            _flags(eligible=eligible, license_draw=draws[4]),
            _mdn(draws[5]),
        )


def _extra_rows(table: InventoryTable, seed: int, account: str, count: int, today: dt.date) -> None:
    """`count` devices in no campaign, in IMEI order: any firmware, half upgraded within a year."""
    # The catalogue's Luhn sums of a serial's halves; imported here, the catalogue imports us.
    from fota_poller.simulator.catalog import (  # noqa: PLC0415
        SERIAL_HIGH_SUM,
        SERIAL_LOW_SUM,
        tac_luhn_sum,
    )

    rng = random.Random(f"{seed}:inventory:{account}")  # noqa: S311 - synthetic data
    now = _day_ms(today)
    tacs: set[int] = set()
    while len(tacs) * _EXTRA_PER_TAC < count:
        tacs.add(rng.randrange(1_000_000))
    left = count
    for tac_number in sorted(tacs):
        tac = f"{_EXTRA_TAC_PREFIX}{tac_number:06d}"
        tac_sum = tac_luhn_sum(tac)
        base = int(tac) * 10_000_000
        taken = min(left, _EXTRA_PER_TAC)
        for serial in sorted(rng.sample(range(_SERIALS_PER_TAC), taken)):
            high, low = divmod(serial, 1000)
            check = -(tac_sum + SERIAL_HIGH_SUM[high] + SERIAL_LOW_SUM[low]) % 10
            bits = rng.getrandbits(64)
            upgraded = NEVER if bits & 1 else now - (bits >> 1) % (365 * _DAY_MS)
            table.append(
                base + serial * 10 + check,
                (
                    _model((bits >> 20 & 0xFFFF) / 65536, failed=None),
                    1 + (bits >> 40) % 30,
                    upgraded,
                    _flags(
                        eligible=(bits >> 50 & 0xFF) / 256 >= _NOT_ELIGIBLE_SHARE,
                        license_draw=(bits >> 58) / 64,
                    ),
                    _mdn((bits >> 4 & 0xFFFF) / 65536),
                ),
            )
        left -= taken


def _draws(seed: int, imei: str) -> tuple[float, ...]:
    """Six uniform draws in [0, 1) for one device, the same whatever the day or campaign."""
    digest = hashlib.blake2b(f"{seed}:{imei}".encode(), digest_size=12).digest()
    return tuple(int.from_bytes(digest[at : at + 2], "big") / 65536 for at in range(0, 12, 2))


def _model(draw: float, *, failed: bool | None) -> int:
    """A model index: from the shares alone (failed None), or given the day-0 outcome."""
    weights = [
        share if failed is None else share * (factor if failed else 1 - factor)
        for share, factor in zip(_MODEL_SHARES, _FAILURE_FACTORS, strict=True)
    ]
    point = draw * sum(weights)
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    return len(weights) - 1


def _flags(*, eligible: bool, license_draw: float) -> int:
    return (_FLAG_ELIGIBLE if eligible else 0) | (
        _FLAG_LICENSE if license_draw >= _NO_LICENSE_SHARE else 0
    )


def _mdn(draw: float) -> int:
    return 5_550_000_000 + int(draw * 10_000_000)


def _between(begin_ms: int, end_ms: int, draw: float) -> int:
    return begin_ms + int(draw * (end_ms - begin_ms))


def _day_ms(day: dt.date) -> int:
    return (day - _EPOCH.date()).days * _DAY_MS
