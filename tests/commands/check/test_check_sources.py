"""`check` says where each value of the effective config came from: flag, file, default; and
each credential's variable or file, never its value."""

from __future__ import annotations

import socket
from pathlib import Path

from helpers import clean_environ, run_cli

from fota_poller.config import CONFIG_ENV, Config, apply_overrides, config_values, load_config_keys
from fota_poller.config_sources import Source, value_sources

SECRETS = {
    "THINGSPACE_APP_KEY": "key-8a1f-from-env",
    "THINGSPACE_APP_SECRET": "secret-77c2-from-env",
}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def config_lines(stdout: bytes) -> dict[str, str]:
    """{key: `value (source)`} of check's indented lines under its `config` step."""
    lines = [line for line in stdout.decode().splitlines() if line.startswith("  ")]
    return dict(line.strip().split(" = ", 1) for line in lines)


def test_sources_a_flag_wins_over_the_file_and_the_file_over_the_default(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[poll]\nrate = 5\nconcurrency = 3\n", encoding="utf-8")
    read, keys = load_config_keys(path)
    effective = apply_overrides(read, poll={"rate": 2.0})

    found = {
        one.key: (one.value, one.source)
        for one in value_sources(
            config_values(effective), flags={"poll.rate": "--rate"}, file=path, file_keys=keys
        )
    }

    assert found["poll.rate"] == (2.0, Source("flag", "--rate"))
    assert found["poll.concurrency"] == (3, Source("file", str(path)))
    assert found["poll.max_attempts"] == (8, Source("default"))
    assert len(found) == sum(len(section) for section in config_values(Config()).values())


def test_a_key_the_file_sets_to_its_default_is_still_the_files(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[poll]\nrate = 10.0\n", encoding="utf-8")
    read, keys = load_config_keys(path)

    [rate] = [
        one
        for one in value_sources(config_values(read), flags={}, file=path, file_keys=keys)
        if one.key == "poll.rate"
    ]

    assert str(rate.source) == f"file {path}"


def test_check_prints_each_value_and_its_source_never_a_secret(tmp_path: Path):
    port = closed_port()
    config = tmp_path / "night.toml"
    password = tmp_path / "password"
    password.write_text("pw-41d9-from-file\n", encoding="utf-8")
    password.chmod(0o600)
    config.write_text(
        f'[api]\nbase_url = "http://127.0.0.1:{port}"\n[poll]\nrate = 2.5\n'
        f'[auth]\npassword_file = "{password}"\n',
        encoding="utf-8",
    )
    state = tmp_path / "state.db"
    env = clean_environ() | SECRETS | {"THINGSPACE_USERNAME": "user-93be-from-env"}
    env.pop(CONFIG_ENV, None)

    done = run_cli(["check", "-c", str(config), "--state", str(state)], env=env)

    shown = config_lines(done.stdout)
    assert done.returncode == 4, done.stdout  # the connect step, after the config's lines
    assert shown["api.base_url"] == f'"http://127.0.0.1:{port}" (file {config})'
    assert shown["poll.rate"] == f"2.5 (file {config})"
    assert shown["poll.concurrency"] == "8 (default)"
    assert shown["poll.deadline"] == "unset (default)"
    assert shown["state.path"] == f'"{state}" (flag --state)'
    assert shown["auth.password_file"] == f'"{password}" (file {config})'
    assert shown["auth.app_key"] == "*** (env THINGSPACE_APP_KEY)"
    assert shown["auth.username"] == "*** (env THINGSPACE_USERNAME)"
    assert shown["auth.password"] == f"*** (file {password})"
    assert shown["auth.session_token"] == "unset"
    assert set(shown) >= {
        f"{section}.{key}" for section, keys in config_values(Config()).items() for key in keys
    }
    output = (done.stdout + done.stderr).decode()
    for secret in [*SECRETS.values(), "user-93be-from-env", "pw-41d9-from-file"]:
        assert secret not in output


def test_check_names_the_variable_that_named_the_config_file(tmp_path: Path):
    config = tmp_path / "night.toml"
    config.write_text('[api]\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    env = clean_environ() | SECRETS | {CONFIG_ENV: str(config)}

    done = run_cli(["check"], env=env)

    shown = config_lines(done.stdout)
    assert shown["api.base_url"] == f'"http://127.0.0.1:9" (file {config} via ${CONFIG_ENV})'
    assert shown["poll.rate"] == "10.0 (default)"


def test_check_escapes_a_value_that_holds_terminal_controls(tmp_path: Path):
    config = tmp_path / "night.toml"
    config.write_text(
        '[api]\nbase_url = "http://127.0.0.1:9"\n[output]\npath = "out\\u001b[2J\\u009b.jsonl"\n',
        encoding="utf-8",
    )
    env = clean_environ() | SECRETS

    done = run_cli(["check", "-c", str(config)], env=env)

    assert b"\x1b" not in done.stdout
    assert "\x9b" not in done.stdout.decode()
    assert config_lines(done.stdout)["output.path"] == f'"out\\u001b[2J\\x9b.jsonl" (file {config})'
