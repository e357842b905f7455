"""The package as installed: typed, with its console script, the version in one place, and the
production install (the built wheel in a fresh venv, from the runtime lock) running a night.

That venv is made as README.md's "Installing it" makes /opt/fota-poller: `pip install
--require-hashes -r requirements.lock`, then the wheel with `--no-deps`, through the same pip
configuration (index) as `make`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import fota_poller

ROOT = Path(__file__).parent.parent
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(?:\s*;\s*([^\\]+?))?\s*\\?$")
SIM_TOKENS = {
    "THINGSPACE_BEARER_TOKEN": "sim-bearer-token",
    "THINGSPACE_SESSION_TOKEN": "sim-session-token",
}


def pins(lock: Path, *, this_machine: bool = True) -> dict[str, str]:
    """{normalised name: version} of a lock, markers evaluated for this machine."""
    found = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if this_machine and marker and not Requirement(f"x; {marker}").marker.evaluate():  # type: ignore[union-attr]
            continue
        found[canonicalize_name(name)] = version
    return found


def frozen(python: Path) -> dict[str, str]:
    """{normalised name: version} that `pip freeze` lists in a venv, the project left out."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        # `name==version`, or `name @ file:///...` for the wheel installed from a path.
        name, _, version = line.partition(" @ ") if " @ " in line else line.partition("==")
        found[canonicalize_name(name)] = version
    assert found.pop("fota-poller", None) is not None, out
    return found


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This venv's pip installing into the venv of `python`, with the machine's pip config.

    The new venv has no pip of its own: ensurepip costs seconds and is not under test.
    Bytecode is left to first use, as a fresh install would do on a cron box anyway.
    """
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    return subprocess.run(
        [*command, "--no-compile", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv holding the built wheel, installed from the lock."""
    where = tmp_path_factory.mktemp("install")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(where / "dist")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = (where / "dist").glob("fota_poller-*.whl")
    venv.create(where / "venv", with_pip=False)
    python = where / "venv" / "bin" / "python"
    deps = pip(python, "--require-hashes", "-r", str(LOCK))
    assert deps.returncode == 0, deps.stderr[-2000:]
    project = pip(python, "--no-deps", str(wheel))
    assert project.returncode == 0, project.stderr[-2000:]
    return python.parent


def test_the_fresh_venv_holds_exactly_the_runtime_lock(installed: Path) -> None:
    assert frozen(installed / "python") == pins(LOCK)


def test_the_runtime_lock_takes_the_versions_the_tests_ran_with() -> None:
    tested = pins(DEV_LOCK, this_machine=False)
    runtime = pins(LOCK, this_machine=False)
    assert "rich" in runtime
    assert {name: tested.get(name) for name in runtime} == runtime


def test_every_runtime_range_admits_its_locked_version_and_stops_at_a_major() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = pins(LOCK, this_machine=False)
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert requirement.specifier.contains(locked[name]), (line, locked[name])
        assert any(spec.operator == "<" for spec in requirement.specifier), line


def test_a_lock_whose_hash_does_not_match_is_refused(tmp_path: Path) -> None:
    [line] = [line for line in LOCK.read_text(encoding="utf-8").splitlines() if "idna==" in line]
    tampered = tmp_path / "tampered.lock"
    pin = line.rstrip(" \\")
    tampered.write_text(f"{pin} --hash=sha256:{'0' * 64}\n", encoding="utf-8")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path / "d")]
    result = subprocess.run(
        [*command, "--require-hashes", "-r", str(tampered)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr


def test_the_installed_command_prints_its_version(installed: Path) -> None:
    result = subprocess.run(
        [str(installed / "fota-poller"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert fota_poller.__version__ in result.stdout


def test_the_installed_command_polls_its_own_simulator(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSPACE_")}
    ids, out = tmp_path / "ids.txt", tmp_path / "night.jsonl"
    simulate = [str(installed / "fota-poller"), "simulate", "--port", "0", "--seed", "3"]
    simulate += ["--campaigns", "12", "--devices", "1-30", "--write-ids", str(ids)]
    server = subprocess.Popen(simulate, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert server.stderr is not None
        ready = server.stderr.readline()
        assert "listening on" in ready, ready
        base_url = ready.rsplit(" ", 1)[-1].strip()
        poll = [str(installed / "fota-poller"), "poll", "--ids", str(ids), "--rate", "0"]
        poll += ["--base-url", base_url, "--output", str(out)]
        result = subprocess.run(
            poll, env=env | SIM_TOKENS, capture_output=True, text=True, check=False, timeout=60
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    run = records[-1]
    assert run["record"] == "run"
    assert run["complete"] is True
    assert run["exit_code"] == 0
    assert run["campaigns_total"] == run["campaigns_ok"] == 12
    campaigns = [r for r in records if r["record"] == "campaign"]
    assert len(campaigns) == 12
    devices = sum(1 for r in records if r["record"] == "device")
    assert run["devices_total"] == devices > 0


def test_the_wheel_carries_py_typed_and_the_simulator(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("fota_poller-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "fota_poller/py.typed" in names
    assert "fota_poller/simulator/server.py" in names
    assert not any(name.startswith("tests/") for name in names)


def test_the_console_script_points_at_the_cli() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    [entry] = [ep for ep in scripts if ep.name == "fota-poller"]
    assert entry.value == "fota_poller.cli:entry"


def test_the_installed_version_is_the_package_version() -> None:
    assert importlib.metadata.version("fota-poller") == fota_poller.__version__


def test_every_public_name_is_importable_from_the_package() -> None:
    for name in fota_poller.__all__:
        assert getattr(fota_poller, name) is not None, name
