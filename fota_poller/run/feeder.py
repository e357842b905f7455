"""The feeder: reads the id sources and hands each distinct campaign to the workers, once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from anyio.streams.memory import MemoryObjectSendStream

from fota_poller.errors import FotaPollerError
from fota_poller.ids.seen import SeenCampaigns
from fota_poller.model.refs import CampaignRef, InvalidLine
from fota_poller.output import campaign
from fota_poller.output.not_polled import RecordBatch, not_polled_batch
from fota_poller.run import channels
from fota_poller.run.context import InputItem, RunContext, WorkItem, WriterItem
from fota_poller.run.inventories import Parked
from fota_poller.text import ERROR_TEXT_CHARS

log = structlog.get_logger("fota_poller")

# Records of campaigns a stopped run never started, encoded and written together.
_NOT_POLLED_BATCH = 4096


async def feed(
    context: RunContext,
    batches: AsyncIterator[list[InputItem]],
    work: MemoryObjectSendStream[WorkItem],
    results: MemoryObjectSendStream[WriterItem],
) -> None:
    """Pass each distinct campaign on once; invalid lines go through to get their record.

    Once the run is stopped, the rest of the input is still read so that every campaign
    in it gets its failed record, straight to the writer, `_NOT_POLLED_BATCH` at a time.
    """
    seen = SeenCampaigns()
    not_polled: list[CampaignRef] = []
    async with work, results:
        try:
            async for batch in batches:
                for position, item in enumerate(batch):
                    if context.control.stop_reason is not None:
                        await _account_unpolled(
                            context, seen, batch[position:], not_polled, results
                        )
                        break
                    if isinstance(item, CampaignRef) and not seen.add(item):
                        continue
                    context.tally.campaign_queued()
                    if _deferred(context, item):
                        continue
                    await channels.send(work, item)
                await _hand_out_ready(context, work)
                if len(not_polled) >= _NOT_POLLED_BATCH:
                    await channels.send(results, _not_polled_batch(context, not_polled))
                    not_polled = []
        except FotaPollerError as exc:
            # An unreadable id list or a failed discovery page: what was read is still polled
            # and written; the run says it is incomplete.
            context.input.input_error = str(exc)
            context.input.input_error_code = exc.exit_code
            log.error("input.failed", error=str(exc))
        else:
            context.input.input_exhausted = True
        finally:
            context.tally.sources_ended()
        await _hand_out_deferred(context, work, not_polled, results)
        if not_polled:
            await channels.send(results, _not_polled_batch(context, not_polled))


def _deferred(context: RunContext, item: InputItem) -> bool:
    """Whether `item` waits in the feeder for its account's list (run/inventories.py)."""
    inventories = context.inventories
    return (
        inventories is not None and isinstance(item, CampaignRef) and not inventories.hand_out(item)
    )


async def _hand_out_ready(context: RunContext, work: MemoryObjectSendStream[WorkItem]) -> None:
    """The deferred campaigns and parked answers that can go to the workers now, go."""
    if context.inventories is not None:
        for item in context.inventories.ready():
            await channels.send(work, item)


async def _hand_out_deferred(
    context: RunContext,
    work: MemoryObjectSendStream[WorkItem],
    not_polled: list[CampaignRef],
    results: MemoryObjectSendStream[WriterItem],
) -> None:
    """The input is read: each deferred campaign and parked answer goes to the workers.

    A stop (now, or while a list is awaited: the fetch then ends soon, or is cancelled when
    the grace runs out) gives the deferred campaigns their not_polled records instead.
    """
    if context.inventories is None:
        return
    async for items in context.inventories.when_ready():
        for item in items:
            # A parked answer goes to a worker even now: it knows what a stop makes of it.
            if context.control.stop_reason is None or isinstance(item, Parked):
                await channels.send(work, item)
                continue
            not_polled.append(item)
            if len(not_polled) >= _NOT_POLLED_BATCH:
                await channels.send(results, _not_polled_batch(context, not_polled))
                not_polled.clear()


async def _account_unpolled(
    context: RunContext,
    seen: SeenCampaigns,
    items: list[InputItem],
    not_polled: list[CampaignRef],
    results: MemoryObjectSendStream[WriterItem],
) -> None:
    """Items read after a stop: new campaigns join `not_polled`, invalid lines get a record.

    One pass with no await per campaign: a stopped run may have a million of them left.
    """
    refs: list[CampaignRef] = []
    invalid: list[InvalidLine] = []
    for item in items:
        if isinstance(item, CampaignRef):
            refs.append(item)
        else:
            invalid.append(item)
    fresh = seen.add_all(refs)
    context.tally.campaigns_queued_in_bulk(len(fresh) + len(invalid))
    not_polled += fresh
    if context.inventories is not None:
        # Seen and counted already, held back for their lists: the stop's too.
        not_polled += context.inventories.take_deferred()
    for line in invalid:
        await channels.send(results, campaign.from_invalid_line(context.run_id, line))


def _not_polled_batch(context: RunContext, refs: list[CampaignRef]) -> RecordBatch:
    stop = context.control.stop_reason
    assert stop is not None  # noqa: S101 - only campaigns of a stopped run are batched
    # Redacted and cut here, once for the batch: its lines are encoded at once, from one
    # template, which the writer passes on as they are.
    redactor = context.records.redactor
    code = stop.error_code
    return not_polled_batch(
        context.run_id,
        refs,
        kind=stop.error_kind,
        message=redactor.redact(stop.message, limit=ERROR_TEXT_CHARS),
        code=None if code is None else redactor.redact(code, limit=ERROR_TEXT_CHARS),
    )
