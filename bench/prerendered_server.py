"""The pre-rendered server (`fota_poller.simulator.prerendered`) as the bench scripts start it.

One home for starting it and reading the URL it listens on, so that every script waits for
it the same way and says the same thing when it does not come up, and for the pre-issued
tokens every contender sends it (`TOKENS`, in the environment: the server checks none).
"""

from __future__ import annotations

import subprocess
import sys

TOKENS = {"THINGSPACE_BEARER_TOKEN": "bench-bearer", "THINGSPACE_SESSION_TOKEN": "bench-session"}


def start_prerendered(*args: str, who: str = "bench") -> tuple[subprocess.Popen[str], str]:
    """The server started with `args`, and its URL once it listens; SystemExit if it does not."""
    server = subprocess.Popen(
        [sys.executable, "-m", "fota_poller.simulator.prerendered", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("listening on "):
        server.terminate()
        server.wait()
        raise SystemExit(f"{who}: the server did not start: {line!r}")
    return server, line.removeprefix("listening on ").strip()
