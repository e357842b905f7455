from pathlib import Path

import pytest

from fota_poller.cli import main
from fota_poller.config import apply_overrides, load_config
from fota_poller.durations import Duration, parse_duration
from fota_poller.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45m", 2700), ("1h30m", 5400), ("90s", 90), ("0.5s", 0.5), ("1h 5m 3s", 3903)],
)
def test_durations_are_read_in_hours_minutes_and_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "m"])
def test_a_bad_duration_is_a_config_error(text):
    with pytest.raises(ConfigError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["45", "90", " 0.5 "])
def test_a_bare_number_is_refused_asking_for_a_unit(text):
    with pytest.raises(ConfigError, match=r"has no unit: write .*s, .*m") as raised:
        parse_duration(text)
    assert "\n" not in str(raised.value)


def test_the_example_config_holds_the_resilience_defaults():
    poll = load_config(EXAMPLE).poll
    assert poll.max_attempts == 8
    assert poll.max_response_mb == 256
    assert poll.deadline is None
    assert poll.lock_file is None


def test_a_bad_deadline_flag_is_a_one_line_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("THINGSPACE_BEARER_TOKEN", "b")
    monkeypatch.setenv("THINGSPACE_SESSION_TOKEN", "s")
    ids = tmp_path / "ids.txt"
    ids.write_text("")
    assert main(["poll", "--ids", str(ids), "--deadline", "tomorrow"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "deadline" in err


def test_a_deadline_is_parsed_once_into_its_text_and_its_seconds(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[poll]\ndeadline = "1h30m"\n')
    config = load_config(path)
    assert config.poll.deadline == Duration("1h30m")
    assert (config.poll.deadline.text, config.poll.deadline.seconds) == ("1h30m", 5400)
    # Flags laid over the file keep the file's deadline, or replace it with their own.
    assert apply_overrides(config, poll={"rate": 5}).poll.deadline.seconds == 5400
    assert apply_overrides(config, poll={"deadline": "90s"}).poll.deadline.seconds == 90


@pytest.mark.parametrize(
    ("value", "message"),
    [('"tomorrow"', "not a duration"), ("5", "no unit"), ('"45"', "no unit"), ("true", "str")],
)
def test_a_bad_deadline_in_the_file_names_the_key(tmp_path, value, message):
    path = tmp_path / "config.toml"
    path.write_text(f"[poll]\ndeadline = {value}\n")
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path)
    assert "`poll.deadline`" in str(raised.value)
