"""The run: ids -> bounded channel -> fixed pool of workers -> one writer -> sink.

This module wires one run's feeder, workers and writer (context.py: what they share) with
structured concurrency: one task group, bounded streams, no task per id. The writer alone
touches the sink, so the run line, written here, comes last.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterable
from datetime import UTC, datetime

import anyio
import msgspec
import structlog

from fota_poller.api.client import TokenSource, UpgradeClient, open_session
from fota_poller.api.redact import Redactor
from fota_poller.config import Config
from fota_poller.errors import ExitCode, OutputError, StateWriteError
from fota_poller.ids.discover import with_discovered
from fota_poller.ids.sources import batches_of
from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import RunRecord
from fota_poller.model.stop import RunControl, StopReason
from fota_poller.model.tally import RunTally
from fota_poller.model.timestamps import format_timestamp
from fota_poller.observe.failure_log import FailureLog
from fota_poller.output.campaign import RecordOptions
from fota_poller.output.sink import RunOutput, Sink
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import RetryingGetter, RetryPolicy
from fota_poller.run import stop
from fota_poller.run.context import InputItem, InputState, RunContext, WorkItem, WriterItem
from fota_poller.run.feeder import feed
from fota_poller.run.inventories import inventories_failed
from fota_poller.run.state_sync import RunState
from fota_poller.run.workers import poll_campaigns
from fota_poller.run.writer import write_records
from fota_poller.state.store import StateStore

log = structlog.get_logger("fota_poller")

_encoder = msgspec.json.Encoder()


async def run_poll(
    config: Config,
    refs: AsyncIterable[InputItem],
    tokens: TokenSource,
    sink: Sink,
    control: RunControl | None = None,
    *,
    tally: RunTally | None = None,
    state: StateStore | None = None,
    run_id: str | None = None,
    redactor: Redactor | None = None,
) -> RunRecord:
    """Poll every campaign `refs` yields, write all records to `sink` and commit it.

    Campaigns found by discovery (config `discover`) join `refs`; `tally` counts as it goes.
    An output that cannot be written aborts the run and is discarded (see `_output_failed`).
    With a `state`, records carry the change fields and the state learns what the records
    reported, once they are durable (run/state_sync.py). Returns the run record.
    Every log line of the run carries its `run_id` (a structlog context variable): `run_id`
    when the caller made it first (commands/poll/core.py does, for the lines before and
    after), else a new one.
    """
    run_id = run_id if run_id is not None else new_run_id()
    # Bound before any task starts: anyio tasks copy the context when they are spawned.
    bound = structlog.contextvars.bind_contextvars(run_id=run_id)
    try:
        return await _run_poll(
            config, refs, tokens, sink,
            control=control, tally=tally, state=state, run_id=run_id, redactor=redactor,
        )  # fmt: skip
    finally:
        structlog.contextvars.reset_contextvars(**bound)


def new_run_id() -> str:
    """A new run's id: a random UUID, as the run record and every log line carry it."""
    return str(uuid.uuid4())


async def _run_poll(
    config: Config,
    refs: AsyncIterable[InputItem],
    tokens: TokenSource,
    sink: Sink,
    *,
    control: RunControl | None,
    tally: RunTally | None,
    state: StateStore | None,
    run_id: str,
    redactor: Redactor | None,
) -> RunRecord:
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
    failures = FailureLog()
    workers = config.poll.concurrency
    work_send, work_receive = anyio.create_memory_object_stream[WorkItem](workers)
    result_send, result_receive = anyio.create_memory_object_stream[WriterItem](workers)
    deadline = config.poll.deadline
    limiter = RateLimiter(config.poll.rate)
    max_body = config.poll.max_response_bytes
    run_state = _start_state(state, run_id, started, sink, config.state.history_days)
    records = RecordOptions(
        phases=PhaseTable(config.phases),
        previous=None if run_state is None else run_state.previous,
        stalled_after=config.phases.stalled_after,
        emit_same=config.output.emit == "all",
        # The run's redactor (a fresh one when None: it still redacts credential patterns
        # and bounds error text), for every record's server text.
        redactor=redactor if redactor is not None else Redactor(),
    )
    async with open_session(config) as session, anyio.create_task_group() as guard:
        client = UpgradeClient(
            session, config.api.base_url, tokens, limiter, tally=tally, max_body_bytes=max_body
        )
        context = RunContext(
            run_id=run_id,
            client=client,
            control=control,
            input=InputState(),
            tally=tally,
            base_url=config.api.base_url,
            policy=RetryPolicy.from_config(config.poll),
            backoff=SharedBackoff(limiter, BackoffSettings.from_config(config.poll)),
            in_flight=set(),
            records=records,
        )
        abortable = anyio.CancelScope()
        guard.start_soon(
            stop.enforce_stop, control, config.poll.grace_s, context.in_flight, abortable
        )
        if deadline is not None:
            guard.start_soon(stop.stop_at_deadline, control, deadline.seconds, deadline.text)
        with abortable:
            async with anyio.create_task_group() as group:
                if config.inventory.enabled:
                    context.open_inventories(group, workers)
                pages = RetryingGetter(client, context.policy, context.backoff, control, tally)
                batches = batches_of(with_discovered(group, config, pages, control, refs))
                async with work_receive, result_send:
                    group.start_soon(feed, context, batches, work_send, result_send.clone())
                    for _ in range(workers):
                        group.start_soon(
                            poll_campaigns, context, work_receive.clone(), result_send.clone()
                        )
                writer = functools.partial(write_records, redactor=records.redactor)
                group.start_soon(writer, result_receive, output, tally, failures, run_state)
        # The run is over: the deadline and the stop enforcer have nothing left to guard.
        guard.cancel_scope.cancel()

    records.phases.log_unknown_not_logged()
    # An abort that cut the stages short (a second signal's records not in time, a third
    # signal) left campaigns with no record: such an output must not replace the last one.
    lost = control.abort_reason if abortable.cancelled_caught and output.failure is None else None
    state_failure = None if run_state is None else run_state.failure
    finished = datetime.now(UTC)
    run = _run_record(context, started, finished, output.failure, state_failure, lost=lost)
    _say_if_nothing_to_poll(context)
    _end_output(output, run, context, lost)
    if output.failure is not None:
        run = _run_record(context, started, datetime.now(UTC), output.failure, state_failure)
    if run_state is not None:
        # After the commit: the state learns only what durable records reported.
        durable = output.failure is None and (lost is None or output.durable_per_write)
        run_state.finish(records_durable=durable)
        if run_state.failure is not None and state_failure is None:
            # The run line is written already; the exit code still says the state failed.
            run = msgspec.structs.replace(run, exit_code=int(run_state.failure.exit_code))
    if output.failure is None:
        # A lost output was said in one line; a summary of records nobody will read is noise.
        failures.finish(tally)
    log.info("run.finished", **msgspec.structs.asdict(run))
    return run


def _start_state(
    state: StateStore | None, run_id: str, started: datetime, sink: Sink, history_days: int
) -> RunState | None:
    """The run's side of the state database (None without one), its run started."""
    if state is None:
        return None
    state.start_run(run_id, format_timestamp(started), history_days=history_days)
    return RunState(state, commit_as_written=sink.durable_per_write)


def _output_failed(control: RunControl, exc: OutputError) -> None:
    """The output is lost: say so in one line and abort, as no record can be kept any more."""
    report = log.warning if exc.exit_code is ExitCode.OUTPUT_CLOSED else log.error
    report(exc.event, output=exc.output, error=exc.reason)
    control.abort(StopReason(error_kind="not_polled", message=str(exc), exit_code=exc.exit_code))


def _end_output(
    output: RunOutput, run: RunRecord, ctx: RunContext, lost: StopReason | None
) -> None:
    """Write the run line, last; commit, unless `lost` left campaigns with no record."""
    output.write(_encoder.encode(run) + b"\n")
    if lost is None:
        output.commit()
        if ctx.control.hurry_reason is not None and output.failure is None:
            # A second signal, and still every campaign has its record: say it was kept.
            log.warning("run.accounted", campaigns=ctx.tally.campaigns_written)
        return
    # Kept out of the file: the previous output, every campaign in it, stays as it was.
    output.discard()
    if output.durable_per_write:
        log.error(
            "output.incomplete",
            reason=lost.message,
            detail="the records written do not account for every campaign of the run",
        )
    else:
        log.error(
            "output.not_committed",
            reason=lost.message,
            detail="not every campaign had its record in time: the previous file is as it was",
        )


def _run_record(
    context: RunContext,
    started: datetime,
    finished: datetime,
    output_failure: OutputError | None,
    state_failure: StateWriteError | None = None,
    *,
    lost: StopReason | None = None,
) -> RunRecord:
    """The run line: the counts from the tally, the verdict from how input, stop and output went.

    `lost` is the abort that left campaigns without a record: its exit code is the run's.
    """
    read = context.input
    stop_reason = context.control.stop_reason
    if lost is not None:
        exit_code = lost.exit_code
    elif output_failure is not None:
        exit_code = output_failure.exit_code
    elif state_failure is not None:
        exit_code = state_failure.exit_code
    elif read.input_error is not None and (
        stop_reason is None or read.input_error_code is ExitCode.USAGE
    ):
        exit_code = read.input_error_code
    elif stop_reason is not None:
        # A source that failed after a stop most likely failed because of it.
        exit_code = stop_reason.exit_code
    elif _nothing_to_poll(context):
        exit_code = ExitCode.USAGE
    elif context.tally.campaigns_by_outcome["failed"] or inventories_failed(context.inventories):
        exit_code = ExitCode.CAMPAIGNS_FAILED
    else:
        exit_code = ExitCode.OK
    return context.tally.run_record(
        run_id=context.run_id,
        started_at=format_timestamp(started),
        finished_at=format_timestamp(finished),
        duration_s=round((finished - started).total_seconds(), 3),
        complete=read.input_exhausted and stop_reason is None and output_failure is None,
        exit_code=int(exit_code),
    )


def _say_if_nothing_to_poll(context: RunContext) -> None:
    """One error line when no line the input gave was usable (the run's exit is then 2)."""
    if _nothing_to_poll(context):
        invalid = context.tally.failed_by_error_kind["invalid_input"]
        log.error(
            "input.nothing_to_poll",
            error=f"nothing to poll: none of the {invalid} lines read is usable",
        )


def _nothing_to_poll(context: RunContext) -> bool:
    """Every line the input gave was invalid: a usage error (exit 2), not a night to use.

    Lists that are files are refused so before the run (ids/lists.py); this is the same
    verdict for a list read from a pipe, or beside discovery, known only at the end.
    """
    tally = context.tally
    invalid = tally.failed_by_error_kind["invalid_input"]
    finished = context.input.input_exhausted and context.control.stop_reason is None
    return finished and 0 < invalid == tally.campaigns_written
