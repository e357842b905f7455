"""Campaigns never polled (a stop, a deadline, no token): their records, a block at a time."""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from fota_poller.model.records import CampaignRecord, ErrorKind
from fota_poller.model.refs import CampaignRef
from fota_poller.output.campaign import Failure

_encoder = msgspec.json.Encoder()


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
    template = Failure(run_id, refs[0], None, 0, None, None).result(kind, code, message).record
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
