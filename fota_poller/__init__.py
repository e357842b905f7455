"""Poll Verizon ThingSpace FOTA upgrade campaigns and stream one JSON line per device.

The command line (`fota-poller poll`) is the main way in; the names below are the library's
public surface for running a poll from Python. Everything else is private to the package.
"""

from fota_poller._version import __version__
from fota_poller.api.token_provider import TokenProvider
from fota_poller.config import Config, load_config
from fota_poller.errors import ExitCode, FotaPollerError
from fota_poller.ids.lists import CampaignRef, InvalidLine, open_id_sources, read_refs
from fota_poller.output.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.output.sink import AtomicFileSink, StdoutSink
from fota_poller.run.pipeline import run_poll
from fota_poller.run.stop import RunControl, StopReason
from fota_poller.testing import StaticTokens

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
