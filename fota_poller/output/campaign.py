"""How one campaign's answer becomes records: its device lines and its one campaign line.

With `--inventory` the devices are joined to their account's device list on the way
(output/inventory_join.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import msgspec

from fota_poller.api.decode import UpgradeInfo, decode_error, decode_upgrade
from fota_poller.api.redact import Redactor
from fota_poller.errors import UpgradeDecodeError
from fota_poller.model.inventory import CampaignInventory
from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import CampaignRecord, ErrorKind
from fota_poller.model.refs import CampaignRef, InvalidLine, canonical_upgrade_id
from fota_poller.model.timestamps import format_timestamp
from fota_poller.output.changes import compare
from fota_poller.output.device_lines import DeviceLines, device_template
from fota_poller.output.device_list import MISSING_STATUS, count_statuses, without_duplicates
from fota_poller.output.inventory_join import device_join, joined_lines, unjoined_counts
from fota_poller.output.redacted import redacted_and_surveyed
from fota_poller.output.trend import Tonight, campaign_night, with_trend
from fota_poller.state.store import CampaignUpdate, Prior
from fota_poller.state.times import to_ms
from fota_poller.text import ERROR_TEXT_CHARS, excerpt


class CampaignResult(msgspec.Struct):
    """What a worker hands the writer: a campaign line and the device lines before it.

    `lines` are encoded as the writer writes them (None: no device line); `update` is what
    the state database must learn once they are written (None: nothing).
    """

    record: CampaignRecord
    lines: DeviceLines | None = None
    update: CampaignUpdate | None = None

    @property
    def device_lines(self) -> bytes:
        """The device lines in one buffer (for tests: the writer writes them a chunk at a time)."""
        return b"" if self.lines is None else self.lines.encode()


class RecordOptions(msgspec.Struct):
    """How a run makes records: its phase table and, with a state database, the last polls.

    `previous` reads a campaign's last successful poll (None: no state for this campaign
    after all); `emit_same` keeps the lines of unchanged devices (`--emit all`); `redactor`
    is the run's, for a body's text; `stalled_after` is the config's (output/trend.py).
    """

    phases: PhaseTable
    previous: Callable[[str, str], Prior | None] | None = None
    emit_same: bool = True
    redactor: Redactor = msgspec.field(default_factory=Redactor)
    # `[phases] stalled_after`, for the campaign's trend; None: no trend (its fields null).
    stalled_after: int | None = None


def campaign_ended(polled_on: date, end_date: str | None) -> bool | None:
    """True when the poll happened after the end date: device status may then be stale."""
    if end_date is None:
        return None
    try:
        return polled_on > date.fromisoformat(end_date[:10])
    except ValueError:
        return None


def foreign_body(upgrade: UpgradeInfo, ref: CampaignRef) -> str | None:
    """Why a 200 body is another campaign's, naming both; None when it is `ref`'s or does not say.

    A proxy or cache that mixes up answers must not get another campaign's devices recorded
    under this one's ids. Ids compare as UUIDs, account names exactly.
    """
    # The fast path: ThingSpace sends the id as asked for, lower case and dashed.
    same_id = (
        upgrade.id is None
        or upgrade.id == ref.upgrade_id
        or canonical_upgrade_id(upgrade.id) == ref.upgrade_id
    )
    same_account = upgrade.account_name is None or upgrade.account_name == ref.account_name
    if same_id and same_account:
        return None
    body_id = "(none)" if upgrade.id is None else excerpt(upgrade.id)
    body_account = "(none)" if upgrade.account_name is None else excerpt(upgrade.account_name)
    return (
        f"body is for upgrade {body_id} of account {body_account}, "
        f"not upgrade {ref.upgrade_id} of account {ref.account_name} as asked"
    )


def from_response(
    run_id: str,
    ref: CampaignRef,
    *,
    status: int,
    body: bytes,
    received_at: datetime,
    elapsed_ms: float,
    attempts: int,
    options: RecordOptions,
    inventory: CampaignInventory | None = None,
) -> CampaignResult:
    """Decode one HTTP answer into an ok result with device lines, or a failed one.

    `inventory` is the account's device list, to join the devices to: None when
    `--inventory` is off (the inventory fields null), status "failed" when the list could
    not be read (null too, and the campaign line says `inventory: "failed"`).
    """
    polled_at = format_timestamp(received_at)
    failure = Failure(run_id, ref, polled_at, attempts, status, elapsed_ms)
    if status != 200:  # noqa: PLR2004 - the one success status of this endpoint
        return failure.from_error_body(body, options.redactor)
    try:
        upgrade = decode_upgrade(body)
    except UpgradeDecodeError as exc:
        return failure.result("decode", None, str(exc))
    # The body is not needed once decoded: a big campaign's is tens of MB.
    del body
    foreign = foreign_body(upgrade, ref)
    if foreign is not None:
        return failure.result("decode", None, foreign)
    # Its id and account name are the ref's (just checked), which the records write: not
    # searched for secrets (a new id each campaign). Its ids and statuses are read once.
    upgrade.id = upgrade.account_name = None
    upgrade, read = redacted_and_surveyed(upgrade, options.redactor)
    ended = campaign_ended(received_at.date(), upgrade.end_date)
    devices, duplicates = without_duplicates(upgrade.device_list or [], read.ids)
    upgrade.device_list = None
    # One template for all the campaign's device lines: see device_lines for why.
    template = device_template(run_id, polled_at, ref, upgrade, ended)
    join = device_join(inventory, upgrade.firmware_to, options.redactor)
    status_counts = count_statuses(devices, None if duplicates else read.statuses)
    prior = None if options.previous is None else options.previous(ref.account_name, ref.upgrade_id)
    new = changed = gone = None
    update = trend = None
    phase_counts = options.phases.counts(status_counts, MISSING_STATUS)
    if prior is None:
        lines = (
            DeviceLines.sent(template, devices, options.phases)
            if join is None
            else joined_lines(template, devices, options.phases, join)
        )
    else:
        compared = compare(
            prior, devices, phases=options.phases, polled_at=polled_at,
            polled_ms=to_ms(received_at), emit_same=options.emit_same, join=join,
        )  # fmt: skip
        lines = DeviceLines.of_fields(template, compared.fields)
        new, changed, gone = compared.new, compared.changed, compared.gone
    # The join counts each device as its line is made: the counts are whole from here on.
    counts = unjoined_counts(inventory) if join is None else join.counts()
    if prior is not None:
        now = Tonight(run_id, ref, polled_at, to_ms(received_at), compared.moved)
        tonight = campaign_night(
            prior, phase_counts, counts, now, stalled_after=options.stalled_after
        )
        trend = tonight.trend
        update = CampaignUpdate(
            key=prior.key,
            account_name=ref.account_name,
            upgrade_id=ref.upgrade_id,
            status=upgrade.status,
            device_count=len(devices),
            polled_at=polled_at,
            upserts=compared.upserts,
            deletes=compared.deletes,
            night=tonight.night,
            transitions=compared.transitions,
        )
    record = CampaignRecord(
        run_id=run_id,
        polled_at=polled_at,
        account_name=ref.account_name,
        upgrade_id=ref.upgrade_id,
        outcome="ok",
        campaign_status=upgrade.status,
        firmware_name=upgrade.firmware_name,
        firmware_to=upgrade.firmware_to,
        start_date=upgrade.start_date,
        end_date=upgrade.end_date,
        campaign_ended=ended,
        device_count=len(devices),
        device_status_counts=status_counts,
        device_phase_counts=phase_counts,
        devices_duplicate=duplicates,
        devices_new=new,
        devices_changed=changed,
        devices_gone=gone,
        inventory=counts.status,
        devices_on_target=counts.on_target,
        devices_late=counts.late,
        devices_not_in_inventory=counts.not_in_inventory,
        device_models=counts.models,
        attempts=attempts,
        http_status=status,
        elapsed_ms=elapsed_ms,
        error_kind=None,
        error_code=None,
        error_message=None,
    )
    return CampaignResult(with_trend(record, trend), lines, update)


def from_request_error(
    run_id: str,
    ref: CampaignRef,
    *,
    kind: ErrorKind,
    message: str,
    attempts: int,
    http_status: int | None = None,
    code: str | None = None,
) -> CampaignResult:
    """A campaign with no usable answer: none at all, or one refused (a redirect, a bomb).

    `code` is the API's error code, when it gave one.
    """
    return Failure(run_id, ref, None, attempts, http_status, None).result(kind, code, message)


def from_invalid_line(run_id: str, line: InvalidLine) -> CampaignResult:
    """A campaign record for an input line that made no request."""
    ref = CampaignRef(line.account_name or "", line.upgrade_id or "")
    result = Failure(run_id, ref, None, 0, None, None).result("invalid_input", None, line.message)
    record = msgspec.structs.replace(
        result.record, account_name=line.account_name, upgrade_id=line.upgrade_id
    )
    return CampaignResult(record)


class Failure(msgspec.Struct):
    """What every failed record of one campaign shares (not_polled.py uses it too)."""

    run_id: str
    ref: CampaignRef
    polled_at: str | None
    attempts: int
    http_status: int | None
    elapsed_ms: float | None

    def from_error_body(self, body: bytes, redactor: Redactor) -> CampaignResult:
        """The failed result for an error answer's body, in whichever shape it came."""
        error = decode_error(body)
        if error is None:
            # A proxy's HTML or text page: keep its start, on one line, to say who answered.
            # Redacted before its spaces are joined and it is cut (by the writer), so that
            # neither leaves part of a secret: enough of it is read to hold one whole.
            reach = (ERROR_TEXT_CHARS + redactor.longest) * 4  # UTF-8: up to 4 bytes a char
            start = redactor.redact(body[:reach].decode("utf-8", errors="replace"))
            snippet = " ".join(start.split())
            return self.result("http", None, f"HTTP {self.http_status}: {snippet}".rstrip(": "))
        return self.result("api", error.code, error.message)

    def result(self, kind: ErrorKind, code: str | None, message: str | None) -> CampaignResult:
        """The failed result of this campaign."""
        return CampaignResult(
            CampaignRecord(
                run_id=self.run_id,
                polled_at=self.polled_at,
                account_name=self.ref.account_name,
                upgrade_id=self.ref.upgrade_id,
                outcome="failed",
                campaign_status=None,
                firmware_name=None,
                firmware_to=None,
                start_date=None,
                end_date=None,
                campaign_ended=None,
                device_count=None,
                device_status_counts=None,
                device_phase_counts=None,
                devices_duplicate=None,
                devices_new=None,
                devices_changed=None,
                devices_gone=None,
                inventory=None,
                devices_on_target=None,
                devices_late=None,
                devices_not_in_inventory=None,
                device_models=None,
                attempts=self.attempts,
                http_status=self.http_status,
                elapsed_ms=self.elapsed_ms,
                error_kind=kind,
                error_code=code,
                error_message=message,
            )
        )
