"""The single writer: the only task that touches the sink, so a campaign's lines stay together."""

from __future__ import annotations

import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream

from fota_poller.api.redact import Redactor
from fota_poller.model.tally import RunTally
from fota_poller.observe.failure_log import FailureLog
from fota_poller.output.not_polled import RecordBatch
from fota_poller.output.redacted import redacted_record
from fota_poller.output.sink import RunOutput
from fota_poller.run import channels
from fota_poller.run.context import WriterItem
from fota_poller.run.state_sync import RunState

_encoder = msgspec.json.Encoder()


async def write_records(
    results: MemoryObjectReceiveStream[WriterItem],
    sink: RunOutput,
    tally: RunTally,
    failures: FailureLog,
    state: RunState | None = None,
    *,
    redactor: Redactor | None = None,
) -> None:
    """The only writer: each campaign's device lines, then its campaign line.

    A batch of a stopped run's not polled records is one write and one tally update. An ok
    campaign's changes go to `state` once its lines are written, never before. Every
    record's error text passes through `redactor` (the run's) on its way out, so the
    output, the logs and the metrics see it redacted and bounded.
    """
    redactor = redactor if redactor is not None else Redactor()
    async with results:
        async for result in channels.receive_all(results):
            if isinstance(result, RecordBatch):
                sink.write(result.lines)  # its message was redacted and cut in the feeder
                first = redacted_record(result.first, redactor)
                assert first.error_kind is not None  # noqa: S101 - a batch is of failed records
                tally.campaigns_failed_in_bulk(first.error_kind, result.count)
                failures.failed_in_bulk(first)
                continue
            record = redacted_record(result.record, redactor)
            # The device lines are encoded a chunk at a time as they are written (a big
            # campaign's lines would be hundreds of MB at once); the last chunk goes with the
            # campaign line in one write, so a campaign of one chunk (most) is one write and,
            # with a sink that flushes per write, one flush.
            last = b""
            if result.lines is not None:
                for chunk in result.lines.chunks():
                    if last:
                        sink.write(last)
                    last = chunk
            sink.write(b"".join((last, _encoder.encode(record), b"\n")))
            del last
            tally.campaign_written(record)
            if result.update is not None and state is not None and sink.failure is None:
                state.written(result.update)
            if record.outcome != "ok":
                failures.failed(record)
