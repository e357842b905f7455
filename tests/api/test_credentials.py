import os

import pytest
import structlog
from helpers import ROOT, refusal, run_cli

from fota_poller.api.credentials import Credentials, Secret, credential_sources, load_credentials
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


# -- a file [auth] names must be usable, even when the environment wins -----------------------


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo", "not utf-8", "empty", "huge"])
def test_a_named_secret_file_that_cannot_be_used_is_refused_though_the_variable_is_set(
    tmp_path, kind
):
    path = tmp_path / "password"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # nobody writes it: a read would wait for ever
    elif kind == "not utf-8":
        secret_file(tmp_path, "password", "").write_bytes(b"pass\xff\xfeword")
    elif kind == "empty":
        secret_file(tmp_path, "password", " \n")
    elif kind == "huge":
        secret_file(tmp_path, "password", "p" * 100_000)

    with pytest.raises(ConfigError) as caught:
        load_credentials(AuthConfig(password_file=str(path)), FULL_ENVIRONMENT)

    message = str(caught.value)
    assert f"auth.password_file {path}" in message
    assert "\n" not in message
    assert all(value not in message for value in FULL_ENVIRONMENT.values())
    assert "pass" not in message.replace("password", "")


def test_a_named_secret_file_is_followed_through_a_link(tmp_path):
    # Kubernetes mounts each secret as a link into a `..data` folder.
    target = secret_file(tmp_path, "real-password", "linked-secret")
    link = tmp_path / "password"
    link.symlink_to(target)
    environ = {k: v for k, v in FULL_ENVIRONMENT.items() if k != "THINGSPACE_PASSWORD"}

    credentials = load_credentials(AuthConfig(password_file=str(link)), environ)

    assert credentials.password is not None
    assert credentials.password.reveal() == "linked-secret"


def test_credential_sources_say_where_each_secret_comes_from_without_reading_it(tmp_path):
    environ = {
        "THINGSPACE_APP_KEY": "key-from-env",
        "THINGSPACE_BEARER_TOKEN": "bearer",
        "CREDENTIALS_DIRECTORY": str(tmp_path),
    }
    config = AuthConfig(app_key_file="/nowhere/key", password_file="password")

    sources = {
        name: None if s is None else str(s) for name, s in credential_sources(config, environ)
    }

    assert sources == {
        "auth.app_key": "env THINGSPACE_APP_KEY",  # the variable wins over the file
        "auth.app_secret": None,
        "auth.username": None,
        "auth.password": f"file {tmp_path / 'password'}",
        "auth.bearer_token": "env THINGSPACE_BEARER_TOKEN",
        "auth.session_token": None,
    }


def test_poll_with_a_missing_secret_file_and_the_variable_set_exits_2_naming_it(tmp_path):
    missing = tmp_path / "app-key"
    config = tmp_path / "config.toml"
    config.write_text(f'[auth]\napp_key_file = "{missing}"\n', encoding="utf-8")

    done = run_cli(["poll", "-c", str(config), "--ids", "-"], env=FULL_ENVIRONMENT, stdin=b"")

    [line] = done.stderr.decode().splitlines()
    assert done.returncode == 2
    assert refusal(line) == (
        f"fota-poller: cannot read auth.app_key_file {missing}: No such file or directory"
    )
    assert "key-from-env" not in line
