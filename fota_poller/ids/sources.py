"""What an id source is, and several sources read at once into one bounded stream.

A source hands over its items a batch at a time (`Batched`): an id list a few hundred lines
per read, discovery a report page. A stopped run must still read and account for every id
left, and one async step per id cost more than parsing it; one step per batch does not.
Iterating a `Batched` yields single items, for callers that want them one by one.

The id lists and discovery both feed the workers while either is still producing, so
polling starts with the first ids, whichever source they come from.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Generic, TypeVar

import anyio
import structlog
from anyio.abc import ObjectSendStream, TaskGroup

from fota_poller.errors import FotaPollerError

T = TypeVar("T")

log = structlog.get_logger("fota_poller")


class Batched(Generic[T]):
    """A source of items read in batches: `batches` yields lists, iterating yields items."""

    def __init__(self, batches: AsyncIterator[list[T]]) -> None:
        self.batches = batches

    def __aiter__(self) -> AsyncIterator[T]:
        return _items(self.batches)


async def _items(batches: AsyncIterator[list[T]]) -> AsyncIterator[T]:
    async for batch in batches:
        for item in batch:
            yield item


def batches_of(source: AsyncIterable[T]) -> AsyncIterator[list[T]]:
    """The batches of a `Batched` source; any other source's items one per batch."""
    if isinstance(source, Batched):
        return source.batches
    return _one_per_batch(source)


async def _one_per_batch(source: AsyncIterable[T]) -> AsyncIterator[list[T]]:
    async for item in source:
        yield [item]


def merge_sources(group: TaskGroup, sources: Sequence[AsyncIterable[T]], buffer: int) -> Batched[T]:
    """Read every source in its own task of `group`; yield their batches as they come.

    At most `buffer` batches wait between the sources and the reader. A source that fails
    with a `FotaPollerError` stops alone; the others go on, and the first such error is raised
    once every source has ended, so the reader still sees everything that was read.
    """
    send, receive = anyio.create_memory_object_stream[list[T]](buffer)
    failures: list[FotaPollerError] = []
    with send:
        for source in sources:
            group.start_soon(_pump, batches_of(source), send.clone(), failures)
    return Batched(_drain(receive, failures))


async def _pump(
    source: AsyncIterator[list[T]],
    send: ObjectSendStream[list[T]],
    failures: list[FotaPollerError],
) -> None:
    async with send:
        try:
            async for batch in source:
                await send.send(batch)
        except FotaPollerError as exc:
            failures.append(exc)
        except anyio.BrokenResourceError:
            # The reader stopped early: nothing left to deliver to.
            return


async def _drain(
    receive: anyio.abc.ObjectReceiveStream[list[T]], failures: list[FotaPollerError]
) -> AsyncIterator[list[T]]:
    async with receive:
        async for batch in receive:
            yield batch
    for later in failures[1:]:
        # Only the first is raised; the others must not vanish.
        log.error("source.failed", error=str(later))
    if failures:
        raise failures[0]
