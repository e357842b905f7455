"""The synthetic FOTA campaigns the simulator serves, generated lazily from a seed."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import TYPE_CHECKING, Final

import msgspec

from fota_poller.simulator.auth_routes import SimulatorAuthOptions
from fota_poller.simulator.body_cache import BodyCache
from fota_poller.simulator.evolve import EvolveOptions, evolve_devices, validate_evolve
from fota_poller.simulator.faults import FaultOptions
from fota_poller.simulator.inventory import InventoryOptions, validate_inventory

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CAMPAIGN_STATUSES: Final = (
    "RequestPending",
    "Queued",
    "InProgress",
    "Finished",
    "RequestFailed",
    "UpgradeFailed",
)
_CAMPAIGN_STATUS_WEIGHTS: Final = (10, 25, 30, 25, 5, 5)

# Both spellings of the pending status appear in the docs, so both are served.
PENDING_DEVICE_STATUSES: Final = frozenset({"RequestPending", "Request Pending"})

# Device status -> the reasons it may carry; an empty tuple means no resultReason.
_DEVICE_REASONS: Final[dict[str, tuple[str, ...]]] = {
    "Device Accepted": ("success",),
    "Device Rejected": (
        "Device not found",
        "Invalid IMEI",
        "Device not eligible for upgrade",
        "Upgrade already scheduled",
    ),
    "LicenseRemoveFailed": ("License removal failed",),
    "RequestPending": (),
    "Request Pending": (),
    "UpgradeSuccess": ("success",),
    "UpgradeFailed": ("Device did not respond", "Firmware download failed"),
}
_DEVICE_STATUSES: Final = tuple(_DEVICE_REASONS)
_DEVICE_STATUS_WEIGHTS: Final = (30, 8, 2, 15, 5, 30, 10)

_PAST_END_SHARE: Final = 0.25
_NO_END_SHARE: Final = 0.04

# Luhn contributions of the serial's two halves (IMEI digits 9-11 and 12-14),
# precomputed so a 100,000-device campaign costs two lookups per check digit.
_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
SERIAL_HIGH_SUM: Final = tuple(n // 100 + _DOUBLED[n // 10 % 10] + n % 10 for n in range(1000))
SERIAL_LOW_SUM: Final = tuple(
    _DOUBLED[n // 100] + n // 10 % 10 + _DOUBLED[n % 10] for n in range(1000)
)
_SERIALS_PER_TAC: Final = 1_000_000

_DEFAULT_BODY_CACHE_BYTES: Final = 64 * 1024 * 1024
_DEFAULT_BODY_CACHE_ENTRIES: Final = 4096


class SimulatorOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How many campaigns to simulate, how big, for which accounts, and which tokens to accept."""

    campaigns: int = 300
    devices_min: int = 1
    devices_max: int = 2000
    accounts: tuple[str, ...] = ("0000123456-00001",)
    seed: int = 1
    latency_ms: float = 0.0
    report_page_size: int = 50  # upgrades per page of the by-status report
    bearer_token: str = "sim-bearer-token"  # noqa: S105 - a simulator's token, not a secret
    session_token: str = "sim-session-token"  # noqa: S105 - same as bearer_token
    auth: SimulatorAuthOptions = SimulatorAuthOptions()
    faults: FaultOptions = FaultOptions()
    evolve: EvolveOptions | None = None  # None: every day is day 0, statuses never move
    day: int = 0  # the day the catalogue starts on (more than 0 only with evolve)
    inventory: InventoryOptions = InventoryOptions()  # the account device list (inventory.py)


class SimulatedDevice(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """One entry of a campaign's deviceList; resultReason is omitted while pending."""

    device_id: str
    status: str
    result_reason: str | None = None


class SimulatedCampaign(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """A campaign as GET /upgrades/{accountName}/upgrade/{upgradeId} returns it."""

    id: str
    account_name: str
    firmware_name: str
    firmware_to: str
    start_date: str
    status: str
    device_list: list[SimulatedDevice]
    end_date: str | None = None


class Catalog:
    """Every campaign of one simulator, each generated on demand from (seed, index).

    Only the ids are held for all campaigns; campaigns are rebuilt when asked
    for, and rendered bodies live in a bounded cache. With `options.evolve`, the
    catalogue serves its current `day`, which `advance_day` moves on (evolve.py).
    """

    def __init__(
        self,
        options: SimulatorOptions,
        *,
        today: dt.date | None = None,
        body_cache_bytes: int = _DEFAULT_BODY_CACHE_BYTES,
        body_cache_entries: int = _DEFAULT_BODY_CACHE_ENTRIES,
    ) -> None:
        validate_options(options)
        self.options = options
        # Fixed at construction so a campaign's dates never change while serving.
        self.today = today or dt.datetime.now(dt.UTC).date()
        self._ids = [_upgrade_id(_campaign_rng(options.seed, i)) for i in range(options.campaigns)]
        self._index_by_id = {upgrade_id: index for index, upgrade_id in enumerate(self._ids)}
        self._accounts = frozenset(options.accounts)
        self._cache_bounds = (body_cache_bytes, body_cache_entries)
        self._bodies = BodyCache(max_bytes=body_cache_bytes, max_entries=body_cache_entries)
        self._day = options.day
        self._encoder = msgspec.json.Encoder()

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def day(self) -> int:
        """The day the catalogue serves: 0 is the catalogue as generated."""
        return self._day

    def advance_day(self) -> int:
        """Move to the next day and return it; ValueError if the catalogue does not evolve."""
        if self.options.evolve is None:
            raise ValueError("the catalogue does not evolve: no evolve options")
        self._day += 1
        # Every cached body is yesterday's.
        max_bytes, max_entries = self._cache_bounds
        self._bodies = BodyCache(max_bytes=max_bytes, max_entries=max_entries)
        return self._day

    def has_account(self, account: str) -> bool:
        """Tell whether account is one the catalog serves campaigns for."""
        return account in self._accounts

    def ids(self) -> Iterator[tuple[str, str]]:
        """Yield (account, upgrade_id) for every campaign, in index order."""
        for index, upgrade_id in enumerate(self._ids):
            yield self._account_of(index), upgrade_id

    def campaign(self, account: str, upgrade_id: str) -> SimulatedCampaign | None:
        """Build the campaign with this id under this account, or None if there is none."""
        return self.campaign_on(account, upgrade_id, self._day)

    def campaign_on(self, account: str, upgrade_id: str, day: int) -> SimulatedCampaign | None:
        """The campaign as it is (or was, or will be) on `day`, or None if there is none."""
        if day < 0:
            raise ValueError(f"days start at 0, got {day}")
        if day > 0 and self.options.evolve is None:
            raise ValueError(f"no day {day} in a catalogue that does not evolve")
        index = self._index_of(account, upgrade_id)
        return None if index is None else self._generate(index, day)

    def body(self, account: str, upgrade_id: str) -> bytes | None:
        """Return the JSON body served for this campaign, or None if there is none."""
        index = self._index_of(account, upgrade_id)
        if index is None:
            return None
        body = self._bodies.get(index)
        if body is None:
            body = self._encoder.encode(self._generate(index, self._day))
            self._bodies.put(index, body)
        return body

    def write_ids(self, path: Path) -> None:
        """Write one `account,upgradeId` line per campaign, no header, in index order."""
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for account, upgrade_id in self.ids():
                out.write(f"{account},{upgrade_id}\n")

    def _account_of(self, index: int) -> str:
        return self.options.accounts[index % len(self.options.accounts)]

    def _index_of(self, account: str, upgrade_id: str) -> int | None:
        index = self._index_by_id.get(upgrade_id)
        if index is None or self._account_of(index) != account:
            return None
        return index

    def _generate(self, index: int, day: int) -> SimulatedCampaign:
        rng = _campaign_rng(self.options.seed, index)
        upgrade_id = _upgrade_id(rng)
        model = rng.choice("ABCDEFGH")
        from_version = rng.randint(1, 30)
        versions = f"{from_version:02d}To{from_version + 1:02d}"
        start_date, end_date = _campaign_dates(rng, self.today)
        status = rng.choices(CAMPAIGN_STATUSES, _CAMPAIGN_STATUS_WEIGHTS)[0]
        device_count = rng.randint(self.options.devices_min, self.options.devices_max)
        devices = _devices(rng, device_count)
        if day > 0 and self.options.evolve is not None:
            frozen = dict(self.options.evolve.frozen).get(upgrade_id)
            devices = evolve_devices(
                devices,
                options=self.options.evolve,
                index=index,
                day=day if frozen is None else min(day, frozen),
                reasons=_DEVICE_REASONS,
                make=SimulatedDevice,
            )
        return SimulatedCampaign(
            id=upgrade_id,
            account_name=self._account_of(index),
            firmware_name=f"FOTA_Verizon_Model-{model}_{versions}_HF",
            firmware_to=f"VerizonFirmwareVersion-{from_version + 1:02d}",
            start_date=start_date.isoformat(),
            end_date=None if end_date is None else end_date.isoformat(),
            status=status,
            device_list=devices,
        )


def validate_options(options: SimulatorOptions) -> None:
    """Raise ValueError naming the first option out of range."""
    if options.campaigns < 0:
        raise ValueError(f"campaigns must not be negative, got {options.campaigns}")
    if not 0 <= options.devices_min <= options.devices_max:
        raise ValueError(
            f"need 0 <= devices_min <= devices_max, got {options.devices_min}"
            f" and {options.devices_max}"
        )
    if not options.accounts:
        raise ValueError("at least one account is needed")
    if options.evolve is not None:
        validate_evolve(options.evolve)
    validate_inventory(options.inventory)
    if options.day < 0 or (options.day > 0 and options.evolve is None):
        raise ValueError(f"day must be 0, or any day >= 0 with evolve; got {options.day}")


def _campaign_rng(seed: int, index: int) -> random.Random:
    # Seeding per campaign lets any campaign be rebuilt without the others.
    return random.Random(f"{seed}:{index}")  # noqa: S311 - synthetic data, not security


def _upgrade_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _campaign_dates(rng: random.Random, today: dt.date) -> tuple[dt.date, dt.date | None]:
    draw = rng.random()
    if draw < _PAST_END_SHARE:
        end = today - dt.timedelta(days=rng.randint(1, 150))
        return end - dt.timedelta(days=rng.randint(1, 30)), end
    start = today - dt.timedelta(days=rng.randint(0, 60))
    if draw < _PAST_END_SHARE + _NO_END_SHARE:
        return start, None
    return start, today + dt.timedelta(days=rng.randint(1, 90))


def tac_luhn_sum(tac: str) -> int:
    """The Luhn contribution of an IMEI's 8-digit type allocation code (its first digits)."""
    return sum(_DOUBLED[int(digit)] if at % 2 else int(digit) for at, digit in enumerate(tac))


def _devices(rng: random.Random, count: int) -> list[SimulatedDevice]:
    # One type allocation code per campaign and distinct serials keep IMEIs unique.
    tac = f"35{rng.randrange(1_000_000):06d}"
    tac_sum = tac_luhn_sum(tac)
    serials = rng.sample(range(_SERIALS_PER_TAC), count)
    statuses = rng.choices(_DEVICE_STATUSES, _DEVICE_STATUS_WEIGHTS, k=count)
    devices = []
    for serial, status in zip(serials, statuses, strict=True):
        high, low = divmod(serial, 1000)
        check = -(tac_sum + SERIAL_HIGH_SUM[high] + SERIAL_LOW_SUM[low]) % 10
        reasons = _DEVICE_REASONS[status]
        devices.append(
            SimulatedDevice(
                device_id=f"{tac}{serial:06d}{check}",
                status=status,
                result_reason=rng.choice(reasons) if reasons else None,
            )
        )
    return devices
