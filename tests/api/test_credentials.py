import pytest
import structlog
from helpers import ROOT

from fota_poller.api.credentials import Credentials, Secret, load_credentials
from fota_poller.api.token_provider import TokenProvider
from fota_poller.config import AuthConfig, Config
from fota_poller.errors import ConfigError, MissingCredentialsError

FULL_ENVIRONMENT = {
    "THINGSPACE_APP_KEY": "key-from-env",
    "THINGSPACE_APP_SECRET": "secret-from-env",
    "THINGSPACE_USERNAME": "user-from-env",
    "THINGSPACE_PASSWORD": "password-from-env",
}


def secret_file(folder, name, text, mode=0o600):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_credentials_come_from_the_environment():
    credentials = load_credentials(AuthConfig(), FULL_ENVIRONMENT)

    assert credentials.values() == list(FULL_ENVIRONMENT.values())


def test_files_named_in_the_config_are_read_and_stripped(tmp_path):
    config = AuthConfig(
        app_key_file=str(secret_file(tmp_path, "key", "file-key\n")),
        app_secret_file=str(secret_file(tmp_path, "secret", "file-secret\n")),
        username_file=str(secret_file(tmp_path, "user", "file-user")),
        password_file=str(secret_file(tmp_path, "password", " file-password \n")),
    )

    credentials = load_credentials(config, {})

    assert credentials.values() == ["file-key", "file-secret", "file-user", "file-password"]


def test_the_environment_takes_precedence_over_a_file(tmp_path):
    config = AuthConfig(password_file=str(secret_file(tmp_path, "password", "from-file")))

    credentials = load_credentials(config, FULL_ENVIRONMENT)

    assert credentials.password is not None
    assert credentials.password.reveal() == "password-from-env"


def test_relative_file_is_found_in_the_systemd_credentials_directory(tmp_path):
    secret_file(tmp_path, "thingspace-password", "from-systemd")
    environ = {k: v for k, v in FULL_ENVIRONMENT.items() if k != "THINGSPACE_PASSWORD"}
    environ["CREDENTIALS_DIRECTORY"] = str(tmp_path)

    credentials = load_credentials(AuthConfig(password_file="thingspace-password"), environ)

    assert credentials.password is not None
    assert credentials.password.reveal() == "from-systemd"


def test_secret_file_readable_by_others_gets_a_warning_naming_it(tmp_path):
    path = secret_file(tmp_path, "password", "open-secret", mode=0o644)
    environ = {k: v for k, v in FULL_ENVIRONMENT.items() if k != "THINGSPACE_PASSWORD"}

    with structlog.testing.capture_logs() as logs:
        load_credentials(AuthConfig(password_file=str(path)), environ)

    warnings = [e for e in logs if e["event"] == "auth.secret_file_readable_by_others"]
    assert [(w["path"], w["mode"]) for w in warnings] == [(str(path), "0o644")]
    assert "open-secret" not in repr(logs)


def test_private_secret_file_gets_no_warning(tmp_path):
    path = secret_file(tmp_path, "password", "closed-secret", mode=0o600)
    environ = {k: v for k, v in FULL_ENVIRONMENT.items() if k != "THINGSPACE_PASSWORD"}

    with structlog.testing.capture_logs() as logs:
        load_credentials(AuthConfig(password_file=str(path)), environ)

    assert logs == []


def test_missing_credentials_are_named_in_one_line():
    with pytest.raises(MissingCredentialsError) as caught:
        load_credentials(AuthConfig(), {"THINGSPACE_APP_KEY": "k", "THINGSPACE_USERNAME": "u"})

    message = str(caught.value)
    assert "THINGSPACE_APP_SECRET" in message
    assert "THINGSPACE_PASSWORD" in message
    assert "THINGSPACE_APP_KEY," not in message
    assert "\n" not in message


def test_pre_issued_tokens_stand_in_for_the_credentials_that_obtain_them():
    environ = {"THINGSPACE_BEARER_TOKEN": "b", "THINGSPACE_SESSION_TOKEN": "s"}

    credentials = load_credentials(AuthConfig(), environ)

    assert credentials.values() == ["b", "s"]


def test_unreadable_secret_file_is_a_config_error_naming_it(tmp_path):
    missing = tmp_path / "nope"

    with pytest.raises(ConfigError, match=f"auth.password_file {missing}"):
        load_credentials(AuthConfig(password_file=str(missing)), {})


def test_empty_secret_file_is_a_config_error(tmp_path):
    path = secret_file(tmp_path, "password", "\n")

    with pytest.raises(ConfigError, match="is empty"):
        load_credentials(AuthConfig(password_file=str(path)), {})


def test_repr_of_credentials_secrets_and_provider_hides_the_values():
    credentials = load_credentials(AuthConfig(), FULL_ENVIRONMENT)
    provider = TokenProvider(Config(), credentials)

    shown = f"{credentials!r} {credentials.password} {provider!r} {Secret('x-secret')}"

    assert all(value not in shown for value in FULL_ENVIRONMENT.values())
    assert "x-secret" not in shown
    assert "<redacted>" in shown


def test_config_holds_file_names_only():
    assert Credentials.__struct_fields__ == (
        "app_key",
        "app_secret",
        "username",
        "password",
        "bearer_token",
        "session_token",
    )
    assert AuthConfig.__struct_fields__ == (
        "app_key_file",
        "app_secret_file",
        "username_file",
        "password_file",
    )


def test_docs_document_every_credential_source_and_exit_code_3():
    section = (ROOT / "docs" / "credentials.md").read_text(encoding="utf-8")

    for name in (*FULL_ENVIRONMENT, "THINGSPACE_BEARER_TOKEN", "THINGSPACE_SESSION_TOKEN"):
        assert name in section
    for key in AuthConfig.__struct_fields__:
        assert key in section
    assert "exit code is **3**" in section


@pytest.mark.parametrize("bad", ["tok\r\nX: 1", "tok\x00", "tok\x1b[0m", "tok\u2028"], ids=repr)
def test_a_pre_issued_token_with_a_control_character_is_refused_unshown(bad):
    environ = {"THINGSPACE_BEARER_TOKEN": bad, "THINGSPACE_SESSION_TOKEN": "session"}
    with pytest.raises(ConfigError, match="THINGSPACE_BEARER_TOKEN holds a control") as caught:
        load_credentials(AuthConfig(), environ)
    assert "tok" not in str(caught.value)
