"""A real browser for the tests: Debian's Chromium, headless, driven over the DevTools protocol.

`open_page(chromium, url)` starts Chromium with its own profile folder and no network
habits of its own (no sync, no component updates, no background requests), connects to
its DevTools websocket with aiohttp (the port read from its stderr, never guessed), opens
`url` in a new tab and waits for its load event; then it reads the DOM with an expression,
takes a PNG screenshot of the page, and hands back everything the page did: console
messages, exceptions, log entries and every request it tried to send.

`find_chromium` skips a test on a machine without the browser and fails it under CI, as
tests/deploy's `tool` fixture does for the production tools.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from anyio.abc import ByteReceiveStream

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
# The longest a step may take before the test fails rather than hangs (never a sync sleep).
STEP_TIMEOUT_S = 30


def find_chromium() -> str:
    """Chromium's path; a skip (a failure under CI) naming Debian's package when missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is not None:
        return path
    message = "chromium not found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class PageVisit:
    """What one page did in the browser, and what was read from it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.dom: Any = None
        self.screenshot = b""

    def of(self, method: str) -> list[dict[str, Any]]:
        """The params of every event named `method`."""
        return [event["params"] for event in self.events if event["method"] == method]

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries, in words."""
        found = [
            f"console.{call['type']}: {call['args']}"
            for call in self.of("Runtime.consoleAPICalled")
            if call["type"] in {"error", "assert", "warning"}
        ]
        found += [f"exception: {e['exceptionDetails']}" for e in self.of("Runtime.exceptionThrown")]
        found += [
            f"log {entry['entry']['level']}: {entry['entry']['text']}"
            for entry in self.of("Log.entryAdded")
            if entry["entry"]["level"] in {"error", "warning"}
        ]
        return found

    @property
    def requests(self) -> list[str]:
        """The URL of every request the page tried to send (the page itself included)."""
        return [sent["request"]["url"] for sent in self.of("Network.requestWillBeSent")]


class _DevTools:
    """One websocket to the browser; commands answered in order, events kept as they come."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, visit: PageVisit) -> None:
        self.socket = socket
        self.visit = visit
        self.ids = itertools.count(1)

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.socket.send_str(json.dumps(message))
        while True:
            answer = await self._next()
            if answer.get("id") == number:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer["result"]

    async def wait_for(self, method: str) -> None:
        while not any(event["method"] == method for event in self.visit.events):
            await self._next()

    async def _next(self) -> dict[str, Any]:
        message = await self.socket.receive()
        if message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"the browser's DevTools socket ended: {message.type}")
        decoded: dict[str, Any] = json.loads(message.data)
        if "method" in decoded:
            self.visit.events.append(decoded)
        return decoded


@contextlib.asynccontextmanager
async def _browser(chromium: str) -> AsyncIterator[str]:
    """Chromium running headless with a profile of its own: its DevTools websocket URL."""
    with tempfile.TemporaryDirectory(prefix="fota-poller-chromium-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        process = await anyio.open_process(command, stdout=subprocess.DEVNULL)
        try:
            async with anyio.create_task_group() as group:
                assert process.stderr is not None
                with anyio.fail_after(STEP_TIMEOUT_S):
                    url = await _listening(process.stderr)
                # Its stderr is read to the end meanwhile: a full pipe would stall it.
                group.start_soon(_drain, process.stderr)
                yield url
                process.terminate()
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def _listening(stderr: ByteReceiveStream) -> str:
    seen = b""
    async for chunk in stderr:
        seen += chunk
        found = _LISTENING.search(seen)
        if found:
            return found.group(1).decode()
    raise AssertionError(f"chromium ended before listening: {seen.decode(errors='replace')}")


async def _drain(stream: ByteReceiveStream) -> None:
    async for _ in stream:
        pass


async def open_page(
    chromium: str, url: str, *, read: str, width: int = 1200, max_height: int = 2400
) -> PageVisit:
    """Open `url` in a new headless tab: what it did, `read` evaluated, a PNG screenshot."""
    visit = PageVisit()
    async with (
        _browser(chromium) as websocket_url,
        aiohttp.ClientSession() as client,
        client.ws_connect(websocket_url, max_msg_size=0) as socket,
    ):
        tools = _DevTools(socket, visit)
        with anyio.fail_after(STEP_TIMEOUT_S):
            target = await tools.send("Target.createTarget", url="about:blank")
            attached = await tools.send(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                await tools.send(f"{domain}.enable", session)
            await tools.send(
                "Emulation.setDeviceMetricsOverride", session,
                width=width, height=900, deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
            visit.events.clear()  # what about:blank did is not the page's
            await tools.send("Page.navigate", session, url=url)
            await tools.wait_for("Page.loadEventFired")
            evaluated = await tools.send(
                "Runtime.evaluate", session, expression=read, returnByValue=True
            )
            visit.dom = evaluated["result"].get("value")
            metrics = await tools.send("Page.getLayoutMetrics", session)
            height = min(metrics["cssContentSize"]["height"], max_height)
            shot = await tools.send(
                "Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            )  # fmt: skip
            visit.screenshot = base64.b64decode(shot["data"])
    return visit
