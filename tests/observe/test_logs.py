"""Log lines: the format asked for (or the one that suits stderr), colours, level, the run_id."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from fota_poller.observe.logs import configure_logging

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
