import base64
from urllib.parse import quote, quote_plus

from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.redact import REDACTED, Redactor


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
    redactor = Redactor(["abcdefgh", "abcdefgh-ijkl"])

    assert redactor.redact("xabcdefgh-ijklx") == f"x{REDACTED}x"


def test_base64_and_url_encoded_forms_are_redacted():
    redactor = Redactor()
    redactor.add_credentials(
        Credentials(
            app_key=Secret("app-key-0123456789"),
            app_secret=Secret("app/secret+with spaces&more"),
            username=Secret("operator@example.com"),
            password=Secret("pa ss:wo/rd?!"),
        )
    )
    basic = base64.b64encode(b"app-key-0123456789:app/secret+with spaces&more").decode()
    # The secret alone in base64, at another alignment inside a longer base64 text.
    shifted = base64.b64encode(b"x" + b"app/secret+with spaces&more" + b"yz").decode()
    echoes = [
        f"invalid_client: Basic {basic}",
        f"invalid_client: {basic}",
        base64.b64encode(b"pa ss:wo/rd?!").decode(),
        shifted,
        quote("app/secret+with spaces&more", safe=""),
        quote_plus("app/secret+with spaces&more"),
        quote("operator@example.com"),
        quote_plus("pa ss:wo/rd?!"),
        base64.b64encode(b"operator@example.com:pa ss:wo/rd?!").decode(),
    ]

    for echo in echoes:
        shown = redactor.redact(f"error: {echo}.")
        assert REDACTED in shown, echo
        for secret in ("app/secret+with spaces&more", "operator@example.com", "pa ss:wo/rd?!"):
            assert secret not in shown
        assert basic not in shown


def test_a_short_secret_is_redacted_only_as_a_whole_value():
    redactor = Redactor(["e", "short7!"])

    event = redactor(None, "info", {"event": "run.finished", "token": "e", "note": "short7!"})

    assert event == {"event": "run.finished", "token": REDACTED, "note": REDACTED}
    assert redactor.redact("the run has finished") == "the run has finished"


def test_an_8_mb_token_is_added_and_redacted_in_linear_time_and_memory():
    token = "t0K" * (8 * 1024 * 1024 // 3)
    redactor = Redactor()

    redactor.add(token)

    assert redactor.redact("run.finished exit_code=0") == "run.finished exit_code=0"
    assert redactor.redact(f"echo {token}!", limit=200) == f"echo {REDACTED}!"
    assert token not in redactor.redact(f"{token}{token}"[:-1])


def test_error_text_is_cut_after_it_is_redacted():
    secret = "s3cret-value-long"
    redactor = Redactor([secret])
    text = "x" * 195 + secret + "y" * 2_000_000

    shown = redactor.redact(text, limit=200)

    assert "s3cret" not in shown
    assert shown.endswith(f"…[cut, {len(text)} chars]")
    assert len(shown) < 250
    assert redactor.redact("short", limit=200) == "short"


def test_log_fields_holding_error_text_are_cut():
    redactor = Redactor()

    event = redactor(None, "info", {"error_code": "E" * 1_000_000, "other": "o" * 300})

    assert event["error_code"] == "E" * 200 + "…[cut, 1000000 chars]"
    assert event["other"] == "o" * 300


def test_whole_values_that_are_a_secret_or_one_of_its_forms_are_found():
    redactor = Redactor(["device-secret-1", "e"])
    encoded = base64.b64encode(b"device-secret-1").decode()

    found = redactor.secrets_among(["35000001", "e", encoded, None, "x-device-secret-1"])

    assert found == {"e", encoded}


def test_a_secret_added_later_is_redacted_in_a_value_seen_before():
    redactor = Redactor()
    assert redactor.redact("status learnt-late-token") == "status learnt-late-token"

    redactor.add("learnt-late-token")

    assert redactor.redact("status learnt-late-token") == f"status {REDACTED}"


def test_a_record_text_cut_once_is_logged_with_the_servers_length_and_redacted():
    redactor = Redactor()
    redactor.add("hunter2-password")
    record_code = redactor.redact("hunter2-password " + "E" * 1_000_000, limit=200)
    assert record_code.endswith("…[cut, 1000017 chars]")
    logged = redactor.redact(record_code, limit=200)
    assert logged == record_code
    assert "hunter2" not in logged


def test_changed_among_gives_only_the_values_redaction_changes_and_forgets_clean_ones_on_add():
    redactor = Redactor(["s3cret-token-value"])
    texts = {"UpgradeSuccess", "note s3cret-token-value here", "Bearer abc.def", "fw-02"}

    assert redactor.changed_among(texts) == {
        "note s3cret-token-value here": f"note {REDACTED} here",
        "Bearer abc.def": f"Bearer {REDACTED}",
    }
    # The clean ones are remembered, and asked again nothing changes...
    assert redactor.changed_among({"UpgradeSuccess", "fw-02"}) == {}
    # ...until a secret is learnt that one of them holds: found clean before, redacted now.
    redactor.add("fw-02")
    assert redactor.changed_among({"UpgradeSuccess", "fw-02"}) == {"fw-02": REDACTED}
