"""The output record contract: three record kinds, every key always present (null where unknown).

A campaign's device lines come first, then its campaign line; the run line is last.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from fota_poller.model.inventory import InventoryStatus

SCHEMA_VERSION = 4
# How a device line starts as written (msgspec, compact, the tag first): `is_device_line`.
DEVICE_LINE_START: Final = b'{"record":"device"'

Outcome = Literal["ok", "failed"]
# What a device's phase is: see model/phases.py for the table.
Phase = Literal["succeeded", "failed", "pending", "unknown"]
# How a device compares with the last successful poll (null without a state database).
Change = Literal["new", "changed", "same", "gone"]
ErrorKind = Literal[
    "invalid_input",  # the input line made no request
    "decode",  # a 200 body that is not an upgrade object
    "http",  # a non-JSON error answer (a proxy's HTML page)
    "api",  # an error answer in one of ThingSpace's JSON shapes
    "network",  # no answer: connection refused, reset, closed
    "timeout",  # no complete answer in time
    "too_large",  # a body over the size cap
    "auth",  # not polled: the run could not authenticate
    "not_polled",  # not polled: the run was cut short by a deadline or a signal
]


class DeviceRecord(msgspec.Struct, tag_field="record", tag="device"):
    """One device of a polled campaign, as the API reported it at `polled_at`."""

    run_id: str
    polled_at: str
    account_name: str
    upgrade_id: str
    firmware_name: str | None
    firmware_to: str | None
    start_date: str | None
    end_date: str | None
    campaign_status: str | None
    campaign_ended: bool | None
    device_id: str | None
    status: str | None
    # null only in a `gone` record, which has no status.
    phase: Phase | None
    result_reason: str | None
    # The next three are null without a state database (--state).
    previous_status: str | None
    status_since: str | None
    change: Change | None
    # The next six are the account's device list joined to the device (`--inventory`): null
    # without it, when the account's list failed, and for a device the list does not name.
    model: str | None
    make: str | None
    reported_firmware: str | None
    # RFC 3339 UTC with milliseconds; null when never upgraded (the list's 1900 value).
    firmware_upgraded_at: str | None
    fota_eligible: bool | None
    # `reported_firmware == firmware_to`; null when either is unknown.
    on_target: bool | None


class CampaignRecord(msgspec.Struct, tag_field="record", tag="campaign"):
    """Exactly one per distinct input pair: how polling that campaign went."""

    run_id: str
    polled_at: str | None
    account_name: str | None
    upgrade_id: str | None
    outcome: Outcome
    campaign_status: str | None
    firmware_name: str | None
    firmware_to: str | None
    start_date: str | None
    end_date: str | None
    campaign_ended: bool | None
    device_count: int | None
    device_status_counts: dict[str, int] | None
    device_phase_counts: dict[Phase, int] | None
    # Entries of the device list dropped because a later entry had the same device id (only
    # the last is kept and counted); null for a failed campaign.
    devices_duplicate: int | None
    # The next three are null without a state database, and for a failed campaign.
    devices_new: int | None
    devices_changed: int | None
    devices_gone: int | None
    # Null without `--inventory` and for a failed campaign; "failed" when the account's
    # device list could not be read (the four counts after it are then null too).
    inventory: InventoryStatus | None
    # Devices whose reported firmware is `firmware_to`; of those, the ones whose phase is not
    # `succeeded` (a late success); devices the list does not name (or sent without an id).
    devices_on_target: int | None
    devices_late: int | None
    devices_not_in_inventory: int | None
    # Per model (`(missing)`: listed without one; `(other)`: past the first
    # `MODELS_BY_NAME`), its devices per phase (all four keys) and `on_target`.
    device_models: dict[str, dict[str, int]] | None
    attempts: int
    http_status: int | None
    elapsed_ms: float | None
    error_kind: ErrorKind | None
    error_code: str | None
    error_message: str | None
    # Schema 4: the campaign's course over its nights (state/history.py), null without a
    # state database and for a failed campaign. Last, with defaults: a record built without
    # them (a test's, a failed campaign's) has them null.
    succeeded_delta: int | None = None
    nights_without_progress: int | None = None
    projected_finish: str | None = None
    stalled: bool | None = None


class RunRecord(msgspec.Struct, tag_field="record", tag="run"):
    """The last line of a run; a stream without it is incomplete."""

    run_id: str
    schema_version: int
    started_at: str
    finished_at: str
    duration_s: float
    campaigns_total: int
    campaigns_ok: int
    campaigns_failed: int
    devices_total: int
    requests_total: int
    # Of `requests_total`, the device-list pages of `--inventory` (retries included).
    inventory_requests: int
    complete: bool
    exit_code: int


Record = DeviceRecord | CampaignRecord | RunRecord


def is_device_line(line: bytes) -> bool:
    """Whether `line` is a device line as written: a reader of campaign lines skips it unread.

    Nine in ten of a night's bytes are device lines: a look at a line's first bytes costs
    nothing beside decoding it. A device line written otherwise (keys reordered) is not seen.
    """
    return line.startswith(DEVICE_LINE_START)
