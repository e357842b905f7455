"""How a `poll` process runs: its event loop, and its garbage collector during the run."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import sys
from collections.abc import Iterator
from typing import Final

# Allocations between two young collections during a run (`collector_for_a_run`).
_RUN_GC_THRESHOLD: Final = 10_000


@contextlib.contextmanager
def collector_for_a_run() -> Iterator[None]:
    """The cyclic garbage collector set for a run, and set back after it (issue 23).

    What is there before the run (modules, classes, the config: some 48,000 objects) is
    frozen, so that a full collection does not walk it again and again; and a collection
    starts after 10,000 allocations rather than 700. Most of a run's allocations are freed by
    their reference counts (answers, records); the few cycles (exceptions and their
    tracebacks) wait a little longer. Measured on 10,000 campaigns x 100 devices (the bench's
    throughput night), alternated: 3.28-3.55 s against 3.90-4.00 s without; before, 13 full
    collections took 0.24 s of the run and 1,600 young ones 0.09 s.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(_RUN_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def event_loop_options() -> dict[str, bool]:
    """The event loop for `poll`: uvloop where installed, as it costs less CPU per request."""
    uvloop = sys.platform != "win32" and importlib.util.find_spec("uvloop") is not None
    return {"use_uvloop": uvloop}
