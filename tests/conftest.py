"""Shared fixtures: a clock moved by hand and a simulator on loopback. Helpers: helpers.py."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager

import pytest
import structlog

from fota_poller.run.stop import STOP_SIGNALS
from fota_poller.simulator import RunningSimulator, SimulatorOptions, run_simulator

# Before the import, so that a failed assert in a helper shows its values as in a test.
pytest.register_assert_rewrite("helpers")

from helpers import FakeClock, SimulatorFactory  # noqa: E402


@pytest.fixture(autouse=True)
def own_login_memory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test its own failed-login memory folder: a wrong password in one test (or in the
    user's own runs) must not bar another test's logins, nor reach ~/.local/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


@pytest.fixture(autouse=True)
def restore_stop_signals() -> Iterator[None]:
    """A run in this process ignores SIGINT, SIGTERM and SIGHUP once over; later tests must not."""
    saved = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator() -> SimulatorFactory:
    """`async with simulator(campaigns=..) as sim:` starts a simulator on a free loopback port."""

    def start(**options: object) -> AbstractAsyncContextManager[RunningSimulator]:
        return run_simulator(SimulatorOptions(**options))  # type: ignore[arg-type]

    return start


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """main() points structlog at this test's captured stderr; later tests must not log there."""
    yield
    structlog.reset_defaults()


@pytest.fixture
async def slow_simulator() -> AsyncIterator[RunningSimulator]:
    """2,000 campaigns answered after 5 ms each: a CLI run lasts long enough to interrupt."""
    options = SimulatorOptions(campaigns=2000, devices_min=1, devices_max=5, latency_ms=5)
    async with run_simulator(options) as simulator:
        yield simulator


@pytest.fixture
async def small_simulator(simulator: SimulatorFactory) -> AsyncIterator[RunningSimulator]:
    async with simulator(campaigns=30, devices_min=1, devices_max=50, seed=7) as sim:
        yield sim
