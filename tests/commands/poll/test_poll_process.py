"""commands/poll/process.py: the collector a run is given is the process's again after it."""

from __future__ import annotations

import gc

import pytest

from fota_poller.commands.poll.process import collector_for_a_run


def test_the_collector_is_set_for_the_run_and_set_back_after_it() -> None:
    before = gc.get_threshold()
    with collector_for_a_run():
        assert gc.get_threshold()[0] > before[0]  # fewer young collections
        assert gc.get_freeze_count() > 0  # what was there before is not walked again
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_run_that_raises_sets_the_collector_back_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector_for_a_run():
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
