"""`fota-poller check` as a process against a simulator: what the new steps' tests share."""

import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import anyio
import pytest
from helpers import credentials_environ

from fota_poller.simulator import SimulatorOptions, run_simulator

SMALL = SimulatorOptions(campaigns=6, devices_min=1, devices_max=2, report_page_size=2)


class Checked(NamedTuple):
    code: int
    lines: list[str]
    stderr: str
    reached: int  # requests of any kind the simulator saw: API, token, login, logout
    report_pages: int  # report pages it served

    def step(self, name: str) -> list[str]:
        """The lines of one step, verdict and all."""
        return [line for line in self.lines if line[5:].split(" ", 1)[0] == name]


RunCheck = Callable[..., Awaitable[Checked]]


@pytest.fixture
def run_check() -> RunCheck:
    """`await run_check(*flags, stdin=None, user=())`: `check FLAGS --base-url SIM`, a process.

    `user` is a command that runs the rest as another user (`setpriv ...`), or nothing.
    """

    async def run(*flags: str, stdin: bytes | None = None, user: Sequence[str] = ()) -> Checked:
        async with run_simulator(SMALL) as sim:
            command = [*user, sys.executable, "-m", "fota_poller", "check", *flags]
            command += ["--base-url", sim.base_url]
            with anyio.fail_after(30):  # only for a regression that hangs
                done = await anyio.run_process(
                    command, env=credentials_environ(SMALL.auth), input=stdin, check=False
                )
            auth = sim.auth.stats
            reached = (
                sim.stats.requests_total
                + auth.token_requests
                + auth.login_requests
                + auth.logout_requests
            )
            pages = len(sim.stats.report_pages)
        lines = done.stdout.decode().splitlines()
        return Checked(done.returncode, lines, done.stderr.decode(), reached, pages)

    return run


@pytest.fixture
async def catalog_ids(tmp_path: Path) -> Path:
    """The simulator's campaigns as an id list (`account,id` lines)."""
    async with run_simulator(SMALL) as sim:
        ids = tmp_path / "ids.txt"
        sim.catalog.write_ids(ids)
    return ids
