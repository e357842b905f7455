"""Tonight's devices of one campaign against its last successful poll: the change feed.

Each device is `new` (not in the last poll), `changed` (status or result reason differs, or
its `on_target` does), `same`, or `gone` (in the last poll, not tonight). `status_since` is
when the device was first seen in its current status: a device whose status changes tonight
gets tonight's poll time, one whose reason or `on_target` alone changes keeps its time.

`on_target` (with `--inventory`) is kept as the last one known: a night that does not know
it (inventory off or failed, the device not in the list) keeps the stored one and reports
nothing. When it moves and the status does not, the device is `changed` if that tells
something the status does not: true for a device whose phase is not `succeeded` (a late
success, or one the feed never told: the first night of `--inventory`), or false where it
was true (back on another firmware). A succeeded device coming on target, or a device
first known off target, is learnt and not reported: the device list often follows the
status by a day, and every success would else be told twice.

Per campaign it also counts, for the history (state/history.py), `moved`: the devices found
in both nights whose phase differs (a status change within a phase, `RequestPending` to
`Device Accepted`, is no progress), and the status transitions: (from, to) -> devices, a
new device from None, a gone one to None; a change of reason or `on_target` alone is none.

A device sent without an id cannot be matched from one night to the next: it gets no change
fields and is not kept. A device listed twice is compared once, by its last entry
(`campaign.without_duplicates`).
With `--inventory` every device of tonight is joined to its account's list (and counted),
its line emitted or not; a `gone` device is not: it is no longer the campaign's.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat

import msgspec

from fota_poller.api.decode import Device
from fota_poller.model.phases import PhaseTable
from fota_poller.output.device_lines import DeviceFields, JoinedFields
from fota_poller.output.inventory_join import DeviceJoin, InventoryTail
from fota_poller.state.history import TransitionRow
from fota_poller.state.store import DeviceRow, Prior, PriorDevice
from fota_poller.state.times import stored_time


class Compared(msgspec.Struct):
    """The lines to write for one campaign, its change counts, and what the state must learn."""

    fields: list[DeviceFields]
    new: int
    changed: int
    gone: int
    upserts: list[DeviceRow]
    deletes: list[str]
    moved: int = 0
    transitions: list[TransitionRow] = msgspec.field(default_factory=list)


def _since_text(texts: dict[int, str], ms: int) -> str | None:
    """A stored time (ms) as record text, kept in `texts`: a campaign's devices share a few.

    None (a null `status_since`) for a stored value that is no time (`stored_time`).
    """
    moment = stored_time(ms)
    if moment is None:
        return None
    text = moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    texts[ms] = text
    return text


def compare(
    prior: Prior,
    devices: list[Device],
    *,
    phases: PhaseTable,
    polled_at: str,
    polled_ms: int,
    emit_same: bool,
    join: DeviceJoin | None = None,
) -> Compared:
    """Compare tonight's `devices` with `prior`; `emit_same` keeps the lines of unchanged ones.

    `devices` names each device id once at most (`without_duplicates` has run). `join` adds
    each device's inventory fields to its line, and counts them.
    """
    before = prior.devices
    # The hot loop of a run with state: plain dict lookups, no call per device where a
    # status's phase or a time's text is already known.
    known_phases = phases.known
    phase = phases.phase
    since_texts: dict[int, str] = {}
    fields: list[DeviceFields] = []
    upserts: list[DeviceRow] = []
    changed = moved = 0
    # (from status, to status) -> devices: a few dozen keys, whatever the fleet.
    moves: dict[tuple[str | None, str | None], int] = {}
    # Ids are distinct (campaign.without_duplicates), so when every device found in `before`
    # adds up to all of it, none is gone, and tonight's ids need no set (a million: 60 MB).
    found = 0
    # Without a join the lines' inventory fields are all null: `DeviceFields` leaves them out.
    fields_of = DeviceFields if join is None else JoinedFields
    # Without a join each device's tail is empty: its fields stop at `change`.
    tails: Iterable[InventoryTail | tuple[()]] = (
        repeat(()) if join is None else join.tails(devices, phases)
    )
    target: bool | None = None
    for device, tail in zip(devices, tails, strict=False):  # `repeat` has no end
        device_id, status, reason = device.device_id, device.status, device.result_reason
        status_phase = known_phases.get(status) or phase(status)
        if tail:
            target = tail[5]
        if device_id is None:
            fields.append(fields_of(None, status, status_phase, reason, None, None, None, *tail))
            continue
        last = before.get(device_id)
        if last is None:
            moves[None, status] = moves.get((None, status), 0) + 1  # new: counted from here
            upserts.append((device_id, status, reason, polled_ms, polled_ms, target))
            fields.append(
                fields_of(device_id, status, status_phase, reason, None, polled_at, "new", *tail)
            )
            continue
        found += 1
        _, last_status, last_reason, last_since, last_target = last
        if last_status == status and last_reason == reason:
            if target is None or target == last_target:
                unchanged = True
            elif (status_phase == "succeeded") if target else (last_target is None):
                # It tells nothing the status does not (see the module's docstring).
                upserts.append((device_id, status, reason, last_since, polled_ms, target))
                unchanged = True
            else:
                unchanged = False
            if unchanged:
                if emit_same:
                    since = since_texts.get(last_since) or _since_text(since_texts, last_since)
                    fields.append(
                        fields_of(
                            device_id, status, status_phase, reason, status, since, "same", *tail
                        )
                    )
                continue
        changed += 1
        moved += _moved(moves, phases, last_status, status, status_phase)
        since_ms = last_since if last_status == status else polled_ms
        kept = last_target if target is None else target
        upserts.append((device_id, status, reason, since_ms, polled_ms, kept))
        since = polled_at if since_ms == polled_ms else _since_text(since_texts, since_ms)
        fields.append(
            fields_of(device_id, status, status_phase, reason, last_status, since, "changed", *tail)
        )
    deletes = [] if found == len(before) else _gone(before, devices, moves)
    fields.extend(
        fields_of(device_id, None, None, None, before[device_id][1], None, "gone")
        for device_id in deletes
    )
    return Compared(
        fields,
        sum(count for (start, _), count in moves.items() if start is None),  # new
        changed,
        len(deletes),
        upserts,
        deletes,
        moved,
        [(start, end, count) for (start, end), count in moves.items()],
    )


def _gone(
    before: dict[str, PriorDevice],
    devices: list[Device],
    moves: dict[tuple[str | None, str | None], int],
) -> list[str]:
    """The ids of `before` not among `devices`, sorted; each counted in `moves` as gone."""
    gone = sorted(before.keys() - {device.device_id for device in devices})
    for device_id in gone:
        status = before[device_id][1]
        moves[status, None] = moves.get((status, None), 0) + 1
    return gone


def _moved(
    moves: dict[tuple[str | None, str | None], int],
    phases: PhaseTable,
    last_status: str | None,
    status: str | None,
    status_phase: str,
) -> int:
    """Count a changed device's transition in `moves`; 1 when its phase changed, else 0."""
    if last_status == status:
        return 0  # its reason or `on_target` alone changed: no transition
    moves[last_status, status] = moves.get((last_status, status), 0) + 1
    return int(phases.phase(last_status) != status_phase)
