"""Politeness: the rate limit and the concurrency bound, as a counting server sees them."""

from __future__ import annotations

from pathlib import Path

from helpers import SimulatorFactory, poll_in_process


def ids_file(tmp_path: Path, pairs: list[tuple[str, str]]) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{a},{u}\n" for a, u in pairs))
    return path


async def test_rate_20_never_puts_more_than_20_starts_in_any_second(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    async with simulator(campaigns=70, devices_min=1, devices_max=3) as sim:
        ids = ids_file(tmp_path, list(sim.catalog.ids()))
        output = await poll_in_process(sim, [ids], concurrency=50, rate=20)
    assert output.run.campaigns_ok == 70
    starts = sorted(sim.stats.request_starts)
    assert len(starts) == 70
    assert sim.stats.max_starts_in_window(1.0) == 20
    # No start-up burst: the first 20 starts alone span most of a second.
    assert starts[20] - starts[0] >= 0.95


async def test_concurrency_5_never_has_more_than_5_in_flight(
    simulator: SimulatorFactory, tmp_path: Path
) -> None:
    async with simulator(campaigns=60, devices_min=1, devices_max=3, latency_ms=30) as sim:
        ids = ids_file(tmp_path, list(sim.catalog.ids()))
        output = await poll_in_process(sim, [ids], concurrency=5, rate=0)
    assert output.run.campaigns_ok == 60
    assert sim.stats.max_in_flight == 5
