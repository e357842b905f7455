"""Log lines: the format asked for (or the one that suits stderr), colours, level, the run_id."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from fota_poller.observe.logs import configure_logging, rendering
from fota_poller.observe.stderr import StderrStream

ESC = "\x1b"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _reset_logging(restore_logging: None) -> None:
    """Every test here configures logging; the next test gets structlog's defaults back."""


def _log_one(stream: io.StringIO, **options: str) -> str:
    configure_logging("info", stream=stream, **options)  # type: ignore[arg-type]
    structlog.get_logger("fota_poller").warning("campaign.failed", error_code="X")
    return stream.getvalue()


def test_console_lines_on_a_terminal_are_coloured_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ESC in _log_one(_Terminal())


def test_no_color_set_to_anything_takes_every_escape_out_of_console_lines(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    shown = _log_one(_Terminal())
    assert "campaign.failed" in shown
    assert ESC not in shown


def test_an_empty_no_color_is_as_if_unset(monkeypatch):
    # no-color.org: "when present and not an empty string".
    monkeypatch.setenv("NO_COLOR", "")
    assert ESC in _log_one(_Terminal())


def test_json_asked_for_on_a_terminal_is_json(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    line = _log_one(_Terminal(), log_format="json")
    assert json.loads(line)["event"] == "campaign.failed"


def test_console_asked_for_off_a_terminal_is_console_lines_without_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    shown = _log_one(io.StringIO(), log_format="console")
    assert "campaign.failed" in shown
    assert not shown.startswith("{")
    assert ESC not in shown


def test_auto_is_json_off_a_terminal():
    assert json.loads(_log_one(io.StringIO()))["level"] == "warning"


def test_what_is_bound_in_the_context_is_on_every_line():
    stream = io.StringIO()
    with structlog.contextvars.bound_contextvars(run_id="run-1"):
        _log_one(stream)
    _log_one(stream)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["run_id"] == "run-1"
    assert "run_id" not in second


@pytest.mark.parametrize(
    ("method", "priority"),
    [("debug", 7), ("info", 6), ("warning", 4), ("error", 3), ("critical", 2)],
)
def test_journal_lines_carry_the_syslog_priority_of_their_level(method, priority):
    stream = io.StringIO()
    configure_logging("debug", stream=stream, log_format="journal")
    getattr(structlog.get_logger("fota_poller"), method)("campaign.failed", error_code="X")
    line = stream.getvalue()
    assert line.startswith(f"<{priority}>{{")
    assert line.endswith("}\n")
    assert json.loads(line[3:])["level"] == method


def test_ecs_lines_use_the_elastic_common_schema_names():
    stream = io.StringIO()
    configure_logging("info", stream=stream, log_format="ecs")
    with structlog.contextvars.bound_contextvars(run_id="run-1"):
        structlog.get_logger("fota_poller").error(
            "metrics.write_failed", path="/x.prom", error="No such file", exit_code=1
        )
    line = json.loads(stream.getvalue())
    assert list(line)[:4] == ["@timestamp", "log.level", "message", "ecs.version"]
    assert (line["log.level"], line["message"]) == ("error", "metrics.write_failed")
    assert line["event"] == {"action": "metrics.write_failed", "dataset": "fota_poller.log"}
    assert line["error"] == {"message": "No such file"}
    assert line["process"] == {"exit_code": 1}
    assert line["fota_poller"] == {"run_id": "run-1", "path": "/x.prom"}
    assert line["@timestamp"].endswith("Z")


@pytest.fixture
def stderr_file(tmp_path):
    with (tmp_path / "stderr").open("w", encoding="utf-8") as stream:
        yield stream


def _journal_stream(path) -> str:
    status = path.stat()
    return f"{status.st_dev}:{status.st_ino}"


def test_auto_is_journal_when_journal_stream_names_stderr(monkeypatch, stderr_file, tmp_path):
    monkeypatch.setenv("JOURNAL_STREAM", _journal_stream(tmp_path / "stderr"))
    assert rendering("auto", StderrStream(stderr_file)) == "journal"
    assert rendering("json", StderrStream(stderr_file)) == "json"  # asked for, it wins


@pytest.mark.parametrize("named", ["another file", "", "garbage", "12:", ":34", "1:2:3", "-1:-2"])
def test_auto_is_json_when_journal_stream_names_something_else(
    monkeypatch, stderr_file, tmp_path, named
):
    other = tmp_path / "other"
    other.write_text("", encoding="utf-8")
    value = _journal_stream(other) if named == "another file" else named
    monkeypatch.setenv("JOURNAL_STREAM", value)
    assert rendering("auto", StderrStream(stderr_file)) == "json"


def test_auto_on_a_stream_without_a_descriptor_is_not_the_journal(monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    assert rendering("auto", StderrStream(io.StringIO())) == "json"
    assert rendering("auto", StderrStream(None)) == "json"
