"""Device phases: every raw status mapped to `succeeded`, `failed`, `pending` or `unknown`.

ThingSpace's device statuses are an open set, spelled inconsistently (`RequestPending` and
`Request Pending`, `Device Accepted`, `UpgradeSuccess`, ...; docs/thingspace.md). A record
keeps the raw status as sent and adds its phase from this table, which the config's
`[phases]` extends or overrides. Statuses match by key: case, spaces, `_` and `-` ignored.
A status in no phase is `unknown`, never dropped, and logged once per run: the first
`UNKNOWN_STATUSES_LOGGED` distinct ones by name, the rest as one count at the end of the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Final, get_args

import msgspec

from fota_poller.model.records import Phase
from fota_poller.text import excerpt

PHASES: Final[tuple[Phase, ...]] = get_args(Phase)

# The built-in table (docs/records.md lists it). `Device Accepted` is pending: the device
# accepted the upgrade request, and nothing says yet that the new firmware is on it.
BUILTIN_PHASES: Final[Mapping[Phase, tuple[str, ...]]] = {
    "succeeded": (
        "UpgradeSuccess",
        "UpgradeSucceeded",
        "UpgradeComplete",
        "UpgradeCompleted",
        "Success",
        "Succeeded",
        "Completed",
    ),
    "failed": (
        "UpgradeFailed",
        "Device Rejected",
        "LicenseRemoveFailed",
        "RequestFailed",
        "DownloadFailed",
        "InstallFailed",
        "Failed",
        "Rejected",
        "Cancelled",
        "Canceled",
    ),
    "pending": (
        "RequestPending",
        "Device Accepted",
        "Accepted",
        "Queued",
        "Scheduled",
        "InProgress",
        "Pending",
        "Downloading",
        "Downloaded",
        "Installing",
    ),
    "unknown": (),
}

_NOT_KEY = re.compile(r"[\s_-]+")
# A campaign with more distinct statuses than this is exotic; a cache of every status ever
# seen must not grow without bound on hostile input.
_CACHE_LIMIT: Final = 4096
# A server that invents a status per device must not write a log line per device.
UNKNOWN_STATUSES_LOGGED: Final = 20
# The others are counted by their hashes (not kept: a status can be long), up to this many.
_UNKNOWN_COUNTED: Final = 100_000


def status_key(status: str) -> str:
    """The form statuses match in: `Request Pending`, `request_pending` -> `requestpending`."""
    return _NOT_KEY.sub("", status).casefold()


# A status an operator writes in `[phases]`: any text a server sends, within reason.
DeviceStatus = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class PhasesConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """`[phases]`: statuses to add to, or move within, the built-in table; when a campaign stalls.

    A status listed here wins over the built-in table; spelling variants match (case, spaces,
    `_` and `-` are ignored).
    """

    succeeded: tuple[DeviceStatus, ...] = ()
    failed: tuple[DeviceStatus, ...] = ()
    pending: tuple[DeviceStatus, ...] = ()
    unknown: tuple[DeviceStatus, ...] = ()
    # Consecutive committed runs in which no device changed phase, with devices pending,
    # that make a campaign stalled (state/history.py). Here, as the rest of `[phases]`.
    stalled_after: Annotated[int, msgspec.Meta(ge=1)] = 3


class PhaseTable:
    """The phase of each status: the built-in table with the config's `[phases]` laid over it.

    One table per run: it remembers which unknown statuses it has already logged.
    """

    def __init__(self, config: PhasesConfig | None = None) -> None:
        by_key: dict[str, Phase] = {}
        for phase, statuses in BUILTIN_PHASES.items():
            by_key.update(dict.fromkeys(map(status_key, statuses), phase))
        if config is not None:
            for phase in PHASES:
                by_key.update(dict.fromkeys(map(status_key, getattr(config, phase)), phase))
        self._by_key = by_key
        self._cache: dict[str | None, Phase] = {None: "unknown"}
        self._logged_unknown: set[str] = set()
        # The hashes of the distinct unknown statuses not logged by name.
        self._not_logged: set[int] = set()

    @property
    def known(self) -> Mapping[str | None, Phase]:
        """The statuses looked up so far and their phases: a hot loop's fast path (read only)."""
        return self._cache

    def phase(self, status: str | None) -> Phase:
        """The phase of a raw status; None (no status sent) is `unknown`."""
        phase = self._cache.get(status)
        if phase is not None:
            return phase
        assert status is not None  # noqa: S101 - None is in the cache from the start
        listed = self._by_key.get(status_key(status))
        phase = "unknown" if listed is None else listed
        if listed is None and status not in self._logged_unknown:
            self._unknown(status)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[status] = phase
        return phase

    def _unknown(self, status: str) -> None:
        """Log an unknown status by name, once per run, while fewer than the limit have been."""
        if len(self._logged_unknown) >= UNKNOWN_STATUSES_LOGGED:
            if len(self._not_logged) < _UNKNOWN_COUNTED:
                self._not_logged.add(hash(status))
            return
        self._logged_unknown.add(status)
        # Once per run, so the table can be extended in the config's [phases].
        import structlog  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

        structlog.get_logger("fota_poller").warning("phase.unknown_status", status=excerpt(status))

    def log_unknown_not_logged(self) -> None:
        """At the end of a run: one line counting the unknown statuses not logged by name."""
        if not self._not_logged:
            return
        import structlog  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

        structlog.get_logger("fota_poller").warning(
            "phase.unknown_statuses_not_logged",
            count=len(self._not_logged),
            count_is_at_least=len(self._not_logged) >= _UNKNOWN_COUNTED,
            logged_by_name=len(self._logged_unknown),
        )

    def counts(self, status_counts: Mapping[str, int], missing: str) -> dict[Phase, int]:
        """Devices per phase, from devices per status; `missing` is the no-status key."""
        counts: dict[Phase, int] = {}
        for status, count in status_counts.items():
            phase = self.phase(None if status == missing else status)
            counts[phase] = counts.get(phase, 0) + count
        return counts

    def statuses_in(self, phases: Iterable[Phase], statuses: Iterable[str]) -> list[str]:
        """Those of `statuses` whose phase is one of `phases`, in order."""
        wanted = set(phases)
        return [status for status in statuses if self.phase(status) in wanted]
