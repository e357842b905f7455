"""deploy/grafana/fota-poller.json imports into Grafana, and it and the alert rules read metrics
that a real run writes.

No Grafana runs here: the dashboard is checked against the fields Grafana needs to import
and draw it (a JSON Schema of them, unique panel ids, panels that do not overlap on the
24-column grid, a Prometheus data source variable). Every metric a panel or a rule names,
and every label value it selects on, must be in the metrics file of a real run against the
simulator: a renamed metric or label fails here, not on an operator's screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from helpers import ROOT, run_cli, simulator_process
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = ROOT / "deploy" / "grafana" / "fota-poller.json"
RULES = ROOT / "deploy" / "prometheus" / "fota-poller.rules.yml"
# Not ours: node_exporter's and Prometheus's own, which the rules and the dashboard read too.
FOREIGN_METRICS = {"up", "node_textfile_scrape_error"}
GRID_COLUMNS = 24

DATASOURCE = {"const": {"type": "prometheus", "uid": "${datasource}"}}
PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "type": {"enum": ["stat", "timeseries", "table", "bargauge"]},
        "title": {"type": "string", "minLength": 1},
        "gridPos": {
            "type": "object",
            "required": ["x", "y", "w", "h"],
            "properties": {
                "x": {"type": "integer", "minimum": 0},
                "y": {"type": "integer", "minimum": 0},
                "w": {"type": "integer", "minimum": 1, "maximum": GRID_COLUMNS},
                "h": {"type": "integer", "minimum": 1},
            },
        },
        "datasource": DATASOURCE,
        "targets": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["refId", "expr", "datasource"],
                "properties": {
                    "refId": {"type": "string", "pattern": "^[A-Z]$"},
                    "expr": {"type": "string", "minLength": 1},
                    "datasource": DATASOURCE,
                },
            },
        },
    },
}
DASHBOARD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "time", "templating", "panels"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {"type": "object", "required": ["name", "type"]},
                }
            },
        },
        "panels": {"type": "array", "minItems": 1, "items": PANEL},
    },
}

# PromQL, as far as telling its metric names goes.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan"}
_NAME = re.compile(r"(?<![\w$])([A-Za-z_:][\w:]*)\b(?!\s*\()")
_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\{([^}]*)\}")
_EQUAL = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: its words that are no function, keyword,
    label, string or duration."""
    rest = _GROUPING.sub(" ", _RANGE.sub(" ", _MATCHERS.sub(" ", _STRING.sub(" ", expr))))
    return set(_NAME.findall(rest)) - _KEYWORDS


def equality_matchers(expr: str) -> set[tuple[str, str, str]]:
    """(metric, label, value) of each `metric{label="value"}` an expression selects on."""
    return {
        (metric, label, value)
        for metric, matchers in _SELECTOR.findall(expr)
        for label, value in _EQUAL.findall(matchers)
    }


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panel_exprs() -> Iterator[str]:
    """Every expression of the dashboard: the panels' and the variables' queries."""
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            yield re.sub(r"label_values\((\w+),\s*\w+\)", r"\1", variable["definition"])


def rule_exprs() -> Iterator[str]:
    """Every expression of the alert rules: one line, or a block under `expr: |`."""
    text = RULES.read_text(encoding="utf-8")
    for single, block in re.findall(r"^ +expr: (?:\|\n((?:^ {10}.*\n)+)|(.+))", text, re.MULTILINE):
        yield single or block


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str]]]:
    """A real run's metrics file, with a state database (so every metric is written): each
    metric's name and the (label, value) pairs of its samples."""
    folder = tmp_path_factory.mktemp("grafana-night")
    ids, metrics = folder / "ids.txt", folder / "fota_poller.prom"
    tokens = {
        "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
        "THINGSPACE_SESSION_TOKEN": "sim-session-token",
    }
    with simulator_process("--campaigns", "3", "--devices", "5-30", "--write-ids", str(ids)) as url:
        args = ["poll", "--ids", str(ids), "--base-url", url, "--output", str(folder / "o.jsonl")]
        args += ["--metrics-file", str(metrics), "--state", str(folder / "state.db")]
        done = run_cli(args, env=tokens)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    families: dict[str, set[tuple[str, str]]] = {}
    for family in text_string_to_metric_families(metrics.read_text(encoding="utf-8")):
        pairs = families.setdefault(family.name, set())
        for sample in family.samples:
            pairs.update(sample.labels.items())
    return families


def test_the_dashboard_has_the_fields_grafana_needs() -> None:
    board = dashboard()
    validator = jsonschema.Draft202012Validator(DASHBOARD_SCHEMA)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(board)]
    assert errors == []

    panels = board["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]


def test_no_two_panels_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                other = cells.setdefault((x, y), panel["title"])
                assert other == panel["title"], f"{panel['title']} covers {other} at {x},{y}"


def test_every_panel_reads_the_chosen_data_source_and_hosts() -> None:
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["type"] == "query"
    assert variables["instance"]["datasource"] == DATASOURCE["const"]
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            for _, matchers in _SELECTOR.findall(target["expr"]):
                assert 'instance=~"$instance"' in matchers, (panel["title"], target["expr"])


def test_the_name_reader_sees_names_and_skips_the_rest() -> None:
    expr = 'sum by (instance) (max_over_time(a_b{phase="x", i=~"$i"}[3d])) == 0 and on (i) c > 0'
    assert metric_names(expr) == {"a_b", "c"}
    assert equality_matchers(expr) == {("a_b", "phase", "x")}
    assert len(list(rule_exprs())) == len(re.findall(r"- alert: ", RULES.read_text()))


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_every_metric_and_label_read_is_one_a_real_run_writes(source, written) -> None:
    exprs = list(panel_exprs() if source == "dashboard" else rule_exprs())
    read = set().union(*map(metric_names, exprs))
    assert read - set(written) - FOREIGN_METRICS == set(), "metrics no run writes"
    assert {name for name in read if name.startswith("fota_poller_")}, "no metric of ours"
    for metric, label, value in set().union(*map(equality_matchers, exprs)):
        if metric.startswith("fota_poller_"):
            assert (label, value) in written[metric], f'{metric}{{{label}="{value}"}}'
