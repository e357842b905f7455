"""The real tools that read deploy/ in production: each test finds its tool with `tool`.

A developer's machine may lack them: the test is skipped there, with the package to install.
Under CI (`CI` set, as `.ci/run` does after installing them) a missing tool fails the test,
so a green CI run always means the file was read by its tool.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

# The tool, and the Debian package that has it.
PACKAGES = {
    "promtool": "prometheus",
    "systemd-analyze": "systemd",
    "cron": "cron",
    "logrotate": "logrotate",
}


def find_tool(name: str) -> str:
    """The tool's path; a skip (a failure under CI) naming the package when it is missing."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is not None:
        return path
    message = f"{name} not found: install Debian's {PACKAGES.get(name, name)} package"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def tool() -> Callable[[str], str]:
    """`tool("promtool")`: the path of a production tool (see `find_tool`)."""
    return find_tool
