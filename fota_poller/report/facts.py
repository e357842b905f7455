"""What the report shows, read back from `summary`'s own JSON documents, and the history.

The page's numbers must be the ones `summary --state --format json` prints, so that an
operator can check one against the other: the report does not count anything itself. It
renders the very JSON documents `summary` writes (`summary/render.py` for the campaigns,
`summary/by_model.py` for the models) and decodes them into the typed Structs below; keys
the page does not use are ignored, so a column `summary` gains later does not break it.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from fota_poller.report.history import History


class RunFacts(msgspec.Struct, frozen=True):
    """The run line, as `summary`'s `run` key has it (`finished` false: there was none)."""

    finished: bool
    run_id: str | None = None
    complete: bool | None = None
    exit_code: int | None = None
    finished_at: str | None = None


class CampaignTotals(msgspec.Struct, frozen=True):
    """`summary`'s `campaigns` key."""

    total: int
    ok: int
    failed: int
    failed_by_error_kind: dict[str, int]
    inventory_failed: int | None = None


class DeviceTotals(msgspec.Struct, frozen=True):
    """`summary`'s `devices` key: by phase, the raw statuses under each, the inventory's."""

    total: int
    phases: dict[str, int]
    statuses: dict[str, dict[str, int]]
    on_target: int | None = None
    late: int | None = None
    not_in_inventory: int | None = None


class CampaignFacts(msgspec.Struct, frozen=True):
    """One row of `summary --format json`: one campaign of the night."""

    account_name: str
    upgrade_id: str
    firmware: str
    campaign_status: str
    outcome: str
    error_kind: str | None
    devices: int
    succeeded_share: float | None
    succeeded: int
    failed: int
    pending: int
    unknown: int
    ended: bool | None
    stuck: int | None = None
    devices_on_target: int | None = None
    devices_late: int | None = None


class SummaryFacts(msgspec.Struct, frozen=True):
    """`summary --format json` (with `--state`): the night, its campaigns worst first."""

    run: RunFacts
    exit_code: int
    bad_lines: int
    campaigns: CampaignTotals
    devices: DeviceTotals
    rows: list[CampaignFacts]


class ModelFacts(msgspec.Struct, frozen=True):
    """One row of `summary --by model --format json` (`model` null: a group, not a model)."""

    model: str | None
    inventory: str
    devices: int
    failed_share: float | None
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None


class ModelsFacts(msgspec.Struct, frozen=True):
    """`summary --by model --format json`'s rows: the models worst first, then the groups."""

    rows: list[ModelFacts]


class ReportFacts(msgspec.Struct, frozen=True):
    """Everything one page shows: the night, its models (none without an inventory), history."""

    summary: SummaryFacts
    models: list[ModelFacts]
    history: History
    # How many campaigns the night had that `summary.rows` was chosen from (--limit).
    campaigns_of: int
    generated_at: str
    # `--stuck-after` as given (`7d`): what "stuck" meant for the counts.
    stuck_after: str = "7d"


def decode_summary(document: Iterable[str]) -> SummaryFacts:
    """`summary`'s JSON document (as its renderer yields it) as `SummaryFacts`."""
    return msgspec.json.decode("".join(document), type=SummaryFacts)


def decode_models(document: Iterable[str]) -> list[ModelFacts]:
    """`summary --by model`'s JSON document as its rows."""
    return msgspec.json.decode("".join(document), type=ModelsFacts).rows
