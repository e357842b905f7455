"""`summary`'s machine and ticket formats: JSON, CSV and markdown, from a read `Night`.

The values come from a file nobody validated: JSON escapes them itself (U+2028/U+2029 too,
as `poll`'s records do); CSV quotes them (the csv module) and puts a `'` before a text
that a spreadsheet would run as a formula (OWASP's CSV injection); markdown escapes
controls, `|` and backslashes so a status cannot break the table or drive a terminal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Final, NamedTuple

import msgspec

from fota_poller.model.phases import PHASES
from fota_poller.state.night_report import CampaignNews, LastNight
from fota_poller.summary.night import Night
from fota_poller.summary.order import DEFAULT_SORT
from fota_poller.summary.row import CampaignRow
from fota_poller.summary.stalls import Stalls
from fota_poller.summary.trends import (
    TREND_COLUMNS,
    Trends,
    add_trend,
    last_night_lines,
    trend_cells,
)
from fota_poller.text import escape_controls, escape_line_separators

Stuck = Mapping[tuple[str, str], int] | None
# What a spreadsheet reads as the start of a formula (OWASP, CSV injection): such a cell
# gets a `'` in front, which spreadsheets show as text and do not display.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class View(NamedTuple):
    """What a summary shows: the night, its campaigns chosen (worst first), the exit code."""

    night: Night
    # Read once: without a limit they are merged back from the spilled runs as they go.
    rows: Iterable[CampaignRow]
    # How many campaigns `rows` was chosen from (all, or those --failed-only keeps).
    shown_of: int
    # Devices stuck per (account, upgrade id) with --state, else None.
    stuck: Stuck
    code: int
    # The campaigns the state's history knows as standing still (summary/stalls.py), and
    # the order chosen (`--sort`, summary/order.py): the table marks the one, names the other.
    stalls: Stalls | None = None
    order: str = DEFAULT_SORT
    # With --state, what the state's history says: each campaign's trend and transitions
    # by (account, upgrade id), and last night's totals; None without.
    trends: Trends | None = None
    last_night: LastNight | None = None

    def trend(self, row: CampaignRow) -> CampaignNews | None:
        """The campaign's trend from the state's history; None without --state or history."""
        return None if self.trends is None else self.trends.get((row.account, row.upgrade))


CSV_COLUMNS: Final = (
    "account_name",
    "upgrade_id",
    "firmware",
    "campaign_status",
    "outcome",
    "error_kind",
    "devices",
    "succeeded_share",
    "succeeded",
    "failed",
    "pending",
    "unknown",
    "ended",
    "devices_new",
    "devices_changed",
    "devices_gone",
    "stuck",
)
# After CSV_COLUMNS when any campaign line had an inventory (schema 3, `poll --inventory`):
# a night without one reads exactly as before.
INVENTORY_COLUMNS: Final = ("devices_on_target", "devices_late")


def share(row: CampaignRow) -> float | None:
    """The share of a campaign's devices that succeeded, 0 to 1; None with no devices."""
    return round(row.succeeded / row.devices, 4) if row.devices else None


def columns(night: Night, *, trends: bool = False) -> tuple[str, ...]:
    """The CSV's columns (the JSON rows' keys): the trend's with --state, the inventory's."""
    found = CSV_COLUMNS + (TREND_COLUMNS if trends else ())
    return found + INVENTORY_COLUMNS if night.inventory_seen else found


def row_fields(row: CampaignRow, stuck: Stuck, *, inventory: bool = False) -> dict[str, object]:
    """One campaign as a flat mapping, keyed by `columns`."""
    fields: dict[str, object] = {
        "account_name": row.account,
        "upgrade_id": row.upgrade,
        "firmware": row.firmware,
        "campaign_status": row.status,
        "outcome": row.outcome,
        "error_kind": row.error_kind,
        "devices": row.devices,
        "succeeded_share": share(row),
        "succeeded": row.succeeded,
        "failed": row.failed,
        "pending": row.pending,
        "unknown": row.unknown,
        "ended": row.ended,
        "devices_new": row.new,
        "devices_changed": row.changed,
        "devices_gone": row.gone,
        "stuck": None if stuck is None else stuck.get((row.account, row.upgrade), 0),
    }
    if inventory:
        fields.update(devices_on_target=row.on_target, devices_late=row.late)
    return fields


def inventory_totals(night: Night) -> dict[str, int]:
    """The inventory's totals (JSON `devices` keys), empty when no line had an inventory."""
    if not night.inventory_seen:
        return {}
    return {
        "on_target": night.on_target,
        "late": night.late,
        "not_in_inventory": night.not_in_inventory,
    }


def run_fields(night: Night) -> dict[str, object]:
    """The run line's facts, or that there was none: the run did not finish."""
    run = night.run
    if run is None:
        return {"finished": False}
    return {"finished": True, **msgspec.structs.asdict(run)}


def json_head(night: Night, code: int) -> dict[str, object]:
    """The JSON document's keys before its `rows`: the run, the campaigns, the devices."""
    campaigns: dict[str, object] = {
        "total": night.campaigns,
        "ok": night.campaigns - night.campaigns_failed,
        "failed": night.campaigns_failed,
        "failed_by_error_kind": dict(night.failed_by_kind.most_common()),
    }
    if night.inventory_seen:
        campaigns["inventory_failed"] = night.inventory_failed
    return {
        "run": run_fields(night),
        "exit_code": code,
        "bad_lines": night.bad_lines,
        "campaigns": campaigns,
        "devices": {
            "total": sum(night.phase_totals.values()),
            "phases": {phase: night.phase_totals[phase] for phase in PHASES},
            "statuses": {
                phase: dict(statuses) for phase, statuses in night.statuses_by_phase().items()
            },
            **inventory_totals(night),
        },
    }


def json_document(head: dict[str, object], rows: Iterable[object]) -> Iterator[str]:
    """`head` and then `rows` (msgspec-encodable), as one JSON document, a row at a time."""
    # The rows are encoded one at a time into the empty list that ends the document: a
    # night of 100,000 campaigns never exists as one list of dicts nor one string.
    encoded_head = msgspec.json.encode({**head, "rows": []})
    yield escape_line_separators(encoded_head[: -len(b"]}")]).decode()
    for number, row in enumerate(rows):
        encoded = escape_line_separators(msgspec.json.encode(row))
        yield ("," if number else "") + encoded.decode()
    yield "]}\n"


def render_json(view: View) -> Iterator[str]:
    """The whole summary as one JSON document; with --state, the history's keys too."""
    inventory = view.night.inventory_seen
    rows = (
        add_trend(view.trends, row, row_fields(row, view.stuck, inventory=inventory))
        for row in view.rows
    )
    head = json_head(view.night, view.code)
    if view.last_night is not None:
        head["last_night"] = view.last_night
    return json_document(head, rows)


def render_csv(view: View) -> Iterator[str]:
    """A header line, then one line per campaign."""
    buffer = io.StringIO()
    inventory = view.night.inventory_seen
    names = columns(view.night, trends=view.trends is not None)
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in view.rows:
        fields = row_fields(row, view.stuck, inventory=inventory)
        add_trend(view.trends, row, fields, transitions=False)
        fields["ended"] = {True: "true", False: "false", None: ""}[row.ended]
        writer.writerow({name: csv_cell(value) for name, value in fields.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def csv_cell(value: object) -> object:
    """A text that a spreadsheet would run as a formula, with a `'` in front; the rest as is."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def md_cell(value: object) -> str:
    """A markdown table cell: controls escaped, `|` and backslashes cannot break the table."""
    text = "" if value is None else str(value)
    return escape_controls(text.replace("\\", "\\\\").replace("|", "\\|"))


def render_markdown(view: View) -> Iterator[str]:
    """A ticket's view: the campaigns table, then the totals and the run as lists; by line."""
    stuck = view.stuck
    columns = ["account", "upgrade", "firmware", "status", "devices", "succeeded", "failed"]
    inventory = view.night.inventory_seen
    columns += ["pending", "ended", *(["stuck"] if stuck is not None else [])]
    trends = view.trends is not None
    columns += ["late"] if inventory else []
    columns += ["succeeded +/-", "no progress", "finish", "stalled"] if trends else []
    yield "| " + " | ".join(columns) + " |\n"
    yield "|" + "---|" * len(columns) + "\n"
    for row in view.rows:
        fields = row_fields(row, stuck)
        ratio = fields["succeeded_share"]
        cells = [
            row.account,
            row.upgrade,
            row.firmware,
            row.status if row.outcome == "ok" else f"poll failed: {row.error_kind}",
            row.devices,
            "" if not isinstance(ratio, float) else f"{ratio:.1%}",
            row.failed,
            row.pending,
            {True: "yes", False: "no", None: ""}[row.ended],
            *([fields["stuck"]] if stuck is not None else []),
            *([row.late] if inventory else []),
            *(trend_cells(view.trend(row)) if trends else []),
        ]
        yield "| " + " | ".join(map(md_cell, cells)) + " |\n"
    for line in ["", *summary_lines(view.night, view.code, bullet="- ")]:
        yield line + "\n"
    for line in last_night_lines(view.last_night, md_cell, bullet="- "):
        yield line + "\n"


def summary_lines(night: Night, code: int, bullet: str) -> list[str]:
    """The totals, the failed campaigns by error kind and the run, one fact a line."""
    total = sum(night.phase_totals.values())
    lines = [f"{bullet}devices: {total}"]
    for phase, statuses in night.statuses_by_phase().items():
        lines.append(f"{bullet}{phase}: {night.phase_totals[phase]}")
        lines += [f"  {bullet}{md_cell(status)}: {count}" for status, count in statuses]
    failed = night.campaigns_failed
    lines += [f"{bullet}{line}" for line in inventory_lines(night)]
    lines.append(f"{bullet}campaigns: {night.campaigns} ({failed} failed to poll)")
    lines += [f"  {bullet}{md_cell(k)}: {n}" for k, n in night.failed_by_kind.most_common()]
    lines.append(f"{bullet}{run_sentence(night)}")
    if night.bad_lines:
        lines.append(f"{bullet}{night.bad_lines} line(s) that are no record")
    lines.append(f"{bullet}summary exit code: {code}")
    return lines


def inventory_lines(night: Night) -> list[str]:
    """The late successes and the inventory's failures in words; none without an inventory."""
    if not night.inventory_seen:
        return []
    late = f"late successes: {night.late} (on target: {night.on_target}, "
    lines = [f"{late}not in the device list: {night.not_in_inventory})"]
    if night.inventory_failed:
        lines.append(f"inventory failed for {night.inventory_failed} campaign(s)")
    return lines


def run_sentence(night: Night) -> str:
    """The run's completeness in a few words."""
    run = night.run
    if run is None:
        return "no run line: the run did not finish (cut off, or still running)"
    complete = "complete" if run.complete else "INCOMPLETE"
    return f"run {md_cell(run.run_id)}: {complete}, exit code {run.exit_code}"
