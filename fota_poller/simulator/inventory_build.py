"""How the device list is drawn from the catalogue: models, firmware, late successes, extras.

The truth of a campaign device, from the campaign that lists it (the one with the latest start
date, then the latest index, when several do):

- status `UpgradeSuccess`: the campaign's `firmwareTo`, upgraded within the campaign's dates;
- otherwise, in a campaign whose end date has passed, a share of `late_share` (plus
  `evolve.share` for each day past day 0): `firmwareTo`, upgraded after the end date;
- otherwise the campaign's `firmwareFrom` (one version below) and never upgraded (1900).

A device's model is drawn given its day-0 status: one model (`FAILING_MODEL`) carries far more
of the failures; the statuses themselves are the catalogue's, unchanged. Each device's draws
come from a hash of (seed, IMEI), so a device keeps its model and its late-success draw from
day to day. `extra_devices` more devices per account are in no campaign.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import random
import struct
from typing import TYPE_CHECKING, Final

from fota_poller.simulator.catalog import SERIAL_HIGH_SUM, SERIAL_LOW_SUM, tac_luhn_sum
from fota_poller.simulator.inventory import (
    FAILURE_STATUSES,
    FLAG_ELIGIBLE,
    FLAG_LICENSE,
    NEVER,
    SUCCESS_STATUSES,
    CampaignDeviceTruth,
    InventoryOptions,
    InventoryTable,
    Row,
    firmware_name,
)

if TYPE_CHECKING:
    from fota_poller.simulator.catalog import Catalog, SimulatedCampaign

_MODEL_SHARES: Final = (40, 30, 20, 10)  # of MODELS, in order
# How much more likely a failure is on each model: P(model | failed) ~ share * factor.
_FAILURE_FACTORS: Final = (0.15, 0.15, 0.6, 0.15)
_SIX_SHORTS: Final = struct.Struct(">6H")
_NOT_ELIGIBLE_REASON: Final = "Device not eligible for upgrade"
_NOT_ELIGIBLE_SHARE: Final = 0.01
_NO_LICENSE_SHARE: Final = 0.03
_DAY_MS: Final = 86_400_000
_EPOCH_DAY: Final = dt.date(1970, 1, 1)
_EXTRA_TAC_PREFIX: Final = "86"  # campaign IMEIs start with 35: no collision
_SERIALS_PER_TAC: Final = 1_000_000
_EXTRA_PER_TAC: Final = 500_000


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


def late_threshold(options: InventoryOptions, evolve_share: float | None, day: int) -> float:
    """The share of eligible devices that are late successes on `day`: it grows with evolve."""
    return min(1.0, options.late_share + (evolve_share or 0.0) * day)


def build_table(
    catalog: Catalog, account: str, options: InventoryOptions, day: int
) -> InventoryTable:
    """The device list of `account` on `day`: its campaigns' devices and its extra devices."""
    evolve = catalog.options.evolve
    threshold = late_threshold(options, None if evolve is None else evolve.share, day)
    rows: dict[int, Row] = {}
    for campaign, first in _latest_campaigns_last(catalog, account, day):
        _campaign_rows(rows, campaign, first, catalog, threshold)
    table = InventoryTable()
    for imei in sorted(rows):
        table.append(imei, rows[imei])
    # Extra IMEIs start with 86, every campaign's with 35: appended in order, they stay sorted.
    _extra_rows(table, catalog.options.seed, account, options.extra_devices, catalog.today)
    return table


def _latest_campaigns_last(
    catalog: Catalog, account: str, day: int
) -> list[tuple[SimulatedCampaign, SimulatedCampaign]]:
    """The account's campaigns on `day`, each with itself on day 0, oldest start first.

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
        listed.append((campaign.start_date, index, campaign, first))
    listed.sort(key=lambda entry: (entry[0], entry[1]))
    return [(campaign, first) for _, _, campaign, first in listed]


def _campaign_rows(
    rows: dict[int, Row],
    campaign: SimulatedCampaign,
    first: SimulatedCampaign,
    catalog: Catalog,
    late_share: float,
) -> None:
    """The rows of one campaign's devices on its day; `first` is the campaign on day 0.

    A device evolve has dropped from the campaign is still in the account: it keeps a row.
    """
    first_statuses = {device.device_id: device.status for device in first.device_list}
    dropped = first_statuses.keys() - {device.device_id for device in campaign.device_list}
    target = int(campaign.firmware_to.rsplit("-", 1)[1])
    start = _day_ms(dt.date.fromisoformat(campaign.start_date))
    today = _day_ms(catalog.today)
    end = None if campaign.end_date is None else _day_ms(dt.date.fromisoformat(campaign.end_date))
    # Successes upgrade between the start and the end (or today); late ones after the end.
    success_until = max(start + _DAY_MS, today if end is None else min(today, end + _DAY_MS))
    devices = [device for device in first.device_list if device.device_id in dropped]
    for device in [*devices, *campaign.device_list]:
        draws = _draws(catalog.options.seed, device.device_id)
        first_status = first_statuses.get(device.device_id)
        failed = None if first_status is None else first_status in FAILURE_STATUSES
        model = _model(draws[0], failed=failed)
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
    return tuple(value / 65536 for value in _SIX_SHORTS.unpack(digest))


def _model_bounds(failed: bool | None) -> tuple[float, ...]:
    """The cumulative shares of the models, from the shares alone or given the outcome."""
    weights = [
        share if failed is None else share * (factor if failed else 1 - factor)
        for share, factor in zip(_MODEL_SHARES, _FAILURE_FACTORS, strict=True)
    ]
    return tuple(itertools.accumulate(weight / sum(weights) for weight in weights))


# Built once: the model draw runs for every device of every campaign.
_MODEL_BOUNDS: Final = {failed: _model_bounds(failed) for failed in (None, True, False)}


def _model(draw: float, *, failed: bool | None) -> int:
    """A model index: from the shares alone (failed None), or given the day-0 outcome."""
    bounds = _MODEL_BOUNDS[failed]
    return min(bisect.bisect_right(bounds, draw), len(bounds) - 1)


def _flags(*, eligible: bool, license_draw: float) -> int:
    return (FLAG_ELIGIBLE if eligible else 0) | (
        FLAG_LICENSE if license_draw >= _NO_LICENSE_SHARE else 0
    )


def _mdn(draw: float) -> int:
    return 5_550_000_000 + int(draw * 10_000_000)


def _between(begin_ms: int, end_ms: int, draw: float) -> int:
    return begin_ms + int(draw * (end_ms - begin_ms))


def _day_ms(day: dt.date) -> int:
    return (day - _EPOCH_DAY).days * _DAY_MS
