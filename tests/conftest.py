"""Shared fixtures: a simulator on loopback, and a way to run `poll` in-process or as a process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import msgspec
import pytest

from fota_poller.api.auth import StaticTokens
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.ids.lists import close_id_sources, open_id_sources, read_refs
from fota_poller.output.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import RunningSimulator, SimulatorOptions, run_simulator

RecordDecoder = msgspec.json.Decoder(DeviceRecord | CampaignRecord | RunRecord)


class PollOutput(msgspec.Struct):
    """A run's records, split by kind, in the order they were written."""

    lines: list[DeviceRecord | CampaignRecord | RunRecord]

    @property
    def devices(self) -> list[DeviceRecord]:
        return [r for r in self.lines if isinstance(r, DeviceRecord)]

    @property
    def campaigns(self) -> list[CampaignRecord]:
        return [r for r in self.lines if isinstance(r, CampaignRecord)]

    @property
    def run(self) -> RunRecord:
        last = self.lines[-1]
        assert isinstance(last, RunRecord), "the run record must be the last line"
        return last


def parse_output(data: bytes) -> PollOutput:
    return PollOutput([RecordDecoder.decode(line) for line in data.splitlines()])


class _MemorySink:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self.buffer.write(data)

    def commit(self) -> None:
        pass

    def discard(self) -> None:
        pass


class FakeClock:
    """A monotonic clock a test moves by hand: token lifetimes and back-off without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


SimulatorFactory = Callable[..., AbstractAsyncContextManager[RunningSimulator]]


@pytest.fixture
def simulator() -> SimulatorFactory:
    """`async with simulator(campaigns=..) as sim:` starts a simulator on a free loopback port."""

    def start(**options: object) -> AbstractAsyncContextManager[RunningSimulator]:
        return run_simulator(SimulatorOptions(**options))  # type: ignore[arg-type]

    return start


def simulator_tokens(sim: RunningSimulator) -> StaticTokens:
    return StaticTokens(sim.options.bearer_token, sim.options.session_token)


async def poll_in_process(
    sim: RunningSimulator,
    id_files: Sequence[Path],
    *,
    concurrency: int = 8,
    rate: float = 0,
    account: str | None = None,
) -> PollOutput:
    """Run the real pipeline against `sim` and return what it wrote."""
    config = Config(
        api=ApiConfig(base_url=sim.base_url, account=account),
        poll=PollConfig(concurrency=concurrency, rate=rate),
    )
    sink = _MemorySink()
    sources = open_id_sources([str(path) for path in id_files])
    try:
        await run_poll(config, read_refs(sources, account), simulator_tokens(sim), sink)
    finally:
        close_id_sources(sources)
    return parse_output(sink.buffer.getvalue())


def run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m fota_poller ARGS` as a process, with no inherited ThingSpace variables."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSPACE_")}
    return subprocess.run(
        [sys.executable, "-m", "fota_poller", *args],
        env={**base_env, **(env or {})},
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
async def small_simulator(simulator: SimulatorFactory) -> AsyncIterator[RunningSimulator]:
    async with simulator(campaigns=30, devices_min=1, devices_max=50, seed=7) as sim:
        yield sim
