"""The run: ids -> bounded channel -> fixed pool of workers -> one writer -> sink.

Structured concurrency throughout: one anyio task group, bounded memory object streams,
no task per id. The writer is the only task that touches the sink, so a campaign's lines
are written contiguously and the run line comes last.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime

import anyio
import msgspec
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fota_poller.api.client import TokenSource, UpgradeClient, open_session, upgrade_url
from fota_poller.config import Config, parse_duration
from fota_poller.errors import AuthenticationError, ExitCode, FotaPollerError, OutputError
from fota_poller.ids.discover import with_discovered
from fota_poller.ids.lists import CampaignRef, InvalidLine
from fota_poller.ids.seen import SeenCampaigns
from fota_poller.ids.sources import batches_of
from fota_poller.observe.failure_log import FailureLog
from fota_poller.observe.tally import AttemptCounter, RunTally
from fota_poller.output import campaign
from fota_poller.output.campaign import CampaignResult, RecordBatch, format_timestamp
from fota_poller.output.records import RunRecord
from fota_poller.output.sink import RunOutput, Sink
from fota_poller.pacing.gate import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import RetryingGetter, RetryPolicy, fetch_with_retries
from fota_poller.run import channels
from fota_poller.run.stop import RunControl, StopReason, enforce_stop, stop_at_deadline

log = structlog.get_logger("fota_poller")

_encoder = msgspec.json.Encoder()

WorkItem = CampaignRef | InvalidLine
WriterItem = CampaignResult | RecordBatch

# Records of campaigns a stopped run never started, encoded and written together.
_NOT_POLLED_BATCH = 4096


class InputState(msgspec.Struct):
    """How reading the input went; what was written is counted by the run's `RunTally`."""

    input_exhausted: bool = False
    input_error: str | None = None
    input_error_code: ExitCode = ExitCode.USAGE


class _Stage(msgspec.Struct):
    """What the feeder and the workers share."""

    run_id: str
    client: UpgradeClient
    control: RunControl
    input: InputState
    tally: RunTally
    base_url: str
    policy: RetryPolicy
    backoff: SharedBackoff
    # Cancel scopes of the campaigns being polled, cancelled when a stop's grace runs out.
    in_flight: set[anyio.CancelScope]


async def run_poll(
    config: Config,
    refs: AsyncIterable[WorkItem],
    tokens: TokenSource,
    sink: Sink,
    control: RunControl | None = None,
    *,
    tally: RunTally | None = None,
) -> RunRecord:
    """Poll every campaign `refs` yields, write all records to `sink` and commit it.

    Campaigns found by discovery (config `discover`) join `refs`; `tally` counts as it goes.
    An output that cannot be written aborts the run and is discarded (see `_output_failed`).
    Returns the run record.
    """
    run_id = str(uuid.uuid4())
    control = control if control is not None else RunControl()
    output = RunOutput(sink, functools.partial(_output_failed, control))
    tally = tally if tally is not None else RunTally()
    started = datetime.now(UTC)
    log.info(
        "run.started",
        run_id=run_id,
        base_url=config.api.base_url,
        concurrency=config.poll.concurrency,
        rate=config.poll.rate,
    )
    input_state = InputState()
    failures = FailureLog()
    workers = config.poll.concurrency
    work_send, work_receive = anyio.create_memory_object_stream[WorkItem](workers)
    result_send, result_receive = anyio.create_memory_object_stream[WriterItem](workers)
    deadline = config.poll.deadline
    deadline_s = None if deadline is None else parse_duration(deadline)
    limiter = RateLimiter(config.poll.rate)
    max_body = int(config.poll.max_response_mb * 1024 * 1024)
    async with open_session(config) as session, anyio.create_task_group() as guard:
        client = UpgradeClient(
            session, config.api.base_url, tokens, limiter, tally=tally, max_body_bytes=max_body
        )
        stage = _Stage(
            run_id=run_id,
            client=client,
            control=control,
            input=input_state,
            tally=tally,
            base_url=config.api.base_url,
            policy=RetryPolicy.from_config(config.poll),
            backoff=SharedBackoff(limiter, BackoffSettings.from_config(config.poll)),
            in_flight=set(),
        )
        abortable = anyio.CancelScope()
        guard.start_soon(enforce_stop, control, config.poll.grace_s, stage.in_flight, abortable)
        if deadline is not None and deadline_s is not None:
            guard.start_soon(stop_at_deadline, control, deadline_s, deadline)
        with abortable:
            async with anyio.create_task_group() as group:
                pages = RetryingGetter(client, stage.policy, stage.backoff, control, tally)
                batches = batches_of(with_discovered(group, config, pages, control, refs))
                async with work_receive, result_send:
                    group.start_soon(_feed, stage, batches, work_send, result_send.clone())
                    for _ in range(workers):
                        group.start_soon(_work, stage, work_receive.clone(), result_send.clone())
                group.start_soon(_write, result_receive, output, tally, failures)
        # The run is over: the deadline and the stop enforcer have nothing left to guard.
        guard.cancel_scope.cancel()

    run = _run_record(stage, started, datetime.now(UTC), output.failure)
    output.write(_encoder.encode(run) + b"\n")
    output.commit()
    if output.failure is not None:
        run = _run_record(stage, started, datetime.now(UTC), output.failure)
    if output.failure is None:
        # A lost output was said in one line; a summary of records nobody will read is noise.
        failures.finish(tally)
    log.info("run.finished", **msgspec.structs.asdict(run))
    return run


def _output_failed(control: RunControl, exc: OutputError) -> None:
    """The output is lost: say so in one line and abort, as no record can be kept any more."""
    report = log.warning if exc.exit_code is ExitCode.OUTPUT_CLOSED else log.error
    report(exc.event, output=exc.output, error=exc.reason)
    control.abort(StopReason(error_kind="not_polled", message=str(exc), exit_code=exc.exit_code))


def _run_record(
    stage: _Stage, started: datetime, finished: datetime, output_failure: OutputError | None
) -> RunRecord:
    """The run line: the counts from the tally, the verdict from how input, stop and output went."""
    read = stage.input
    stop = stage.control.stop_reason
    if output_failure is not None:
        exit_code = output_failure.exit_code
    elif read.input_error is not None and (stop is None or read.input_error_code is ExitCode.USAGE):
        exit_code = read.input_error_code
    elif stop is not None:
        # A source that failed after a stop most likely failed because of it.
        exit_code = stop.exit_code
    elif stage.tally.campaigns_by_outcome["failed"]:
        exit_code = ExitCode.CAMPAIGNS_FAILED
    else:
        exit_code = ExitCode.OK
    return stage.tally.run_record(
        run_id=stage.run_id,
        started_at=format_timestamp(started),
        finished_at=format_timestamp(finished),
        duration_s=round((finished - started).total_seconds(), 3),
        complete=read.input_exhausted and stop is None and output_failure is None,
        exit_code=int(exit_code),
    )


async def _feed(
    stage: _Stage,
    batches: AsyncIterator[list[WorkItem]],
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
                    if stage.control.stop_reason is not None:
                        await _account_unpolled(stage, seen, batch[position:], not_polled, results)
                        break
                    if isinstance(item, CampaignRef) and not seen.add(item):
                        continue
                    stage.tally.campaign_queued()
                    await channels.send(work, item)
                if len(not_polled) >= _NOT_POLLED_BATCH:
                    await channels.send(results, _not_polled_batch(stage, not_polled))
                    not_polled = []
        except FotaPollerError as exc:
            # An unreadable id list or a failed discovery page: what was read is still polled
            # and written; the run says it is incomplete.
            stage.input.input_error = str(exc)
            stage.input.input_error_code = exc.exit_code
            log.error("input.failed", error=str(exc))
        else:
            stage.input.input_exhausted = True
        finally:
            stage.tally.sources_ended()
        if not_polled:
            await channels.send(results, _not_polled_batch(stage, not_polled))


async def _account_unpolled(
    stage: _Stage,
    seen: SeenCampaigns,
    items: list[WorkItem],
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
    stage.tally.campaigns_queued_in_bulk(len(fresh) + len(invalid))
    not_polled += fresh
    for line in invalid:
        await channels.send(results, campaign.from_invalid_line(stage.run_id, line))


def _not_polled_batch(stage: _Stage, refs: list[CampaignRef]) -> RecordBatch:
    stop = stage.control.stop_reason
    assert stop is not None  # noqa: S101 - only campaigns of a stopped run are batched
    return campaign.not_polled_batch(
        stage.run_id, refs, kind=stop.error_kind, message=stop.message, code=stop.error_code
    )


async def _work(
    stage: _Stage,
    work: MemoryObjectReceiveStream[WorkItem],
    results: MemoryObjectSendStream[CampaignResult],
) -> None:
    """One worker: one request in flight at a time, so N workers bound the concurrency.

    The worker's cancel scope (in `stage.in_flight`) is cancelled when a stop's grace runs
    out; the campaign it was polling then gets a not_polled record and the worker drains the
    rest. One scope per worker, not per campaign: a scope costs more than a whole request.
    """
    current: WorkItem | None = None  # being polled
    counter = AttemptCounter()
    pending: CampaignResult | None = None  # made, not yet handed to the writer
    async with work, results:
        while True:
            with anyio.CancelScope() as scope:
                stage.in_flight.add(scope)
                try:
                    if pending is not None:
                        await channels.send(results, pending)
                        pending = None
                    async for item in channels.receive_all(work):
                        stop = stage.control.stop_reason
                        if stop is not None:
                            pending = _not_started(stage.run_id, item, stop)
                        else:
                            current, counter = item, AttemptCounter(stage.tally)
                            pending = await _poll_one(stage, item, counter)
                            current = None
                        await channels.send(results, pending)
                        pending = None
                    return
                finally:
                    stage.in_flight.discard(scope)
            if current is not None:
                stop = stage.control.stop_reason
                assert stop is not None  # noqa: S101 - only the stop enforcer cancels this scope
                pending = _not_started(stage.run_id, current, stop, counter.count)
                current = None


def _not_started(
    run_id: str, item: WorkItem, stop: StopReason, attempts: int = 0
) -> CampaignResult:
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


async def _poll_one(stage: _Stage, item: WorkItem, counter: AttemptCounter) -> CampaignResult:
    if isinstance(item, InvalidLine):
        return campaign.from_invalid_line(stage.run_id, item)
    url = upgrade_url(stage.base_url, item)
    try:
        fetched = await fetch_with_retries(
            stage.client,
            url,
            stage.policy,
            stage.backoff,
            stage.control,
            counter=counter,
        )
    except AuthenticationError as exc:
        # No token can be had: stop the run; the campaigns not yet polled get "auth" too.
        auth_stop = StopReason(
            error_kind="auth",
            message=str(exc),
            exit_code=ExitCode.AUTH_FAILED,
            error_code=exc.error_code,
        )
        stage.control.stop(auth_stop)
        # The last attempt counted may have sent nothing: the auth failed before it could.
        attempts = counter.count - (exc.requests_sent == 0)
        return _not_started(stage.run_id, item, auth_stop, max(attempts, 0))
    if fetched.error is not None:
        return campaign.from_request_error(
            stage.run_id,
            item,
            kind=fetched.error.kind,
            message=str(fetched.error),
            attempts=fetched.attempts,
            http_status=fetched.error.status,
        )
    if fetched.response is None:
        stop = stage.control.stop_reason
        assert stop is not None  # noqa: S101 - a fetch ends with no answer only when stopped
        return _not_started(stage.run_id, item, stop, fetched.attempts)
    response = fetched.response
    return campaign.from_response(
        stage.run_id,
        item,
        status=response.status,
        body=response.body,
        received_at=response.received_at,
        elapsed_ms=response.elapsed_ms,
        attempts=fetched.attempts,
    )


async def _write(
    results: MemoryObjectReceiveStream[WriterItem],
    sink: Sink,
    tally: RunTally,
    failures: FailureLog,
) -> None:
    """The only writer: each campaign's device lines, then its campaign line.

    A batch of a stopped run's not polled records is one write and one tally update.
    """
    async with results:
        async for result in channels.receive_all(results):
            if isinstance(result, RecordBatch):
                sink.write(result.lines)
                first = result.first
                assert first.error_kind is not None  # noqa: S101 - a batch is of failed records
                tally.campaigns_failed_in_bulk(first.error_kind, result.count)
                failures.failed_in_bulk(first)
                continue
            record = result.record
            # One write, so a sink that flushes per write flushes once per campaign; join
            # copies the device lines once (`a + b + c` would copy them twice).
            sink.write(b"".join((result.device_lines, _encoder.encode(record), b"\n")))
            tally.campaign_written(record)
            if record.outcome != "ok":
                failures.failed(record)
