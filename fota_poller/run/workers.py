"""The workers: a fixed pool, each polling one campaign at a time and handing its records on.

N workers bound the requests in flight to N; no task is created per campaign.
"""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fota_poller.api.client import upgrade_url
from fota_poller.errors import AuthenticationError
from fota_poller.model.refs import CampaignRef, InvalidLine
from fota_poller.model.stop import StopReason
from fota_poller.model.tally import AttemptCounter
from fota_poller.output import campaign
from fota_poller.output.campaign import CampaignResult
from fota_poller.pacing.retry import fetch_with_retries
from fota_poller.run import channels
from fota_poller.run.context import RunContext, WorkItem
from fota_poller.run.inventories import AccountFetch, Parked, campaign_inventory


async def poll_campaigns(
    context: RunContext,
    work: MemoryObjectReceiveStream[WorkItem],
    results: MemoryObjectSendStream[CampaignResult],
) -> None:
    """One worker: one request in flight at a time, so N workers bound the concurrency.

    The worker's cancel scope (in `context.in_flight`) is cancelled when a stop's grace runs
    out; the campaign it was polling then gets a not_polled record and the worker drains the
    rest. One scope per worker, not per campaign: a scope costs more than a whole request.
    """
    current: WorkItem | None = None  # being polled (or a parked answer, joined)
    counter = AttemptCounter()
    pending: CampaignResult | None = None  # made, not yet handed to the writer
    async with work, results:
        while True:
            with anyio.CancelScope() as scope:
                context.in_flight.add(scope)
                try:
                    if pending is not None:
                        await channels.send(results, pending)
                        pending = None
                    async for item in channels.receive_all(work):
                        stop = context.control.stop_reason
                        if isinstance(item, Parked):
                            # Polled already: written unless its list was cut by the stop.
                            current = item
                            pending = await _records(context, item)
                            current = None
                        elif stop is not None:
                            pending = _not_started(context.run_id, item, stop)
                        else:
                            current, counter = item, AttemptCounter(context.tally)
                            pending = await _poll_one(context, item, counter)
                            current = None
                        if pending is not None:
                            await channels.send(results, pending)
                            pending = None
                    return
                finally:
                    context.in_flight.discard(scope)
            if current is not None:
                stop = context.control.stop_reason
                assert stop is not None  # noqa: S101 - only the stop enforcer cancels this scope
                pending = _not_started(context.run_id, current, stop, counter.count)
                current = None


def _not_started(
    run_id: str, item: WorkItem, stop: StopReason, attempts: int = 0
) -> CampaignResult:
    if isinstance(item, Parked):
        return _not_started(run_id, item.ref, stop, item.attempts)
    if isinstance(item, InvalidLine):
        return campaign.from_invalid_line(run_id, item)
    return campaign.from_request_error(
        run_id,
        item,
        kind=stop.error_kind,
        message=stop.message,
        attempts=attempts,
        code=stop.error_code,
    )


async def _poll_one(
    context: RunContext, item: CampaignRef | InvalidLine, counter: AttemptCounter
) -> CampaignResult | None:
    """The campaign's records; None when its answer is parked until its account's list is there."""
    if isinstance(item, InvalidLine):
        return campaign.from_invalid_line(context.run_id, item)
    # Started before the upgrade is polled: the two requests go on at once.
    account = None if context.inventories is None else context.inventories.start(item.account_name)
    url = upgrade_url(context.base_url, item)
    try:
        fetched = await fetch_with_retries(
            context.client,
            url,
            context.policy,
            context.backoff,
            context.control,
            counter=counter,
        )
    except AuthenticationError as exc:
        # No token can be had: stop the run; the campaigns not yet polled get "auth" too.
        auth_stop = StopReason(
            error_kind="auth",
            message=str(exc),
            exit_code=exc.exit_code,
            error_code=exc.error_code,
        )
        context.control.stop(auth_stop)
        # The last attempt counted may have sent nothing: the auth failed before it could.
        attempts = counter.count - (exc.requests_sent == 0)
        return _not_started(context.run_id, item, auth_stop, max(attempts, 0))
    if fetched.error is not None:
        return campaign.from_request_error(
            context.run_id,
            item,
            kind=fetched.error.kind,
            message=str(fetched.error),
            attempts=fetched.attempts,
            http_status=fetched.error.status,
        )
    if fetched.response is None:
        stop = context.control.stop_reason
        assert stop is not None  # noqa: S101 - a fetch ends with no answer only when stopped
        return _not_started(context.run_id, item, stop, fetched.attempts)
    parked = Parked(item, fetched.attempts, fetched.response)
    inventories = context.inventories
    if account is not None and inventories is not None and inventories.park(account, parked):
        return None
    return await _records(context, parked, account)


async def _records(
    context: RunContext, polled: Parked, account: AccountFetch | None = None
) -> CampaignResult:
    """A polled campaign's records, joined to its account's list once that is there."""
    if account is None and context.inventories is not None:
        account = context.inventories.start(polled.ref.account_name)
    inventory = None
    if account is not None:
        listed = await account.wait()
        stop = context.control.stop_reason
        if listed.stopped and stop is not None:
            # The list was cut short by the stop: the campaign is the stop's, as if not polled.
            return _not_started(context.run_id, polled.ref, stop, polled.attempts)
        inventory = campaign_inventory(listed)
    response = polled.response
    return campaign.from_response(
        context.run_id,
        polled.ref,
        status=response.status,
        # Handed over: from_response lets a big campaign's body go once it is decoded.
        body=response.take_body(),
        received_at=response.received_at,
        elapsed_ms=response.elapsed_ms,
        attempts=polled.attempts,
        options=context.records,
        inventory=inventory,
    )
