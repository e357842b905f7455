"""Several sources of campaigns read at once into one bounded stream.

The id lists and discovery both feed the workers while either is still producing, so
polling starts with the first ids, whichever source they come from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

import anyio
import structlog
from anyio.abc import ObjectSendStream, TaskGroup

from fota_poller.errors import FotaPollerError

T = TypeVar("T")

log = structlog.get_logger("fota_poller")


def merge_sources(
    group: TaskGroup, sources: Sequence[AsyncIterator[T]], buffer: int
) -> AsyncIterator[T]:
    """Read every source in its own task of `group`; yield their items as they come.

    At most `buffer` items wait between the sources and the reader. A source that fails with
    a `FotaPollerError` stops alone; the others go on, and the first such error is raised
    once every source has ended, so the reader still sees everything that was read.
    """
    send, receive = anyio.create_memory_object_stream[T](buffer)
    failures: list[FotaPollerError] = []
    with send:
        for source in sources:
            group.start_soon(_pump, source, send.clone(), failures)
    return _drain(receive, failures)


async def _pump(
    source: AsyncIterator[T], send: ObjectSendStream[T], failures: list[FotaPollerError]
) -> None:
    async with send:
        try:
            async for item in source:
                await send.send(item)
        except FotaPollerError as exc:
            failures.append(exc)
        except anyio.BrokenResourceError:
            # The reader stopped early: nothing left to deliver to.
            return


async def _drain(
    receive: anyio.abc.ObjectReceiveStream[T], failures: list[FotaPollerError]
) -> AsyncIterator[T]:
    async with receive:
        async for item in receive:
            yield item
    for later in failures[1:]:
        # Only the first is raised; the others must not vanish.
        log.error("source.failed", error=str(later))
    if failures:
        raise failures[0]
