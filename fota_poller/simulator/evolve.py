"""Evolving days: device statuses that advance along ThingSpace's paths from one day to the next.

Day 0 is the catalogue as generated. Each later day starts from the one before it and, per
campaign, moves about `share` of the devices one step along `STATUS_PATHS`, drops about
`share / 10` of them from the deviceList and appends about as many new pending devices. A day
draws from its own `random.Random(f"{evolve_seed}:{index}:{day}")`, so the campaign on day d is
a pure function of the catalogue's seed, the evolve seed, the campaign and d.

This module knows nothing of the catalogue's types (the catalogue imports it): it reads a
device's `device_id` and `status` and builds devices with the catalogue's constructor.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

# Status -> the statuses it may move to, with their weights. Anything absent never moves.
STATUS_PATHS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "RequestPending": (("Device Accepted", 0.85), ("Device Rejected", 0.15)),
    "Request Pending": (("Device Accepted", 0.85), ("Device Rejected", 0.15)),
    "Device Accepted": (("UpgradeSuccess", 0.80), ("UpgradeFailed", 0.20)),
}
# Where a device stays once there; documented in docs/simulator.md.
FINAL_STATUSES: Final = frozenset(
    {"UpgradeSuccess", "UpgradeFailed", "Device Rejected", "LicenseRemoveFailed"}
)
# The status (and spelling) of a device that joins a campaign on a later day.
ADDED_STATUS: Final = "RequestPending"

_STEPS: Final = {
    status: (tuple(to for to, _ in paths), tuple(weight for _, weight in paths))
    for status, paths in STATUS_PATHS.items()
}
_DROP_SHARE_OF_MOVES: Final = 10  # drops and adds each happen at share / 10


class EvolveOptions(msgspec.Struct, frozen=True):
    """How a catalogue's days evolve: the seed of the evolution and the daily share of moves."""

    seed: int
    share: float = 0.02  # fraction of a campaign's devices that move one step a day, expected
    # (upgrade id, day): that campaign stops evolving after the day (a stalled campaign, for
    # tests): every later day serves that day's devices.
    frozen: tuple[tuple[str, int], ...] = ()


def validate_evolve(options: EvolveOptions) -> None:
    """Raise ValueError unless `options.share` is in (0, 1]."""
    if not 0 < options.share <= 1:
        raise ValueError(f"the evolve share must be in (0, 1], got {options.share}")


class _Device(Protocol):
    @property
    def device_id(self) -> str: ...

    @property
    def status(self) -> str: ...


_D = TypeVar("_D", bound=_Device)


def evolve_devices(
    devices: list[_D],
    *,
    options: EvolveOptions,
    index: int,
    day: int,
    reasons: Mapping[str, tuple[str, ...]],
    make: Callable[[str, str, str | None], _D],
) -> list[_D]:
    """The deviceList of campaign `index` on `day`, from its day-0 `devices`.

    `reasons` gives each status the resultReasons a device moving into it may carry (none:
    no resultReason); `make(device_id, status, result_reason)` builds a device.
    """
    # Every id ever listed, so that a dropped device never comes back as an added one.
    seen = {device.device_id for device in devices}
    for current in range(1, day + 1):
        rng = random.Random(f"{options.seed}:{index}:{current}")  # noqa: S311 - synthetic data
        devices = _one_day(devices, rng, share=options.share, reasons=reasons, make=make, seen=seen)
    return devices


def _one_day(
    devices: list[_D],
    rng: random.Random,
    *,
    share: float,
    reasons: Mapping[str, tuple[str, ...]],
    make: Callable[[str, str, str | None], _D],
    seen: set[str],
) -> list[_D]:
    movable = sum(1 for device in devices if device.status in _STEPS)
    # Scaled so that about `share` of all devices move, not `share` of the movable ones.
    move = min(1.0, share * len(devices) / movable) if movable else 0.0
    drop = share / _DROP_SHARE_OF_MOVES
    kept: list[_D] = []
    added = 0
    draw = rng.random
    for device in devices:
        chance = draw()
        if chance < drop:
            continue
        if chance < 2 * drop:
            # The next slice of the same draw counts the day's additions: Binomial(n, share/10).
            added += 1
        step = _STEPS.get(device.status)
        if step is not None and draw() < move:
            status = rng.choices(step[0], step[1])[0]
            choices = reasons.get(status, ())
            reason = rng.choice(choices) if choices else None
            device = make(device.device_id, status, reason)  # noqa: PLW2901 - the moved device
        kept.append(device)
    kept.extend(make(device_id, ADDED_STATUS, None) for device_id in _new_imeis(rng, added, seen))
    return kept


def _new_imeis(rng: random.Random, count: int, seen: set[str]) -> Iterable[str]:
    for _ in range(count):
        while True:
            body = f"35{rng.randrange(10**12):012d}"
            imei = body + str(luhn_check_digit(body))
            if imei not in seen:
                break
        seen.add(imei)
        yield imei


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit that makes `digits` + it a valid number (an IMEI's 15th digit)."""
    total = 0
    # Doubling starts from the rightmost payload digit, the one next to the check digit.
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value  # noqa: PLR2004 - a doubled digit's sum
    return -total % 10
