"""`fota-poller demo`: the simulator in-process, polled through the real `poll` path, summarised.

The simulator is imported inside `_demo` only: a `poll` run must not load (and pay the memory
of) the simulator's server. The options are `commands/demo/__init__.py`'s, which imports this module
only when the demo runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import msgspec

from fota_poller.api.credentials import Credentials, Secret
from fota_poller.api.redact import Redactor
from fota_poller.config import ApiConfig, Config, OutputConfig, PollConfig
from fota_poller.model.phases import PHASES
from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord, is_device_line
from fota_poller.model.tally import RunTally
from fota_poller.observe.stderr import say
from fota_poller.text import escape_controls

_record_decoder = msgspec.json.Decoder(DeviceRecord | CampaignRecord | RunRecord)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the poll's exit code."""
    # Imported here: `--help` must not load anyio, structlog and tqdm (bench/startup.py).
    import anyio  # noqa: PLC0415

    from fota_poller.observe.logs import configure_logging  # noqa: PLC0415

    redactor = Redactor()
    configure_logging("warning", redactor=redactor)
    return anyio.run(_demo, args.output, args.campaigns, args.seed, redactor)


async def _demo(output: Path, campaigns: int, seed: int, redactor: Redactor) -> int:
    # Imported here, not at the top: a `poll` run must not load the simulator (module docstring),
    # and `--help` must not load aiohttp and the pipeline (bench/startup.py).
    from fota_poller.api.token_provider import TokenProvider  # noqa: PLC0415
    from fota_poller.commands.poll.core import poll_command  # noqa: PLC0415
    from fota_poller.simulator import SimulatorOptions, run_simulator  # noqa: PLC0415

    options = SimulatorOptions(campaigns=campaigns, devices_min=1, devices_max=2000, seed=seed)
    async with run_simulator(options) as simulator:
        config = Config(
            api=ApiConfig(base_url=simulator.base_url),
            poll=PollConfig(concurrency=16, rate=0),
            output=OutputConfig(path=str(output)),
        )
        # The full flow: client credentials for the Bearer token, a login for the session.
        credentials = Credentials(
            app_key=Secret(options.auth.app_key),
            app_secret=Secret(options.auth.app_secret),
            username=Secret(options.auth.username),
            password=Secret(options.auth.password),
        )
        redactor.add_credentials(credentials)
        with tempfile.TemporaryDirectory() as folder:
            ids_file = Path(folder) / "ids.txt"
            simulator.catalog.write_ids(ids_file)
            started = time.monotonic()
            tally = RunTally()
            async with TokenProvider(config, credentials, redactor=redactor, tally=tally) as tokens:
                exit_code = await poll_command(config, [str(ids_file)], tokens, tally)
            elapsed = time.monotonic() - started
        auth = simulator.auth.stats
    summary = summarise(output, elapsed)
    auth_line = (
        f"  auth:      {auth.token_requests} token request(s), {auth.login_requests} login(s), "
        f"{auth.logout_requests} logout(s)"
    )
    say(f"{summary}\n{auth_line}")  # the demo's human summary
    return exit_code


def summarise(output: Path, elapsed_s: float) -> str:
    """A short human summary of a records file, from its campaign and run lines."""
    statuses: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    run: RunRecord | None = None
    with output.open("rb") as lines:
        for line in lines:
            if is_device_line(line):
                continue
            record = _record_decoder.decode(line)
            if isinstance(record, CampaignRecord):
                statuses.update(record.device_status_counts or {})
                phases.update(record.device_phase_counts or {})
            elif isinstance(record, RunRecord):
                run = record
    if run is None:
        return f"{output}: no run record: the run did not finish"
    rows = [
        f"fota-poller demo: {output}",
        (
            f"  campaigns: {run.campaigns_ok} ok, {run.campaigns_failed} failed "
            f"(complete: {str(run.complete).lower()})"
        ),
        f"  devices:   {run.devices_total} ("
        + ", ".join(f"{phases[phase]} {phase}" for phase in PHASES)
        + ")",
        # Statuses are the server's words: escaped, so none can drive the terminal.
        *(f"    {count:>8}  {escape_controls(status)}" for status, count in statuses.most_common()),
        f"  requests:  {run.requests_total}",
        f"  time:      {elapsed_s:.2f} s",
        f"  exit code: {run.exit_code}",
    ]
    return "\n".join(rows)
