"""Poll Verizon ThingSpace FOTA upgrade campaigns and stream one JSON line per device.

The command line (`fota-poller poll`) is the main way in; the names below are the library's
public surface for running a poll from Python. Everything else is private to the package.

The names are loaded on first use (PEP 562), not here: `fota-poller --version` and every
`--help` import this package, and must not pay for aiohttp, the pipeline and the simulator's
neighbours (bench/startup.py measures it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fota_poller._version import __version__

if TYPE_CHECKING:
    from fota_poller.api.token_provider import TokenProvider
    from fota_poller.config import Config, load_config
    from fota_poller.errors import ExitCode, FotaPollerError
    from fota_poller.ids.lists import open_id_sources, read_refs
    from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
    from fota_poller.model.refs import CampaignRef, InvalidLine
    from fota_poller.model.stop import RunControl, StopReason
    from fota_poller.output.sink import AtomicFileSink, StdoutSink
    from fota_poller.run.pipeline import run_poll
    from fota_poller.testing import StaticTokens

# Each public name and the module it lives in.
_HOMES = {
    "AtomicFileSink": "fota_poller.output.sink",
    "CampaignRecord": "fota_poller.model.records",
    "CampaignRef": "fota_poller.model.refs",
    "Config": "fota_poller.config",
    "DeviceRecord": "fota_poller.model.records",
    "ExitCode": "fota_poller.errors",
    "FotaPollerError": "fota_poller.errors",
    "InvalidLine": "fota_poller.model.refs",
    "RunControl": "fota_poller.model.stop",
    "RunRecord": "fota_poller.model.records",
    "StaticTokens": "fota_poller.testing",
    "StdoutSink": "fota_poller.output.sink",
    "StopReason": "fota_poller.model.stop",
    "TokenProvider": "fota_poller.api.token_provider",
    "load_config": "fota_poller.config",
    "open_id_sources": "fota_poller.ids.lists",
    "read_refs": "fota_poller.ids.lists",
    "run_poll": "fota_poller.run.pipeline",
}

__all__ = [
    "AtomicFileSink",
    "CampaignRecord",
    "CampaignRef",
    "Config",
    "DeviceRecord",
    "ExitCode",
    "FotaPollerError",
    "InvalidLine",
    "RunControl",
    "RunRecord",
    "StaticTokens",
    "StdoutSink",
    "StopReason",
    "TokenProvider",
    "__version__",
    "load_config",
    "open_id_sources",
    "read_refs",
    "run_poll",
]


def __getattr__(name: str) -> object:
    """Import a public name's module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'fota_poller' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
