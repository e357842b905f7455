"""`check`'s `writable` step: every folder the night writes into is tried, as the night's user.

Each test runs the real CLI against the simulator. As root (this container, most CI) the
permission bits never refuse, so the worst nights are the ones root meets too: a missing
folder, a folder that is a file, a folder of sysfs (/sys: EACCES to root as well), an
immutable folder or lock file (`chattr +i`, where the filesystem and the capability allow
it). Permission bits (a 0555 folder, another user's file in a sticky folder) are tried by
running the check as nobody through `setpriv` when the tests run as root.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fota_poller.commands.check.folders import folder_problem


def leftovers(*folders: Path) -> list[Path]:
    """The preflight's probe files still in `folders`: there must never be any."""
    return [found for folder in folders for found in folder.glob(".fota-poller-check-*")]


def night_config(tmp_path: Path, *, output: Path, metrics: Path, state: Path, lock: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[poll]\nlock_file = "{lock}"\n[output]\npath = "{output}"\n'
        f'metrics_file = "{metrics}"\n[state]\npath = "{state}"\n',
        encoding="utf-8",
    )
    return config


async def test_every_folder_of_the_night_is_written_and_left_clean(tmp_path, run_check):
    runs, textfiles = tmp_path / "runs", tmp_path / "textfiles"
    runs.mkdir()
    textfiles.mkdir()
    lock = runs / "fota-poller.lock"
    lock.write_bytes(b"4242\n")  # left by an earlier night: opened in place, never changed
    config = night_config(
        tmp_path,
        output=runs / "night.jsonl",
        metrics=textfiles / "fota.prom",
        state=runs / "state.db",
        lock=lock,
    )

    checked = await run_check("--config", str(config))

    assert checked.code == 0, checked.lines
    assert [line.split(" (")[0] for line in checked.step("writable")] == [
        f"ok   writable    {runs}: lock file, output, state database, state lock file",
        f"ok   writable    {textfiles}: metrics file",
    ]
    assert "GB free" in checked.step("writable")[0]
    assert leftovers(runs, textfiles) == []
    assert sorted(path.name for path in runs.iterdir()) == ["fota-poller.lock"]
    assert lock.read_bytes() == b"4242\n"
    assert checked.lines[-1].startswith("ok   logout")


async def test_the_flags_poll_takes_name_the_folders_too(tmp_path, run_check):
    missing = tmp_path / "not-made-yet"

    checked = await run_check(
        "--output", str(missing / "night.jsonl"), "--metrics-file", str(tmp_path / "m.prom")
    )

    assert checked.code == 2
    writable = checked.step("writable")
    assert writable[0] == (
        f"FAIL writable    {missing}: no such folder, for output {missing / 'night.jsonl'}"
    )
    assert writable[1].startswith(f"ok   writable    {tmp_path}: metrics file (")
    assert len(writable) == 2
    # Every folder is said, then the check stops: nothing is asked of the API.
    assert checked.lines[-1].startswith(f"ok   writable    {tmp_path}: metrics file")
    assert checked.reached == 0
    assert not missing.exists()


async def test_a_missing_state_folder_names_both_files_in_one_line(tmp_path, run_check):
    state = tmp_path / "gone" / "state.db"

    checked = await run_check("--state", str(state))

    assert checked.code == 2
    assert checked.lines[-1] == (
        f"FAIL writable    {state.parent}: no such folder, "
        f"for state database {state}, state lock file {state}.lock"
    )
    assert checked.reached == 0


async def test_a_folder_that_is_a_file_is_refused_naming_the_path(tmp_path, run_check):
    folder = tmp_path / "textfiles"
    folder.write_text("not a folder\n", encoding="utf-8")
    metrics = folder / "fota.prom"

    checked = await run_check("--metrics-file", str(metrics))

    assert checked.code == 2
    # Found by the `files` step already: the path to the file cannot even be looked at.
    assert (
        checked.lines[-1] == f"FAIL files       cannot use metrics file {metrics}: Not a directory"
    )
    assert checked.reached == 0
    assert folder.read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
async def test_an_output_that_is_a_link_or_a_fifo_is_refused_before_any_probe(
    tmp_path, run_check, kind
):
    output = tmp_path / "night.jsonl"
    if kind == "symlink":
        output.symlink_to(tmp_path / "elsewhere.jsonl")
    else:
        os.mkfifo(output)

    checked = await run_check("-o", str(output))

    assert checked.code == 2
    assert checked.lines[-1].startswith(f"FAIL files       output {output}: it is a ")
    assert checked.step("writable") == []
    assert checked.reached == 0
    assert not (tmp_path / "elsewhere.jsonl").exists()


def _sysfs_refuses_root() -> bool:
    return Path("/sys/kernel").is_dir() and folder_problem(Path("/sys")) == "permission denied"


@pytest.mark.skipif(not _sysfs_refuses_root(), reason="no sysfs that refuses new files here")
async def test_a_folder_the_kernel_refuses_is_permission_denied_even_to_root(run_check):
    metrics = Path("/sys/fota-poller.prom")

    checked = await run_check("--metrics-file", str(metrics))

    assert checked.code == 2
    assert checked.lines[-1] == (
        f"FAIL writable    /sys: permission denied, for metrics file {metrics}"
    )
    assert checked.reached == 0


NOBODY = 65534


@pytest.fixture
def unprivileged() -> list[str]:
    """The command prefix that runs a check as a process permission bits apply to.

    Nothing when the tests already run as one; as root, `setpriv` (Linux's util-linux)
    taking from root the capabilities that pass over permission bits and file owners, as a
    unit's `CapabilityBoundingSet=` does. Still root, so it reads the checkout and the venv
    wherever they are (a CI clone in a 0700 folder that nobody could enter), or the test is
    skipped.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv: no process that permission bits refuse")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder every user may enter (pytest's own is its user's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="fota-poller-check-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


async def test_a_read_only_folder_is_permission_denied(shared_tmp, run_check, unprivileged):
    folder = shared_tmp / "runs"
    folder.mkdir(mode=0o555)
    output = folder / "night.jsonl"

    checked = await run_check("-o", str(output), user=unprivileged)

    assert checked.code == 2, checked.lines
    assert checked.lines[-1] == f"FAIL writable    {folder}: permission denied, for output {output}"
    assert checked.reached == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user's file: run as root")
async def test_another_users_output_in_a_sticky_folder_cannot_be_replaced(
    shared_tmp, run_check, unprivileged
):
    folder = shared_tmp / "tmp"
    folder.mkdir()
    folder.chmod(0o1777)  # as /tmp: anyone may create, only an owner may replace
    output = folder / "night.jsonl"
    output.write_text("nobody's\n", encoding="utf-8")
    # Another user's file in another user's sticky folder: only CAP_FOWNER replaces it.
    os.chown(output, NOBODY, NOBODY)
    os.chown(folder, NOBODY, NOBODY)

    checked = await run_check("-o", str(output), user=unprivileged)

    assert checked.code == 2, checked.lines
    assert checked.lines[-1] == (
        f"FAIL writable    output {output}: cannot be replaced: uid {NOBODY} owns it, "
        "in a sticky folder (mode 1777)"
    )
    assert sorted(path.name for path in folder.iterdir()) == ["night.jsonl"]
    # Root with its capabilities may replace it: the same check passes.
    as_root = await run_check("-o", str(output))
    assert as_root.code == 0, as_root.lines
    assert as_root.step("writable")[0].startswith(f"ok   writable    {folder}: output"), (
        as_root.lines
    )


def _chattr(flag: str, path: Path) -> bool:
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    done = subprocess.run([chattr, flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    """A folder and a file in it, each made immutable on demand; made mutable again after."""
    made: list[Path] = []

    def make(path: Path) -> Path:
        if not _chattr("+i", path):
            pytest.skip("chattr +i is not possible here (filesystem or capability)")
        made.append(path)
        return path

    yield make
    for path in reversed(made):
        _chattr("-i", path)


async def test_an_immutable_folder_is_refused_and_no_probe_is_left(tmp_path, run_check, immutable):
    folder = tmp_path / "runs"
    folder.mkdir()
    immutable(folder)

    checked = await run_check("-o", str(folder / "night.jsonl"))

    assert checked.code == 2
    assert checked.lines[-1] == (
        f"FAIL writable    {folder}: operation not permitted (immutable? see lsattr), "
        f"for output {folder / 'night.jsonl'}"
    )
    assert list(folder.iterdir()) == []


async def test_a_lock_file_that_cannot_be_opened_for_writing_is_refused(
    tmp_path, run_check, immutable
):
    lock = tmp_path / "fota-poller.lock"
    lock.write_bytes(b"4242\n")
    immutable(lock)

    checked = await run_check("--lock-file", str(lock))

    assert checked.code == 2
    assert checked.lines[-1] == (
        f"FAIL writable    lock file {lock}: cannot be opened for writing: "
        "operation not permitted (immutable? see lsattr)"
    )
    # The folder itself was tried, and its probe removed at once.
    assert leftovers(tmp_path) == []
    assert lock.read_bytes() == b"4242\n"
