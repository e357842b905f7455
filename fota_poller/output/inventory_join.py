"""A campaign's devices joined to its account's device list (`--inventory`), and counted.

Each device is looked up once by its id (`InventoryLookup.lookup`; twice in a campaign of
more than one chunk, see `joined_lines`); what the list says fills
the device line's six inventory fields, and `on_target` compares the firmware it reports
with the campaign's `firmware_to` (`model.inventory.on_target`). As it goes, the join counts
what the campaign line says: devices on target, late successes (on target, phase not
`succeeded`), devices the list does not name (a device sent without an id among them: it
cannot be looked up), and per model its devices by phase and on target.

The list's text is a server's, as a body's is: model, make and firmware are redacted before
they are written, each distinct combination once per campaign (an account has a few dozen),
and `on_target` compares the firmware as written with `firmware_to` as written.
"""

from __future__ import annotations

from typing import Final

import msgspec

from fota_poller.api.decode import Device
from fota_poller.api.redact import Redactor
from fota_poller.model.inventory import (
    CampaignInventory,
    InventoryEntry,
    InventoryLookup,
    InventoryStatus,
    on_target,
)
from fota_poller.model.phases import PHASES, PhaseTable
from fota_poller.model.records import DeviceRecord, Phase
from fota_poller.output.device_lines import CHUNK_DEVICES, DeviceFields, DeviceLines, JoinedFields

# A server names models as it likes (the store allows 10,000 distinct ones): a campaign line
# names this many, those with the most devices, and sums the rest under `OTHER_MODELS`, so
# that one campaign line stays a few kB (as the metrics name 50 statuses).
MODELS_BY_NAME: Final = 50
OTHER_MODELS: Final = "(other)"
# A device the list names without a model (null or empty), as `device_models` keys it.
MISSING_MODEL: Final = "(missing)"
ON_TARGET: Final = "on_target"
LATE: Final = "late"
# A `device_models` row's keys: every phase, then on target, then late successes (on target,
# phase not succeeded), so that campaign lines alone break a night's late successes down by
# model (`summary --by model`).
_ROW_KEYS: Final = (*PHASES, ON_TARGET, LATE)

# What a joined device adds to its line: model, make, reported firmware, upgrade time,
# FOTA eligibility, on target. All null when the list does not name the device.
InventoryTail = tuple[str | None, str | None, str | None, str | None, bool | None, bool | None]
NO_TAIL: Final[InventoryTail] = (None, None, None, None, None, None)
# A (model, make, firmware) as listed; as written, with its `on_target` and its devices per
# phase: counting a device is one dict update, with no key to build.
_Listed = tuple[str | None, str | None, str | None]
_Shown = tuple[str | None, str | None, str | None, bool | None, dict[Phase, int]]


class InventoryCounts(msgspec.Struct, frozen=True):
    """A campaign line's inventory fields: the list's status and what the join counted."""

    status: InventoryStatus | None = None
    on_target: int | None = None
    late: int | None = None
    not_in_inventory: int | None = None
    models: dict[str, dict[str, int]] | None = None


class DeviceJoin:
    """Joins one campaign's devices to its account's list, counting each device joined once."""

    __slots__ = ("_firmware_to", "_list", "_lookup", "_redactor", "_shown", "missing")

    def __init__(
        self, lookup: InventoryLookup, firmware_to: str | None, redactor: Redactor
    ) -> None:
        self._list = lookup
        self._lookup = lookup.lookup
        self._firmware_to = firmware_to
        self._redactor = redactor
        self._shown: dict[_Listed, _Shown] = {}
        self.missing = 0  # devices the list does not name, or sent without an id

    def fresh(self) -> DeviceJoin:
        """A join of the same list for the same campaign that has counted nothing yet."""
        return DeviceJoin(self._list, self._firmware_to, self._redactor)

    def tail(self, device_id: str | None, phase: Phase) -> InventoryTail:
        """The device's inventory fields, counted; `NO_TAIL` when the list does not name it."""
        entry = None if device_id is None else self._lookup(device_id)
        if entry is None:
            self.missing += 1
            return NO_TAIL
        listed = (entry.model, entry.make, entry.firmware)
        model, make, firmware, target, phases = self._shown.get(listed) or self._show(listed)
        phases[phase] += 1
        return (model, make, firmware, entry.upgraded_at, entry.fota_eligible, target)

    def sent_fields(self, devices: list[Device], phases: PhaseTable) -> list[DeviceFields]:
        """Each device's fields as sent, with its phase and its inventory fields (counted).

        `tail` inlined: the hot loop of `--inventory` without state (0.2 us a device less).
        """
        known, phase_of, lookup = phases.known, phases.phase, self._lookup
        shown_of, show = self._shown, self._show
        fields: list[DeviceFields] = []
        append = fields.append
        missing = 0
        for device in devices:
            device_id, status, reason = device.device_id, device.status, device.result_reason
            phase = known.get(status) or phase_of(status)
            entry = None if device_id is None else lookup(device_id)
            if entry is None:
                missing += 1
                append(JoinedFields(device_id, status, phase, reason))
                continue
            listed = (entry.model, entry.make, entry.firmware)
            model, make, firmware, target, counts = shown_of.get(listed) or show(listed)
            counts[phase] += 1
            append(
                JoinedFields(
                    device_id,
                    status,
                    phase,
                    reason,
                    None,
                    None,
                    None,
                    model,
                    make,
                    firmware,
                    entry.upgraded_at,
                    entry.fota_eligible,
                    target,
                )
            )
        self.missing += missing
        return fields

    def counts(self) -> InventoryCounts:
        """What the campaign line says of the devices joined so far."""
        on = late = 0
        models: dict[str, dict[str, int]] = {}
        for model, _, _, target, phases in self._shown.values():
            row = models.get(model or MISSING_MODEL)
            if row is None:
                row = models[model or MISSING_MODEL] = dict.fromkeys(_ROW_KEYS, 0)
            for phase, count in phases.items():
                row[phase] += count
            if target:
                joined = sum(phases.values())
                row[ON_TARGET] += joined
                row[LATE] += joined - phases["succeeded"]
                on += joined
                late += joined - phases["succeeded"]
        return InventoryCounts("ok", on, late, self.missing, capped_models(models))

    def _show(self, listed: _Listed) -> _Shown:
        model, make, firmware = (
            None if text is None else self._redactor.redact(text) for text in listed
        )
        # The one rule of model/inventory.py, applied to the firmware as the line writes it.
        target = on_target(InventoryEntry(model, make, firmware, None, None), self._firmware_to)
        shown = self._shown[listed] = (model, make, firmware, target, dict.fromkeys(PHASES, 0))
        return shown


def device_join(
    inventory: CampaignInventory | None, firmware_to: str | None, redactor: Redactor
) -> DeviceJoin | None:
    """The join of a campaign's devices, or None when there is no list to join them to."""
    if inventory is None or inventory.status != "ok" or inventory.lookup is None:
        return None
    return DeviceJoin(inventory.lookup, firmware_to, redactor)


def unjoined_counts(inventory: CampaignInventory | None) -> InventoryCounts:
    """The campaign line's inventory fields when nothing was joined: off, or the list failed.

    A status "ok" with no list to look in is treated as failed: nothing is claimed of it.
    """
    if inventory is None:
        return InventoryCounts()
    return InventoryCounts("failed")


def capped_models(models: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """`models` when they are at most `MODELS_BY_NAME`; else the most common, the rest summed.

    The kept ones stay in their order (of first appearance), `OTHER_MODELS` last.
    """
    if len(models) <= MODELS_BY_NAME:
        return models
    by_devices = sorted(models, key=lambda name: -sum(models[name][phase] for phase in PHASES))
    kept = set(by_devices[:MODELS_BY_NAME])
    named = {name: row for name, row in models.items() if name in kept}
    other = named.pop(OTHER_MODELS, None) or dict.fromkeys(_ROW_KEYS, 0)
    for name in by_devices[MODELS_BY_NAME:]:
        for key, count in models[name].items():
            other[key] += count
    named[OTHER_MODELS] = other
    return named


def joined_lines(
    template: DeviceRecord, devices: list[Device], phases: PhaseTable, join: DeviceJoin
) -> DeviceLines:
    """The lines of `devices` joined to the list, counted into `join` before this returns.

    A campaign of one chunk is joined once, its fields kept. A bigger one is counted now
    and joined again a chunk at a time as it is written (a second lookup per device, by a
    join that counts nothing), so that a million devices' fields are never held at once.
    """
    if len(devices) <= CHUNK_DEVICES:
        return DeviceLines.of_fields(template, join.sent_fields(devices, phases))
    for start in range(0, len(devices), CHUNK_DEVICES):
        join.sent_fields(devices[start : start + CHUNK_DEVICES], phases)
    again = join.fresh()
    return DeviceLines(
        template, len(devices), lambda start, stop: again.sent_fields(devices[start:stop], phases)
    )
