"""One campaign's devices against its last poll: new, changed, same, gone; never invented."""

from datetime import UTC, datetime

import pytest

from fota_poller.api.decode import Device
from fota_poller.model.phases import PhaseTable
from fota_poller.output.changes import compare
from fota_poller.state.store import Prior
from fota_poller.state.times import to_ms

LAST = datetime(2026, 11, 18, 2, 0, 0, 250000, tzinfo=UTC)
LAST_TEXT = "2026-11-18T02:00:00.250Z"
EARLIER = datetime(2026, 11, 1, 2, 0, 0, tzinfo=UTC)
EARLIER_TEXT = "2026-11-01T02:00:00.000Z"
TONIGHT = datetime(2026, 11, 25, 2, 0, 0, 123000, tzinfo=UTC)
TONIGHT_TEXT = "2026-11-25T02:00:00.123Z"


def prior(**devices):
    """A campaign's last poll: (status, reason, status_since[, on_target]) per device id."""
    return Prior(7, {d: (d, *values, None)[:5] for d, values in devices.items()})


def run(before, devices, *, emit_same=True, join=None):
    return compare(
        before,
        devices,
        phases=PhaseTable(),
        polled_at=TONIGHT_TEXT,
        polled_ms=to_ms(TONIGHT),
        emit_same=emit_same,
        join=join,
    )


BEFORE = prior(
    a=("RequestPending", None, to_ms(EARLIER)),
    b=("Device Accepted", "success", to_ms(LAST)),
    c=("Device Accepted", "success", to_ms(EARLIER)),
    d=("UpgradeFailed", "Device did not respond", to_ms(EARLIER)),
    e=("UpgradeSuccess", "success", to_ms(EARLIER)),
)
TONIGHT_DEVICES = [
    Device("a", "RequestPending", None),  # same
    Device("b", "UpgradeSuccess", "success"),  # status changed
    Device("c", "Device Accepted", "queued again"),  # reason only
    Device("n", "RequestPending", None),  # new
    Device(None, "Queued", None),  # no id: cannot be matched
    Device("e", "UpgradeSuccess", "success"),  # same
]  # d is gone


def test_each_device_gets_its_change_previous_status_and_status_since():
    compared = run(BEFORE, TONIGHT_DEVICES)
    got = {
        f.device_id: (f.change, f.previous_status, f.status_since, f.status, f.phase)
        for f in compared.fields
    }
    assert got == {
        "a": ("same", "RequestPending", EARLIER_TEXT, "RequestPending", "pending"),
        "b": ("changed", "Device Accepted", TONIGHT_TEXT, "UpgradeSuccess", "succeeded"),
        # Only the reason moved: the device is still in the status it had since then.
        "c": ("changed", "Device Accepted", EARLIER_TEXT, "Device Accepted", "pending"),
        "n": ("new", None, TONIGHT_TEXT, "RequestPending", "pending"),
        None: (None, None, None, "Queued", "pending"),
        "e": ("same", "UpgradeSuccess", EARLIER_TEXT, "UpgradeSuccess", "succeeded"),
        "d": ("gone", "UpgradeFailed", None, None, None),
    }
    assert (compared.new, compared.changed, compared.gone) == (1, 2, 1)


def test_the_state_learns_the_new_and_changed_devices_and_forgets_the_gone():
    compared = run(BEFORE, TONIGHT_DEVICES)
    assert sorted(compared.upserts) == [
        ("b", "UpgradeSuccess", "success", to_ms(TONIGHT), to_ms(TONIGHT), None),
        ("c", "Device Accepted", "queued again", to_ms(EARLIER), to_ms(TONIGHT), None),
        ("n", "RequestPending", None, to_ms(TONIGHT), to_ms(TONIGHT), None),
    ]
    assert compared.deletes == ["d"]


def test_changes_only_drops_the_same_devices_and_keeps_gone_ones():
    compared = run(BEFORE, TONIGHT_DEVICES, emit_same=False)
    assert [f.change for f in compared.fields] == ["changed", "changed", "new", None, "gone"]
    assert (compared.new, compared.changed, compared.gone) == (1, 2, 1)


def test_a_first_poll_makes_every_device_new_and_a_quiet_night_changes_nothing():
    first = run(Prior(None, {}), TONIGHT_DEVICES)
    assert [f.change for f in first.fields] == ["new"] * 4 + [None, "new"]
    assert (first.new, first.changed, first.gone) == (5, 0, 0)
    same = prior(**{d.device_id: (d.status, d.result_reason, 1) for d in TONIGHT_DEVICES[:4]})
    quiet = run(same, TONIGHT_DEVICES[:4])
    assert [f.change for f in quiet.fields] == ["same"] * 4
    assert quiet.upserts == []
    assert quiet.deletes == []


def test_a_device_listed_twice_is_not_new_the_second_time():
    compared = run(BEFORE, [Device("a", "RequestPending", None)] * 2)
    assert [f.change for f in compared.fields if f.device_id == "a"] == ["same", "same"]


def test_an_empty_device_list_makes_every_device_gone():
    compared = run(BEFORE, [])
    assert sorted(f.device_id for f in compared.fields) == ["a", "b", "c", "d", "e"]
    assert {f.change for f in compared.fields} == {"gone"}
    assert compared.deletes == ["a", "b", "c", "d", "e"]


class Listed:
    """A join whose list says only each device's `on_target` (None: not in the list)."""

    def __init__(self, on_target):
        self.on_target = on_target

    def tails(self, devices, _phases):
        return [
            (None, None, None, None, None, self.on_target.get(device.device_id))
            for device in devices
        ]


LATE = Device("late", "RequestPending", None)
DONE = Device("done", "UpgradeSuccess", "success")


def night(before, on_target, devices=(LATE, DONE), *, emit_same=False):
    compared = run(before, list(devices), emit_same=emit_same, join=Listed(on_target))
    return compared, {f.device_id: f for f in compared.fields}


def learnt(compared):
    return {row[0]: row[5] for row in compared.upserts}


def test_a_late_success_is_changed_once_its_status_and_status_since_kept():
    before = prior(
        late=("RequestPending", None, to_ms(EARLIER), 0),
        done=("UpgradeSuccess", "success", to_ms(EARLIER), 1),
    )

    compared, fields = night(before, {"late": True, "done": True})

    late = fields["late"]
    assert (late.change, late.previous_status, late.status) == (
        "changed",
        "RequestPending",
        "RequestPending",
    )
    assert late.status_since == EARLIER_TEXT  # the status did not change: neither does its time
    assert list(fields) == ["late"]
    assert compared.changed == 1
    assert compared.upserts == [
        ("late", "RequestPending", None, to_ms(EARLIER), to_ms(TONIGHT), True)
    ]
    # The next night, the same: nothing to tell.
    after = prior(
        late=("RequestPending", None, to_ms(EARLIER), 1),
        done=("UpgradeSuccess", "success", to_ms(EARLIER), 1),
    )
    again, fields = night(after, {"late": True, "done": True})
    assert (fields, again.changed, again.upserts) == ({}, 0, [])


@pytest.mark.parametrize(
    "tonight", [{}, {"late": None, "done": None}], ids=["inventory off or failed", "not listed"]
)
def test_a_night_that_does_not_know_on_target_changes_nothing_and_keeps_it(tonight):
    before = prior(
        late=("RequestPending", None, to_ms(EARLIER), 1),
        done=("UpgradeSuccess", "success", to_ms(EARLIER), 0),
    )

    compared, fields = night(before, tonight, emit_same=True)

    assert {d: f.change for d, f in fields.items()} == {"late": "same", "done": "same"}
    assert (compared.changed, compared.upserts) == (0, [])  # the stored values stay


def test_without_inventory_a_status_change_keeps_the_stored_on_target():
    before = prior(late=("RequestPending", None, to_ms(EARLIER), 1))

    compared = run(before, [Device("late", "UpgradeFailed", "timeout")])

    assert learnt(compared) == {"late": 1}


def test_back_on_an_older_firmware_is_a_change_too():
    before = prior(done=("UpgradeSuccess", "success", to_ms(EARLIER), 1))

    compared, fields = night(before, {"done": False}, [DONE])

    assert (fields["done"].change, fields["done"].previous_status) == ("changed", "UpgradeSuccess")
    assert learnt(compared) == {"done": False}


def test_a_first_known_on_target_is_told_only_for_a_late_success():
    # The first night of --inventory (or of a state upgraded from schema 1): nothing known.
    before = prior(
        late=("RequestPending", None, to_ms(EARLIER)),
        done=("UpgradeSuccess", "success", to_ms(EARLIER)),
        behind=("RequestPending", None, to_ms(EARLIER)),
    )
    behind = Device("behind", "RequestPending", None)

    compared, fields = night(
        before, {"late": True, "done": True, "behind": False}, [LATE, DONE, behind]
    )

    assert {d: f.change for d, f in fields.items()} == {"late": "changed"}
    # What tells nothing new is learnt all the same: a later move of it is a change.
    assert learnt(compared) == {"late": True, "done": True, "behind": False}


def test_a_succeeded_device_coming_on_target_is_learnt_not_told_again():
    # The device list follows the status by a day: the success was told when it happened.
    before = prior(done=("UpgradeSuccess", "success", to_ms(EARLIER), 0))

    compared, fields = night(before, {"done": True}, [DONE])

    assert (fields, compared.changed) == ({}, 0)
    assert learnt(compared) == {"done": True}
