"""What the tests share: running a poll (in process or as the real CLI), reading its output,
a clock moved by hand, and a few ways to set up the simulator. bench/resilience.py uses it too.

Fixtures stay in conftest.py; everything a test imports comes from here or from
`fota_poller.testing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import pty
import random
import re
import struct
import subprocess
import sys
import termios
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import jsonschema
import msgspec
from aiohttp import web

from fota_poller.api.credentials import Credentials, Secret
from fota_poller.config import ApiConfig, Config, apply_overrides
from fota_poller.ids.lists import close_id_sources, open_id_sources, read_refs
from fota_poller.model.records import CampaignRecord, DeviceRecord, Record, RunRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.model.stop import RunControl
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import Catalog, RunningSimulator, SimulatorAuthOptions, SimulatorOptions
from fota_poller.state.store import CampaignUpdate, StateStore
from fota_poller.state.times import to_ms
from fota_poller.testing import MemorySink, StaticTokens, read_records

ROOT = Path(__file__).resolve().parent.parent  # the repository
RECORDS_SCHEMA = ROOT / "docs" / "records.schema.json"
SimulatorFactory = Callable[..., AbstractAsyncContextManager[RunningSimulator]]

# The ids the tests write: ACCOUNT is the simulator's default account.
ACCOUNT = "0000123456-00001"
OTHER_ACCOUNT = "0000654321-00001"
UPGRADE = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"
OTHER_UPGRADE = "0f5b3e1c-6a8d-4d5e-9b7c-2c1d3e4f5a6b"

# A device as the tests write it to the state: (device id, status, result reason, status_since).
Device = tuple[str, str | None, str | None, datetime]


def write_campaign(
    path: Path, account: str, upgrade: str, devices: list[Device], run_id: str = "run-1"
) -> None:
    """Commit one campaign's devices to the state database through `StateStore`, as a poll
    run does (each first seen a day before its status_since)."""
    with StateStore.open(path) as store:
        store.start_run(run_id, "2026-11-26T02:00:00.000Z")
        prior = store.previous(account, upgrade)
        rows = [
            (device, status, reason, to_ms(since), to_ms(since - timedelta(days=1)), None)
            for device, status, reason, since in devices
        ]
        update = CampaignUpdate(
            prior.key, account, upgrade, "UpgradeInProgress", len(rows), "2026-11-26T02:00:00Z",
            rows, [],
        )  # fmt: skip
        store.stage(update)
        store.commit("2026-11-26T02:05:00.000Z")


class PollOutput(msgspec.Struct):
    """A run's records, split by kind, in the order they were written."""

    lines: list[Record]

    @property
    def devices(self) -> list[DeviceRecord]:
        return [r for r in self.lines if isinstance(r, DeviceRecord)]

    @property
    def campaigns(self) -> list[CampaignRecord]:
        return [r for r in self.lines if isinstance(r, CampaignRecord)]

    @property
    def runs(self) -> list[RunRecord]:
        return [r for r in self.lines if isinstance(r, RunRecord)]

    @property
    def run(self) -> RunRecord:
        last = self.lines[-1]
        assert isinstance(last, RunRecord), "the run record must be the last line"
        return last


def parse_output(data: bytes) -> PollOutput:
    return PollOutput(read_records(data))


def split(
    records: list[Record],
) -> tuple[list[DeviceRecord], list[CampaignRecord], list[RunRecord]]:
    """Devices, campaigns and runs, each in the order written."""
    output = PollOutput(records)
    return output.devices, output.campaigns, output.runs


class FakeClock:
    """A monotonic clock a test moves by hand: token lifetimes and back-off without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Tripwire(list):
    """The simulator's list of request starts, setting an event when it reaches a length."""

    def __init__(self, length: int, event: object) -> None:
        super().__init__()
        self.length = length
        self.event = event

    def append(self, item: object) -> None:
        super().append(item)
        if len(self) >= self.length:
            self.event.set()


def simulator_tokens(options: SimulatorOptions) -> StaticTokens:
    """The simulator's pre-issued tokens, for a run in this process."""
    return StaticTokens(options.bearer_token, options.session_token)


def clean_environ() -> dict[str, str]:
    """This process's environment without any THINGSPACE_ variable: a run sees only ours."""
    return {k: v for k, v in os.environ.items() if not k.startswith("THINGSPACE_")}


def token_environ(options: SimulatorOptions) -> dict[str, str]:
    """The simulator's pre-issued tokens, as the poller reads them from the environment."""
    return clean_environ() | {
        "THINGSPACE_BEARER_TOKEN": options.bearer_token,
        "THINGSPACE_SESSION_TOKEN": options.session_token,
    }


def credentials_environ(auth: SimulatorAuthOptions) -> dict[str, str]:
    """The simulator's app key and login, as the poller reads them from the environment."""
    return clean_environ() | {
        "THINGSPACE_APP_KEY": auth.app_key,
        "THINGSPACE_APP_SECRET": auth.app_secret,
        "THINGSPACE_USERNAME": auth.username,
        "THINGSPACE_PASSWORD": auth.password,
    }


def simulator_credentials(auth: SimulatorAuthOptions, **changes: str) -> Credentials:
    """The simulator's app key and login, `changes` replacing or adding any of them."""
    values = {
        "app_key": auth.app_key,
        "app_secret": auth.app_secret,
        "username": auth.username,
        "password": auth.password,
    }
    return Credentials(**{name: Secret(value) for name, value in (values | changes).items()})


async def refs_of(catalog: Catalog) -> AsyncIterator[CampaignRef]:
    for account, upgrade_id in catalog.ids():
        yield CampaignRef(account, upgrade_id)


async def poll_refs(
    sim: RunningSimulator,
    refs: AsyncIterator[CampaignRef],
    control: RunControl | None = None,
    *,
    account: str | None = None,
    **poll: object,
) -> tuple[RunRecord, list[Record]]:
    """Run the real pipeline over `refs` against `sim`: the run record and every record written."""
    # apply_overrides checks the values as a config file's would be (a deadline of "0.3s"
    # becomes a Duration).
    config = apply_overrides(
        Config(api=ApiConfig(base_url=sim.base_url, account=account)), poll=dict(poll)
    )
    sink = MemorySink()
    run = await run_poll(config, refs, simulator_tokens(sim.options), sink, control or RunControl())
    return run, sink.records()


async def poll_simulator(
    sim: RunningSimulator,
    control: RunControl | None = None,
    catalog: Catalog | None = None,
    **poll: object,
) -> tuple[RunRecord, list[Record]]:
    """Poll every campaign of `catalog` (the simulator's own by default)."""
    return await poll_refs(sim, refs_of(catalog or sim.catalog), control, **poll)


async def poll_in_process(
    sim: RunningSimulator,
    id_files: Sequence[Path],
    *,
    concurrency: int = 8,
    rate: float = 0,
    account: str | None = None,
) -> PollOutput:
    """Run the real pipeline against `sim` over id files and return what it wrote."""
    sources = open_id_sources([str(path) for path in id_files])
    try:
        refs = read_refs(sources, account)
        _, records = await poll_refs(sim, refs, account=account, concurrency=concurrency, rate=rate)
    finally:
        close_id_sources(sources)
    return PollOutput(records)


def run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m fota_poller ARGS` as a process, with no inherited ThingSpace variables."""
    return subprocess.run(
        [sys.executable, "-m", "fota_poller", *args],
        env={**clean_environ(), **(env or {})},
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


async def poll_cli(
    sim: RunningSimulator, ids: Path, *flags: str, env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """`fota-poller poll --ids IDS --base-url SIM FLAGS` as a process, awaited to its end."""
    command = [sys.executable, "-m", "fota_poller", "poll", "--ids", str(ids)]
    command += ["--base-url", sim.base_url, *flags]
    return await anyio.run_process(command, env=env, check=False)


def truth(simulator: RunningSimulator) -> list[tuple[str, str, str]]:
    """Every (upgrade id, device id, status) the simulator serves."""
    rows = []
    for account, upgrade_id in simulator.catalog.ids():
        campaign = simulator.catalog.campaign(account, upgrade_id)
        rows.extend((upgrade_id, d.device_id, d.status) for d in campaign.device_list)
    return sorted(rows)


def polled(devices: list[DeviceRecord]) -> list[tuple[str, str, str]]:
    return sorted((d.upgrade_id, d.device_id, d.status) for d in devices)


@contextlib.contextmanager
def simulator_process(*args: str) -> Iterator[str]:
    """`fota-poller simulate ARGS` on a free loopback port, as its own process: its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "fota_poller", "simulate", "--port", "0", *args],
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stderr is not None
        ready = server.stderr.readline().decode()
        # "listening on URL", then with --evolve "; day 0, POST URL/_simulator/day ...".
        found = re.search(r"listening on (http://[^\s;]+)", ready)
        assert found is not None, ready
        yield found.group(1)
    finally:
        server.terminate()
        server.wait(timeout=10)


def write_unknown_ids(path: Path, account: str, count: int, seed: int = 9) -> None:
    """`count` random upgrade ids on `account`: the simulator answers each 400 INVALID_PARAMETER."""
    generator = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.writelines(
            f"{account},{uuid.UUID(int=generator.getrandbits(128), version=4)}\n"
            for _ in range(count)
        )


def modules_loaded_by(code: str) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds after running `code`, and what it printed.

    `code` runs in a child process, so nothing this test process has imported counts.
    """
    script = f"{code}\nimport sys; print(*sys.modules, sep=chr(10), file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    return set(done.stderr.decode().split()), done.stdout.decode()


def run_on_a_terminal(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    stdout: bool = True,
    stderr: bool = True,
    rows: int = 24,
    columns: int = 120,
) -> tuple[int, bytes]:
    """Run argv with stdout and/or stderr on one pseudo-terminal: (exit code, what it showed).

    The streams not on the terminal go to /dev/null, as does stdin. The terminal gets the
    size of a real one (a fresh one is 0x0). Read until the child closes its side (EIO).
    """
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, controller)
        with subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=terminal if stdout else subprocess.DEVNULL,
            stderr=terminal if stderr else subprocess.DEVNULL,
            env=env,
        ) as process:
            os.close(terminal)
            shown = bytearray()
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError as exc:
                    if exc.errno != errno.EIO:  # EIO: the child closed its side
                        raise
                    break
                if not chunk:
                    break
                shown += chunk
            exit_code = process.wait(timeout=60)
    return exit_code, bytes(shown)


# Longer than any wait of a watched poller that works: a hang fails the test instead.
WATCH_TIMEOUT_S = 60


class WatchedPoller:
    """A poller process whose stderr log lines are read as they come, so a test acts on one.

    Its JSON log lines are kept in order; `wait_for` reads on until an event has been logged
    a number of times, which is how a test synchronises with it (never a sleep).
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log = bytearray()
        self.events: list[str] = []

    async def wait_for(self, event: str, count: int = 1) -> bool:
        """Read stderr until `event` was logged `count` times; False if stderr ended first."""
        stderr = self.process.stderr
        assert stderr is not None

        async def read() -> bool:
            while self.events.count(event) < count:
                line = await stderr.readline()
                if not line:
                    return False
                self._keep(line)
            return True

        return await asyncio.wait_for(read(), WATCH_TIMEOUT_S)

    def signal(self, number: int) -> None:
        """Send a signal, unless the process has already ended."""
        # os.kill, not send_signal: Popen.send_signal first reaps a child that has just
        # exited, and asyncio's child watcher then reports its exit code as 255.
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, number)

    async def finish(self) -> tuple[int, bytes]:
        """Wait for the end: (exit code, stdout); every log line is then in `log`."""
        stdout, rest = await asyncio.wait_for(self.process.communicate(), WATCH_TIMEOUT_S)
        for line in rest.splitlines(keepends=True):
            self._keep(line)
        assert self.process.returncode is not None
        return self.process.returncode, stdout

    def _keep(self, line: bytes) -> None:
        self.log += line
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.events.append(json.loads(line)["event"])


@contextlib.asynccontextmanager
async def watched_poller(
    *args: str, env: dict[str, str], stdin: int | None = None
) -> AsyncIterator[WatchedPoller]:
    """`python -m fota_poller ARGS` with JSON logs on a pipe, watched; killed if still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fota_poller", *args,
        env=env, stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield WatchedPoller(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def metrics_exit_code(path: Path) -> int:
    """The exit code a metrics file reports."""
    for line in path.read_text().splitlines():
        if line.startswith("fota_poller_last_run_exit_code "):
            return int(float(line.split()[1]))
    raise AssertionError(f"no exit code in {path}")


def assert_every_campaign_accounted(output: PollOutput, ids: Sequence[str]) -> None:
    """One campaign record per id, and a run record whose counts are those of the lines."""
    campaigns = output.campaigns
    assert sorted(c.upgrade_id or "" for c in campaigns) == sorted(ids)
    run = output.run
    assert run.campaigns_total == len(campaigns)
    assert run.campaigns_ok == sum(c.outcome == "ok" for c in campaigns)
    assert run.campaigns_failed == sum(c.outcome == "failed" for c in campaigns)
    assert run.devices_total == len(output.devices)


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, **runner_options: Any) -> AsyncIterator[str]:
    """`app` served on a free loopback port for the block: its base URL."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# A proxy's own answer to a request, or None to forward it upstream.
Intercept = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


@contextlib.asynccontextmanager
async def proxy_to(upstream: str, intercept: Intercept) -> AsyncIterator[str]:
    """A loopback server forwarding every GET to `upstream`: its base URL.

    The request's headers go along (all but Host); `intercept` answers what it chooses to.
    """
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.StreamResponse:
            own = await intercept(request)
            if own is not None:
                return own
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with session.get(upstream + str(request.rel_url), headers=headers) as answer:
                return web.Response(
                    body=await answer.read(),
                    status=answer.status,
                    content_type=answer.content_type,
                )

        app = web.Application()
        app.router.add_get("/{tail:.*}", forward)
        async with serve_app(app) as base_url:
            yield base_url


def assert_calm(
    stderr: bytes | bytearray | str, *, max_lines: int = 500, max_line_chars: int = 4_000
) -> None:
    """A worst night's stderr: no traceback, a bounded number of lines, none of them huge.

    What every hostile-case test asks of a run's log besides its own assertions: a server's
    megabytes (an echoed token, an error text) never reach a line whole.
    """
    text = stderr if isinstance(stderr, str) else bytes(stderr).decode("utf-8", "replace")
    assert "Traceback" not in text, text[-3000:]
    lines = text.splitlines()
    assert len(lines) <= max_lines, f"{len(lines)} stderr lines"
    longest = max(map(len, lines), default=0)
    assert longest <= max_line_chars, f"a stderr line of {longest} characters"


def records_validator() -> jsonschema.Draft202012Validator:
    """A validator of docs/records.schema.json, the schema itself checked first."""
    schema = json.loads(RECORDS_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def invalid_lines(
    validator: jsonschema.Draft202012Validator, path: Path
) -> tuple[list[tuple[int, str]], int]:
    """(line number, first error) of every line that does not validate; and the line count."""
    failures = []
    count = 0
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            count += 1
            error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(line)))
            if error is not None:
                failures.append((number, error.message))
    return failures, count


def refusal(line: str) -> str:
    """A refused run's stderr line as the text it reads as on a terminal: `fota-poller: ...`.

    Off a terminal `poll` writes its refusal as a JSON log line (`run.refused`, with the run's
    id, level and time, as every line of a run); `check`, `state` and `summary` write the text.
    """
    if not line.startswith("{"):
        return line
    event = json.loads(line)
    assert (event["event"], event["level"]) == ("run.refused", "error"), event
    assert event["run_id"], event
    assert event["timestamp"], event
    return f"fota-poller: {event['error']}"
