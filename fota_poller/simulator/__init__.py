"""A deterministic ThingSpace FOTA simulator served on loopback, for tests and benchmarks."""

from fota_poller.simulator.auth_routes import AuthStats, SimulatorAuth, SimulatorAuthOptions
from fota_poller.simulator.catalog import (
    Catalog,
    SimulatedCampaign,
    SimulatedDevice,
    SimulatorOptions,
)
from fota_poller.simulator.counting import SimulatorStats
from fota_poller.simulator.evolve import EvolveOptions
from fota_poller.simulator.server import RunningSimulator, build_app, run_simulator, serve_forever

__all__ = [
    "AuthStats",
    "Catalog",
    "EvolveOptions",
    "RunningSimulator",
    "SimulatedCampaign",
    "SimulatedDevice",
    "SimulatorAuth",
    "SimulatorAuthOptions",
    "SimulatorOptions",
    "SimulatorStats",
    "build_app",
    "run_simulator",
    "serve_forever",
]
