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
from fota_poller.simulator.inventory import CampaignDeviceTruth, InventoryOptions, InventoryTruth
from fota_poller.simulator.inventory_pages import DeviceInventory
from fota_poller.simulator.server import RunningSimulator, build_app, run_simulator, serve_forever

__all__ = [
    "AuthStats",
    "CampaignDeviceTruth",
    "Catalog",
    "DeviceInventory",
    "EvolveOptions",
    "InventoryOptions",
    "InventoryTruth",
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
