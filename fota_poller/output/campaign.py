"""How one campaign's answer becomes records: its device lines and its one campaign line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

import msgspec

from fota_poller.api.decode import UpgradeInfo, decode_error, decode_upgrade
from fota_poller.errors import UpgradeDecodeError
from fota_poller.ids.lists import CampaignRef, InvalidLine, canonical_upgrade_id
from fota_poller.output.device_lines import count_statuses, encode_device_lines
from fota_poller.output.records import CampaignRecord, DeviceRecord, ErrorKind
from fota_poller.text import excerpt

# A device with no status still counts, under this key, so the counts add up to device_count.
MISSING_STATUS = "(missing)"

_encoder = msgspec.json.Encoder()


class CampaignResult(msgspec.Struct):
    """What a worker hands the sink: the campaign line and the device lines that precede it."""

    record: CampaignRecord
    device_lines: bytes = b""


def format_timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z`: `2026-11-25T02:00:00.123Z`."""
    # isoformat is done in C; strftime plus a format costs twice as much, once per campaign.
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


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
) -> CampaignResult:
    """Decode one HTTP answer into an ok result with device lines, or a failed one."""
    polled_at = format_timestamp(received_at)
    failure = _Failure(run_id, ref, polled_at, attempts, status, elapsed_ms)
    if status != 200:  # noqa: PLR2004 - the one success status of this endpoint
        return failure.from_error_body(body)
    try:
        upgrade = decode_upgrade(body)
    except UpgradeDecodeError as exc:
        return failure.result("decode", None, str(exc))
    foreign = foreign_body(upgrade, ref)
    if foreign is not None:
        return failure.result("decode", None, foreign)
    ended = campaign_ended(received_at.date(), upgrade.end_date)
    devices = upgrade.device_list or []
    # One template for all the campaign's device lines: see device_lines for why.
    template = DeviceRecord(
        run_id=run_id,
        polled_at=polled_at,
        account_name=ref.account_name,
        upgrade_id=ref.upgrade_id,
        firmware_name=upgrade.firmware_name,
        firmware_to=upgrade.firmware_to,
        start_date=upgrade.start_date,
        end_date=upgrade.end_date,
        campaign_status=upgrade.status,
        campaign_ended=ended,
        device_id=None,
        status=None,
        result_reason=None,
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
        device_status_counts=count_statuses(devices, MISSING_STATUS),
        attempts=attempts,
        http_status=status,
        elapsed_ms=elapsed_ms,
        error_kind=None,
        error_code=None,
        error_message=None,
    )
    return CampaignResult(record, encode_device_lines(template, devices))


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
    return _Failure(run_id, ref, None, attempts, http_status, None).result(kind, code, message)


class RecordBatch(msgspec.Struct):
    """Campaign lines of many campaigns that failed alike (not polled), encoded at once.

    A run stopped with a million campaigns left must account for each at the speed of the
    hot path: one record each, but one encode, one hand-off and one tally update per batch.
    """

    lines: bytes
    count: int
    first: CampaignRecord


def not_polled_batch(
    run_id: str,
    refs: Sequence[CampaignRef],
    *,
    kind: ErrorKind,
    message: str,
    code: str | None = None,
) -> RecordBatch:
    """The failed records of campaigns that were never started, as one block of lines."""
    template = _Failure(run_id, refs[0], None, 0, None, None).result(kind, code, message).record
    lines = _fill_ref_fields(template, refs)
    if lines is None:
        lines = not_polled_lines_plainly(template, refs)
    return RecordBatch(lines, len(refs), template)


def not_polled_lines_plainly(template: CampaignRecord, refs: Sequence[CampaignRef]) -> bytes:
    """`template` once per ref with that ref's ids: the reference `_fill_ref_fields` matches."""
    # replace() copies the template: a seventh of the cost of building each record anew.
    return _encoder.encode_lines(
        [
            msgspec.structs.replace(
                template, account_name=ref.account_name, upgrade_id=ref.upgrade_id
            )
            for ref in refs
        ]
    )


# The two fields that differ between the records of a batch, as a template encodes them.
_REF_FIELDS = b'"account_name":null,"upgrade_id":null'
# Text JSON writes as it is, with no escape: commas join the values checked in one pass.
_VERBATIM = re.compile(r"[A-Za-z0-9_,-]*")


def _fill_ref_fields(template: CampaignRecord, refs: Sequence[CampaignRef]) -> bytes | None:
    r"""The batch's lines from one encoding of `template`, each ref's ids put in by formatting.

    A million campaigns left at a stop must be written at the hot path's speed: one
    `structs.replace` per campaign is three times the cost of the rest of its accounting.
    Safe because every account name and upgrade id is first checked to be of
    `[A-Za-z0-9_-]` (the id reader and discovery only make such refs: validated account names
    and canonical UUIDs), which JSON writes as it is; and because msgspec escapes every `"`
    inside a string as `\"`, so `_REF_FIELDS` can only match the keys themselves. None (the
    plain path) when a ref needs escaping or the record no longer has that shape.
    """
    accounts = ",".join([ref.account_name for ref in refs])
    upgrade_ids = ",".join([ref.upgrade_id for ref in refs])
    if not (_VERBATIM.fullmatch(accounts) and _VERBATIM.fullmatch(upgrade_ids)):
        return None
    blank = msgspec.structs.replace(template, account_name=None, upgrade_id=None)
    parts = _encoder.encode(blank).decode().split(_REF_FIELDS.decode())
    if len(parts) != 2:  # noqa: PLR2004 - before and after the two fields
        return None
    head = parts[0] + '"account_name":"'
    middle = '","upgrade_id":"'
    tail = '"' + parts[1] + "\n"
    return "".join(
        [f"{head}{ref.account_name}{middle}{ref.upgrade_id}{tail}" for ref in refs]
    ).encode()


def from_invalid_line(run_id: str, line: InvalidLine) -> CampaignResult:
    """A campaign record for an input line that made no request."""
    ref = CampaignRef(line.account_name or "", line.upgrade_id or "")
    result = _Failure(run_id, ref, None, 0, None, None).result("invalid_input", None, line.message)
    record = msgspec.structs.replace(
        result.record, account_name=line.account_name, upgrade_id=line.upgrade_id
    )
    return CampaignResult(record)


class _Failure(msgspec.Struct):
    """What every failed record of one campaign shares."""

    run_id: str
    ref: CampaignRef
    polled_at: str | None
    attempts: int
    http_status: int | None
    elapsed_ms: float | None

    def from_error_body(self, body: bytes) -> CampaignResult:
        error = decode_error(body)
        if error is None:
            # A proxy's HTML or text page: keep its start, on one line, to say who answered.
            snippet = " ".join(body[:200].decode("utf-8", errors="replace").split())
            return self.result("http", None, f"HTTP {self.http_status}: {snippet}".rstrip(": "))
        return self.result("api", error.code, error.message)

    def result(self, kind: ErrorKind, code: str | None, message: str | None) -> CampaignResult:
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
                attempts=self.attempts,
                http_status=self.http_status,
                elapsed_ms=self.elapsed_ms,
                error_kind=kind,
                error_code=code,
                error_message=message,
            )
        )
