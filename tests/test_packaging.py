"""The package as installed: typed, with its console script, and the version in one place."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import fota_poller

ROOT = Path(__file__).parent.parent


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
    assert entry.value == "fota_poller.cli:main"


def test_the_installed_version_is_the_package_version() -> None:
    assert importlib.metadata.version("fota-poller") == fota_poller.__version__


def test_every_public_name_is_importable_from_the_package() -> None:
    for name in fota_poller.__all__:
        assert getattr(fota_poller, name) is not None, name
