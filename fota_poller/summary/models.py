"""A night's devices by model, for `summary --by model`: summed from campaign lines alone.

Each campaign line of a run with `--inventory` (schema 3) carries `device_models`: per model,
its devices by phase and how many are on target (and, when the writer gives it, `late`).
They are summed per model here; what no model accounts for gets a row of its own, after the
models, so the rows always add up to the night's devices:

- `failed`: the campaigns whose inventory failed (`inventory: "failed"`), no model known;
- `off`: the campaigns written without an inventory (`--inventory` off, or schema 1 and 2);
- `missing`: the devices of an inventoried campaign that no model counts (not in the device
  list: `devices_not_in_inventory`), by phase as the campaign's counts leave them.

Bounded whatever the file holds: at most `MAX_MODELS` distinct models are kept (a real fleet
has tens); the devices of a model first seen past that are summed in one `others` row.
A model name longer than `MAX_NAME_CHARS` is cut (and marked) before it is kept.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Final, NamedTuple

import msgspec

# Distinct models kept: about 200 bytes each, 2 MB at the cap.
MAX_MODELS: Final = 10_000
MAX_NAME_CHARS: Final = 200
# What a row's `inventory` says, for the rows of models and the rows after them (in order).
MODEL: Final = "ok"
GROUPS: Final = ("others", "missing", "failed", "off")
_PHASES: Final = ("succeeded", "failed", "pending", "unknown")


class ModelCounts(msgspec.Struct):
    """One model's entry in a campaign line's `device_models`; other keys are ignored."""

    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    unknown: int = 0
    on_target: int = 0
    # Not every writer gives it: a model's late successes are then unknown (null).
    late: int | None = None


class ModelRow(NamedTuple):
    """One model (or one of `GROUPS`) over the night's campaigns."""

    model: str | None
    inventory: str
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None

    @property
    def devices(self) -> int:
        """The model's devices, every phase."""
        return self.succeeded + self.failed + self.pending + self.unknown

    @property
    def failed_share(self) -> float | None:
        """The share of the model's devices in the failed phase, 0 to 1; None with none."""
        devices = self.devices
        return round(self.failed / devices, 4) if devices else None


def worst_model_first(row: ModelRow) -> tuple[float, int, str]:
    """The sort key: highest failed share first, then most failed devices, then the name."""
    devices = row.devices
    return (-(row.failed / devices) if devices else 0.0, -row.failed, row.model or "")


class ModelTally:
    """The night's devices per model, and per group of devices no model accounts for."""

    def __init__(self, max_models: int = MAX_MODELS) -> None:
        self.max_models = max_models
        # Per model: succeeded, failed, pending, unknown, on_target, late, entries without late.
        self._models: dict[str, list[int]] = {}
        self._groups: dict[str, list[int]] = {group: [0] * 7 for group in GROUPS}
        # Campaign lines that had `device_models`, and those that had none.
        self.with_models = 0
        self.without_models = 0
        # Models first seen past `max_models`, counted once per campaign line they are in.
        self.folded_entries = 0

    def add(
        self,
        phases: Mapping[str, int],
        models: Mapping[str, ModelCounts] | None,
        inventory: str | None,
    ) -> None:
        """Take in one campaign line: its phase counts, `device_models` and `inventory`."""
        if models is None:
            self.without_models += 1
            group = self._groups["failed" if inventory == "failed" else "off"]
            for index, phase in enumerate(_PHASES):
                group[index] += phases.get(phase, 0)
            return
        self.with_models += 1
        left = [phases.get(phase, 0) for phase in _PHASES]
        for name, counts in models.items():
            totals = self._totals(name)
            for index, count in enumerate(
                (counts.succeeded, counts.failed, counts.pending, counts.unknown)
            ):
                totals[index] += count
                left[index] -= count
            totals[4] += counts.on_target
            if counts.late is None:
                totals[6] += 1
            else:
                totals[5] += counts.late
        missing = self._groups["missing"]
        for index, count in enumerate(left):
            # A line whose models count more than its phases is not trusted below zero.
            missing[index] += max(count, 0)

    def _totals(self, name: str) -> list[int]:
        if len(name) > MAX_NAME_CHARS:
            name = name[:MAX_NAME_CHARS] + "…[cut]"
        totals = self._models.get(name)
        if totals is None:
            if len(self._models) >= self.max_models:
                self.folded_entries += 1
                return self._groups["others"]
            totals = self._models[sys.intern(name)] = [0] * 7
        return totals

    @property
    def models(self) -> int:
        """Distinct models kept (at most `max_models`)."""
        return len(self._models)

    def model_rows(self) -> list[ModelRow]:
        """Every model kept, worst failed share first."""
        rows = [_row(name, MODEL, totals) for name, totals in self._models.items()]
        return sorted(rows, key=worst_model_first)

    def group_rows(self) -> list[ModelRow]:
        """The rows of devices no model accounts for, in `GROUPS` order, those with devices."""
        rows = [_row(None, group, totals) for group, totals in self._groups.items()]
        return [row for row in rows if row.devices]


def _row(name: str | None, inventory: str, totals: list[int]) -> ModelRow:
    succeeded, failed, pending, unknown, on_target, late, late_unknown = totals
    # What the campaign line does not say (no inventory, no model) is null, not 0.
    known = inventory in (MODEL, "others")
    return ModelRow(
        model=name,
        inventory=inventory,
        succeeded=succeeded,
        failed=failed,
        pending=pending,
        unknown=unknown,
        on_target=on_target if known else None,
        late=late if known and not late_unknown else None,
    )
