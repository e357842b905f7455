import io
import json

import structlog

from fota_poller.api.redact import REDACTED, Redactor
from fota_poller.observe.logs import configure_logging


def test_known_secrets_are_replaced_wherever_they_appear():
    redactor = Redactor(["hunter2-password"])

    event = redactor(
        None,
        "info",
        {
            "event": "x",
            "message": "login with hunter2-password failed",
            "nested": {"a": ["hunter2-password"]},
        },
    )

    assert "hunter2-password" not in repr(event)
    assert event["message"] == f"login with {REDACTED} failed"
    assert event["nested"] == {"a": [REDACTED]}


def test_secrets_added_later_are_redacted_too():
    redactor = Redactor()
    redactor.add("token-obtained-mid-run")

    assert redactor.redact("sent token-obtained-mid-run") == f"sent {REDACTED}"


def test_anything_that_looks_like_a_bearer_or_basic_credential_is_redacted():
    redactor = Redactor()

    text = redactor.redact("Authorization: Bearer abc.DEF-123_x== and basic dXNlcjpwYXNz")

    assert "abc.DEF" not in text
    assert "dXNlcjpwYXNz" not in text
    assert text == f"Authorization: Bearer {REDACTED} and basic {REDACTED}"


def test_values_of_secret_named_keys_are_redacted_whole():
    redactor = Redactor()

    event = redactor(None, "debug", {"password": "p", "VZ-M2M-Token": "t", "count": 3})

    assert event == {"password": REDACTED, "VZ-M2M-Token": REDACTED, "count": 3}


def test_longer_secret_containing_a_shorter_one_is_replaced_whole():
    redactor = Redactor(["abc", "abcdef"])

    assert redactor.redact("xabcdefx") == f"x{REDACTED}x"


def test_configured_logging_redacts_events_and_exception_text():
    stream = io.StringIO()
    redactor = Redactor(["s3cr3t-value"])
    configure_logging("debug", stream=stream, redactor=redactor)
    log = structlog.get_logger("fota_poller")

    try:
        try:
            raise ValueError("failed for s3cr3t-value")  # noqa: TRY301
        except ValueError:
            log.exception("boom", header="Bearer s3cr3t-value")
    finally:
        structlog.reset_defaults()

    line = json.loads(stream.getvalue())
    assert "s3cr3t-value" not in stream.getvalue()
    assert REDACTED in line["exception"]
