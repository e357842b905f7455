"""The JSON Schema of the output records, generated from the msgspec Structs in records.py."""

from __future__ import annotations

from typing import Any

import msgspec

from fota_poller.model.records import Record

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def records_schema() -> dict[str, Any]:
    """One schema any output line validates against: a device, campaign or run record."""
    schema: dict[str, Any] = msgspec.json.schema(Record)
    return {
        "$schema": DIALECT,
        "title": "fota-poller output record",
        "description": "One JSON line of fota-poller output; `record` says which kind it is.",
        **schema,
    }


def render_schema() -> str:
    """The schema as `fota-poller schema` prints it and `docs/records.schema.json` holds it."""
    encoded = msgspec.json.encode(records_schema(), order="sorted")
    return msgspec.json.format(encoded, indent=2).decode("utf-8") + "\n"
