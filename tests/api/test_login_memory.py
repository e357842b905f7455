"""The failed-login memory: keyed by a fingerprint, kept safely, and failing closed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import msgspec
import pytest
from helpers import credentials_environ, refusal

from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.login_memory import NO_LOGIN_MEMORY, LoginMemory, open_login_memory
from fota_poller.api.login_memory_file import login_memory_path
from fota_poller.config import ApiConfig, Config, PollConfig, StateConfig
from fota_poller.errors import LoginMemoryError
from fota_poller.simulator import SimulatorAuthOptions

AUTH = SimulatorAuthOptions()
PASSWORD = "hunter2-but-longer"


def config(base_url: str = "https://thingspace.example/api") -> Config:
    return Config(api=ApiConfig(base_url=base_url))


def credentials(password: str = PASSWORD, username: str = "operator") -> Credentials:
    return Credentials(
        app_key=Secret("key"),
        app_secret=Secret("secret"),
        username=Secret(username),
        password=Secret(password),
    )


def memory(tmp_path: Path, *, retry: bool = False, **changes: str) -> LoginMemory:
    """The memory in `tmp_path` (as systemd's state folder), the one place of a bare config."""
    base_url = changes.pop("base_url", "https://thingspace.example/api")
    opened = open_login_memory(
        config(base_url),
        credentials(**changes),
        retry=retry,
        environ={"STATE_DIRECTORY": str(tmp_path)},
    )
    assert isinstance(opened, LoginMemory)
    return opened


def test_a_rejection_is_remembered_by_a_fingerprint_never_the_password(tmp_path):
    memory(tmp_path).rejected(400)

    path = tmp_path / "login-failures.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert PASSWORD.encode() not in path.read_bytes()
    assert b"operator" not in path.read_bytes()
    refusal = memory(tmp_path).refusal()
    assert refusal is not None
    assert "rejected (HTTP 400) at 20" in refusal
    assert "fota-poller check --login" in refusal
    assert str(path) in refusal
    # Other credentials, or another host: not the ones refused.
    assert memory(tmp_path, password="another-password").refusal() is None
    assert memory(tmp_path, username="someone-else").refusal() is None
    assert memory(tmp_path, base_url="https://other.example/api").refusal() is None


def test_a_second_rejection_counts_and_keeps_the_first_time(tmp_path):
    first = memory(tmp_path)
    first.rejected(400)
    again = memory(tmp_path, retry=True)
    assert again.refusal() is None  # the operator's one try
    again.rejected(401)
    entry = memory(tmp_path).match
    assert entry is not None
    assert (entry.failures, entry.http_status) == (2, 401)
    assert first.match is not None
    assert entry.since == first.match.since


def test_a_success_forgets_only_its_own_credentials(tmp_path):
    memory(tmp_path).rejected(400)
    memory(tmp_path, password="old-password").rejected(400)

    memory(tmp_path, retry=True).accepted()

    assert memory(tmp_path).refusal() is None
    assert memory(tmp_path, password="old-password").refusal() is not None


def test_without_a_password_there_is_no_login_to_remember(tmp_path):
    tokens_only = Credentials(bearer_token=Secret("b"), session_token=Secret("s"))
    assert open_login_memory(config(), tokens_only) is NO_LOGIN_MEMORY


def test_a_refusal_kept_beside_the_lock_file_is_found_by_a_command_without_it(tmp_path):
    user = {"STATE_DIRECTORY": str(tmp_path / "user")}
    (tmp_path / "user").mkdir()
    with_lock = msgspec.structs.replace(
        config(), poll=PollConfig(lock_file=str(tmp_path / "poll.lock"))
    )
    open_login_memory(with_lock, credentials(), environ=user).rejected(400)

    assert (tmp_path / "poll.lock.login-failures").exists()
    assert open_login_memory(config(), credentials(), environ=user).refusal() is not None
    # The operator's one try, from either command, clears both.
    open_login_memory(config(), credentials(), retry=True, environ=user).accepted()
    assert open_login_memory(with_lock, credentials(), environ=user).refusal() is None


def test_where_the_memory_is_kept(tmp_path):
    state = Config(
        state=StateConfig(path="/var/lib/fota/state.db"), poll=PollConfig(lock_file="/l")
    )
    assert login_memory_path(state, {}) == Path("/var/lib/fota/state.db.login-failures")
    lock = Config(poll=PollConfig(lock_file="/run/lock/fota-poller.lock"))
    assert login_memory_path(lock, {}) == Path("/run/lock/fota-poller.lock.login-failures")
    systemd = {"STATE_DIRECTORY": "/var/lib/fota-poller:/var/lib/other", "XDG_STATE_HOME": "/x"}
    assert login_memory_path(Config(), systemd) == Path("/var/lib/fota-poller/login-failures.json")
    xdg = {"XDG_STATE_HOME": str(tmp_path)}
    assert login_memory_path(Config(), xdg) == tmp_path / "fota-poller/login-failures.json"
    home = Path.home() / ".local/state/fota-poller/login-failures.json"
    assert login_memory_path(Config(), {"XDG_STATE_HOME": "relative"}) == home


@pytest.mark.parametrize(
    "damage", [b"", b"{not json", b"\xff\xfe", b'{"failures": 7}', b"[" * 5000]
)
def test_a_damaged_memory_refuses_every_login_until_the_operator_tries_once(tmp_path, damage):
    path = tmp_path / "login-failures.json"
    path.write_bytes(damage)

    with pytest.raises(LoginMemoryError, match=r"unreadable.*fota-poller check --login"):
        memory(tmp_path)

    retried = memory(tmp_path, retry=True)
    retried.accepted()
    assert memory(tmp_path).refusal() is None  # written anew, readable


def test_a_symlink_at_the_memory_path_is_refused_and_never_written_through(tmp_path):
    target = tmp_path / "precious"
    target.write_bytes(b"keep me")
    (tmp_path / "login-failures.json").symlink_to(target)

    with pytest.raises(LoginMemoryError, match="symbolic link"):
        memory(tmp_path)
    memory(tmp_path, retry=True).rejected(400)

    assert target.read_bytes() == b"keep me"
    assert not (tmp_path / "login-failures.json").is_symlink()
    assert memory(tmp_path).refusal() is not None


def test_a_fifo_or_a_folder_at_the_memory_path_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "login-failures.json")
    with pytest.raises(LoginMemoryError, match="not a regular file"):
        memory(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_memory_file_of_another_user_is_refused(tmp_path):
    memory(tmp_path).rejected(400)
    os.chown(tmp_path / "login-failures.json", 4242, -1)
    with pytest.raises(LoginMemoryError, match="belongs to another user"):
        memory(tmp_path)


async def cli(*args: str) -> tuple[int, str, str]:
    result = await anyio.run_process(
        [sys.executable, "-m", "fota_poller", *args], env=credentials_environ(AUTH), check=False
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def test_poll_and_check_with_a_damaged_memory_exit_3_in_one_line_and_send_nothing(
    tmp_path, simulator
):
    lock = tmp_path / "poll.lock"
    (tmp_path / "poll.lock.login-failures").write_bytes(b"\x00garbage")
    async with simulator(campaigns=2, auth=AUTH) as sim:
        sim.catalog.write_ids(tmp_path / "ids.txt")
        poll = ["poll", "--base-url", sim.base_url, "--ids", str(tmp_path / "ids.txt")]
        poll += ["--lock-file", str(lock), "--output", str(tmp_path / "out.jsonl")]
        code, _, stderr = await cli(*poll)
        assert code == 3
        assert "Traceback" not in stderr
        [line] = [
            refusal(line) for line in stderr.splitlines() if "fota-poller" in refusal(line)[:12]
        ]
        assert "unreadable" in line
        assert "fota-poller check --login" in line

        check = ["check", "--base-url", sim.base_url, "--lock-file", str(lock)]
        code, stdout, stderr = await cli(*check)
        assert code == 3
        assert stdout.splitlines()[-1].startswith("FAIL logins")
        assert sim.auth.stats.token_requests == 0

        # The operator's one try replaces the file; the next poll logs in.
        code, stdout, _ = await cli(*check, "--login")
        assert code == 0, stdout
        code, _, stderr = await cli(*poll)
        assert code == 0, stderr
        assert sim.auth.stats.login_requests == 2
