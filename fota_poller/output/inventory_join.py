"""A campaign's devices joined to its account's device list (`--inventory`), and counted.

A campaign's devices are looked up at once (`InventoryLookup.find`; twice in a campaign of
more than one chunk, see `joined_lines`): each device's kind (model, make, firmware,
eligibility) and upgrade time fill its line's six inventory fields, and `on_target` compares
the firmware of its kind with the campaign's `firmware_to` (`model.inventory.on_target`),
once per kind. As it goes, the join counts
what the campaign line says: devices on target, late successes (on target, phase not
`succeeded`), devices the list does not name (a device sent without an id among them: it
cannot be looked up), and per model its devices by phase and on target.

The list's text is a server's, as a body's is: model, make and firmware are redacted before
they are written, each kind once per campaign (an account has a few dozen),
and `on_target` compares the firmware as written with `firmware_to` as written.
"""

from __future__ import annotations

from typing import Final

import msgspec

from fota_poller.api.decode import Device
from fota_poller.api.redact import Redactor
from fota_poller.model.inventory import (
    MISSING,
    CampaignInventory,
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
# A kind of device (model, make, firmware, eligibility) as written, with its `on_target` and
# its devices per phase: counting a device is one dict update, with no key to build.
_Shown = tuple[str | None, str | None, str | None, bool | None, bool | None, dict[Phase, int]]


class InventoryCounts(msgspec.Struct, frozen=True):
    """A campaign line's inventory fields: the list's status and what the join counted."""

    status: InventoryStatus | None = None
    on_target: int | None = None
    late: int | None = None
    not_in_inventory: int | None = None
    models: dict[str, dict[str, int]] | None = None


class DeviceJoin:
    """Joins one campaign's devices to its account's list, counting each device joined once."""

    __slots__ = ("_firmware_to", "_list", "_redactor", "_shown")

    def __init__(
        self, lookup: InventoryLookup, firmware_to: str | None, redactor: Redactor
    ) -> None:
        self._list = lookup
        self._firmware_to = firmware_to
        self._redactor = redactor
        # A device the list does not name (or sent without an id) joins as all null.
        self._shown: dict[int, _Shown] = {
            MISSING: (None, None, None, None, None, dict.fromkeys(PHASES, 0))
        }

    @property
    def missing(self) -> int:
        """Devices joined so far that the list does not name, or sent without an id."""
        return sum(self._shown[MISSING][5].values())

    def fresh(self) -> DeviceJoin:
        """A join of the same list for the same campaign that has counted nothing yet."""
        return DeviceJoin(self._list, self._firmware_to, self._redactor)

    def tails(self, devices: list[Device], phases: PhaseTable) -> list[InventoryTail]:
        """Each device's inventory fields, counted; `NO_TAIL` when the list does not name it."""
        known, phase_of = phases.known, phases.phase
        shown_of, show = self._shown, self._show
        kinds, times = self._list.find([device.device_id for device in devices])
        tails: list[InventoryTail] = []
        for device, kind, upgraded_at in zip(devices, kinds, times, strict=True):
            status = device.status
            model, make, firmware, eligible, target, counts = shown_of.get(kind) or show(kind)
            counts[known.get(status) or phase_of(status)] += 1
            tails.append((model, make, firmware, upgraded_at, eligible, target))
        return tails

    def sent_fields(self, devices: list[Device], phases: PhaseTable) -> list[DeviceFields]:
        """Each device's fields as sent, with its phase and its inventory fields (counted).

        The hot loop of `--inventory` without state: one `find` for the campaign, then per
        device two dict lookups (its status's phase, its kind as written) and its fields.
        """
        known, phase_of = phases.known, phases.phase
        shown_of, show = self._shown, self._show
        kinds, times = self._list.find([device.device_id for device in devices])
        fields: list[DeviceFields] = []
        append = fields.append
        for device, kind, upgraded_at in zip(devices, kinds, times, strict=True):
            status = device.status
            phase = known.get(status) or phase_of(status)
            model, make, firmware, eligible, target, counts = shown_of.get(kind) or show(kind)
            counts[phase] += 1
            append(
                JoinedFields(
                    device.device_id,
                    status,
                    phase,
                    device.result_reason,
                    None,
                    None,
                    None,
                    model,
                    make,
                    firmware,
                    upgraded_at,
                    eligible,
                    target,
                )
            )
        return fields

    def counts(self) -> InventoryCounts:
        """What the campaign line says of the devices joined so far."""
        on = late = 0
        models: dict[str, dict[str, int]] = {}
        for kind, (model, _, _, _, target, phases) in self._shown.items():
            if kind == MISSING:
                continue
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

    def _show(self, kind: int) -> _Shown:
        entry = self._list.kind(kind)
        model, make, firmware = (
            None if text is None else self._redactor.redact(text)
            for text in (entry.model, entry.make, entry.firmware)
        )
        # The one rule of model/inventory.py, applied to the firmware as the line writes it.
        shown = msgspec.structs.replace(entry, model=model, make=make, firmware=firmware)
        target = on_target(shown, self._firmware_to)
        counts = dict.fromkeys(PHASES, 0)
        self._shown[kind] = (model, make, firmware, entry.fota_eligible, target, counts)
        return self._shown[kind]


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
