"""`summary --by model` in every format: the night's devices per model, worst failed share first.

The rows are `summary/models.py`'s: the models (at most `--limit` of them shown), then the
rows of devices no model accounts for (`others`, `missing`, `failed`, `off`), always shown,
so that the rows add up to the night's devices. Values are escaped and quoted as the
campaign view's are (`summary/render.py`): a model name is text nobody validated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, NamedTuple, TextIO

from fota_poller.summary.models import MAX_MODELS, MODEL, ModelRow, ModelTally
from fota_poller.summary.night import Night
from fota_poller.summary.render import (
    View,
    csv_cell,
    json_document,
    json_head,
    md_cell,
    summary_lines,
)

if TYPE_CHECKING:
    from rich.table import Table

MODEL_COLUMNS: Final = (
    "model",
    "inventory",
    "devices",
    "failed_share",
    "succeeded",
    "failed",
    "pending",
    "unknown",
    "on_target",
    "late",
)
# How the table and markdown name the rows that are no model.
_GROUP_NAMES: Final = {
    "others": f"(models past the first {MAX_MODELS:,})",
    "missing": "(not in the device list)",
    "failed": "(inventory failed)",
    "off": "(no inventory)",
}


class ModelView(NamedTuple):
    """What `--by model` shows: the night, its models chosen (worst first), the exit code."""

    night: Night
    tally: ModelTally
    rows: list[ModelRow]
    # How many models `rows` was chosen from (all kept, or those --failed-only keeps).
    shown_of: int
    # The rows of devices no model accounts for, after the models.
    groups: list[ModelRow]
    code: int


def model_view(
    night: Night, tally: ModelTally, *, failed_only: bool, limit: int | None, code: int
) -> ModelView:
    """The view of `night`'s models (`tally`): worst first, at most `limit`, then the groups."""
    rows, groups = tally.model_rows(), tally.group_rows()
    if failed_only:
        rows = [row for row in rows if row.failed]
        groups = [row for row in groups if row.failed]
    return ModelView(night, tally, rows[:limit] if limit else rows, len(rows), groups, code)


def model_fields(row: ModelRow) -> dict[str, object]:
    """One row as a flat mapping, keyed by `MODEL_COLUMNS`."""
    return {
        "model": row.model,
        "inventory": row.inventory,
        "devices": row.devices,
        "failed_share": row.failed_share,
        "succeeded": row.succeeded,
        "failed": row.failed,
        "pending": row.pending,
        "unknown": row.unknown,
        "on_target": row.on_target,
        "late": row.late,
    }


def _name(row: ModelRow) -> str:
    return (
        row.model
        if row.inventory == MODEL and row.model is not None
        else _GROUP_NAMES[row.inventory]
    )


def _footer(view: ModelView) -> list[str]:
    """Why some rows are not shown or not models, in words."""
    tally = view.tally
    lines = [f"models: {len(view.rows)} of {view.shown_of} shown"]
    if tally.folded_entries:
        lines.append(
            f"more than {tally.max_models:,} models: those first seen after are counted in one row"
        )
    if tally.without_models:
        lines.append(f"campaigns without device models: {tally.without_models}")
    return lines


def render_json(view: ModelView) -> Iterator[str]:
    """The summary's JSON document, its rows one per model then the groups."""
    tally = view.tally
    head = json_head(view.night, view.code)
    head["models"] = {
        "total": view.shown_of,
        "shown": len(view.rows),
        "folded": tally.folded_entries > 0,
        "campaigns_with_models": tally.with_models,
        "campaigns_without_models": tally.without_models,
    }
    return json_document(head, (model_fields(row) for row in [*view.rows, *view.groups]))


def render_csv(view: ModelView) -> Iterator[str]:
    """A header line, then one line per model, then the groups (model empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MODEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in [*view.rows, *view.groups]:
        writer.writerow({name: csv_cell(value) for name, value in model_fields(row).items()})
    yield buffer.getvalue()


def _cells(row: ModelRow) -> list[object]:
    ratio = row.failed_share
    return [
        _name(row),
        row.devices,
        "" if ratio is None else f"{ratio:.1%}",
        row.succeeded,
        row.failed,
        row.pending,
        row.unknown,
        row.on_target,
        row.late,
    ]


_HEADERS: Final = (
    "model",
    "devices",
    "failed %",
    "succeeded",
    "failed",
    "pending",
    "unknown",
    "on target",
    "late",
)


def render_markdown(view: ModelView) -> Iterator[str]:
    """A ticket's view: the models table, then what it leaves out and the totals."""
    yield "| " + " | ".join(_HEADERS) + " |\n"
    yield "|" + "---|" * len(_HEADERS) + "\n"
    for row in [*view.rows, *view.groups]:
        yield "| " + " | ".join(map(md_cell, _cells(row))) + " |\n"
    lines = ["", *(f"- {line}" for line in _footer(view))]
    lines += summary_lines(view.night, view.code, bullet="- ")
    for line in lines:
        yield line + "\n"


def print_table(view: ModelView, stream: TextIO) -> None:
    """The models table on a terminal, then the summary's footer."""
    from fota_poller.summary.table import console_for, print_footer, text  # noqa: PLC0415 - rich

    console = console_for(stream)
    console.print(_table(view))
    for line in _footer(view)[1:]:
        console.print(text(line, "yellow"))
    print_footer(View(view.night, [], 0, None, view.code), console)


def _table(view: ModelView) -> Table:
    from rich import box  # noqa: PLC0415 - start-up time (summary/table.py)
    from rich.table import Table  # noqa: PLC0415

    from fota_poller.summary.table import text  # noqa: PLC0415 - loads rich

    table = Table(
        title=f"models, worst failed share first ({len(view.rows)} of {view.shown_of} shown)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("model", overflow="fold")
    for name in _HEADERS[1:]:
        table.add_column(name, justify="right")
    for row in [*view.rows, *view.groups]:
        style = "" if row.inventory == MODEL else "dim"
        table.add_row(*(text(cell, style) for cell in _cells(row)))
    return table
