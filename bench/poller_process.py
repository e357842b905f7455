"""The real CLI as a child process, polling a simulator: what the bench scripts share."""

import asyncio
import os
import sys
from pathlib import Path

from fota_poller.simulator import RunningSimulator


async def start_poll(
    simulator: RunningSimulator, ids: Path, output: Path, *flags: str
) -> asyncio.subprocess.Process:
    """`fota-poller poll` of `ids` into `output` against `simulator`, with its pre-issued tokens.

    `--rate 0` unless `flags` say otherwise (a later flag wins); stderr is piped.
    """
    env = os.environ | {
        "THINGSPACE_BEARER_TOKEN": simulator.options.bearer_token,
        "THINGSPACE_SESSION_TOKEN": simulator.options.session_token,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fota_poller", "poll",
        "--ids", str(ids), "--output", str(output), "--base-url", simulator.base_url,
        "--rate", "0", *flags,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
