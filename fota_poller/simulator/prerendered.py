"""A benchmark peer: every campaign's whole HTTP answer rendered up front and served from memory.

The aiohttp simulator is the tests' peer and checks credentials like ThingSpace does; here the
server's own CPU cost is what matters, because in a benchmark it shares the machine with the
client being measured. So this one is a bare asyncio protocol: it finds the request line, looks
the path up in a dict of ready-made responses and writes the bytes. It checks no credentials and
speaks only as much HTTP/1.1 as a keep-alive GET client needs.

`GET /_stats` answers (and resets) what the server saw since the last call: the request count,
the most request starts in any one-second window, and the first and last start times.

Run it as `python -m fota_poller.simulator.prerendered --campaigns N --devices MIN-MAX`; it
prints `listening on http://127.0.0.1:PORT` on stdout once every body is rendered. With
`--inventory`, every page of each account's device list is rendered too (`--extra-devices N`
adds devices in no campaign: a 1,000,000-device account renders in about 6 s, 206 MB of pages).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.simulator.catalog import Catalog, SimulatorOptions
from fota_poller.simulator.counting import max_starts_in_window
from fota_poller.simulator.inventory import InventoryOptions
from fota_poller.simulator.inventory_pages import DeviceInventory, all_pages

STATS_PATH: Final = b"/_stats"
_HEAD_END: Final = b"\r\n\r\n"
# A request head larger than this is not one of ours: drop the connection.
_MAX_HEAD: Final = 64 * 1024


class ServerStats(msgspec.Struct):
    """What the server saw between two `/_stats` calls."""

    requests: int
    max_starts_in_one_second: int
    first_start: float | None
    last_start: float | None


def _response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


_NOT_FOUND: Final = _response(
    b"400 Bad Request", b'{"errorCode":"INVALID_PARAMETER","errorMessage":"Invalid upgradeId"}'
)


def render_responses(catalog: Catalog, *, inventory: bool = False) -> dict[bytes, bytes]:
    """Every campaign's request path mapped to its complete HTTP response.

    With `inventory`, every page of each account's device list as well.
    """
    responses = {}
    for account, upgrade_id in catalog.ids():
        body = catalog.body(account, upgrade_id)
        if body is not None:
            path = f"/fota/v1/upgrades/{account}/upgrade/{upgrade_id}".encode()
            responses[path] = _response(b"200 OK", body)
    if inventory:
        device_lists = DeviceInventory(catalog)
        for account in catalog.options.accounts:
            for start, page in all_pages(device_lists, account):
                path = f"/fota/v1/devices/{account}/index/{start}".encode()
                responses[path] = _response(b"200 OK", page)
    return responses


class _Recorder:
    """Request start times since the last `/_stats` call (starts are appended in order)."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def take(self) -> ServerStats:
        starts, self.starts = self.starts, []
        return ServerStats(
            requests=len(starts),
            max_starts_in_one_second=max_starts_in_window(starts),
            first_start=starts[0] if starts else None,
            last_start=starts[-1] if starts else None,
        )


class _Connection(asyncio.Protocol):
    def __init__(
        self, responses: dict[bytes, bytes], recorder: _Recorder, latency_s: float
    ) -> None:
        self._responses = responses
        self._recorder = recorder
        self._latency_s = latency_s
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - TCP gives a Transport
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - asyncio API
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(_HEAD_END)) >= 0:
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            self._answer(head)
        if len(self._buffer) > _MAX_HEAD and self._transport is not None:
            self._transport.close()

    def _answer(self, head: bytes) -> None:
        # `GET /path HTTP/1.1`: the path is the second word of the first line.
        path = head.split(b"\r\n", 1)[0].split(b" ")[1] if b" " in head else b""
        if path == STATS_PATH:
            self._send(_response(b"200 OK", msgspec.json.encode(self._recorder.take())))
            return
        self._recorder.starts.append(time.monotonic())
        response = self._responses.get(path, _NOT_FOUND)
        if self._latency_s > 0:
            # The client sends one request per connection at a time, so equal delays keep
            # the answers in order.
            asyncio.get_running_loop().call_later(self._latency_s, self._send, response)
        else:
            self._send(response)

    def _send(self, response: bytes) -> None:
        if self._transport is not None:
            self._transport.write(response)


async def serve(catalog: Catalog, host: str, port: int, *, inventory: bool = False) -> None:
    """Render every answer, listen, announce the URL on stdout, and serve until cancelled."""
    responses = render_responses(catalog, inventory=inventory)
    recorder = _Recorder()
    latency_s = catalog.options.latency_ms / 1000
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Connection(responses, recorder, latency_s), host, port, backlog=1024
    )
    async with server:
        bound_port = server.sockets[0].getsockname()[1]
        print(f"listening on http://{host}:{bound_port}", flush=True)  # noqa: T201 - the handshake
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, write the ids file if asked, and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m fota_poller.simulator.prerendered")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--campaigns", type=int, default=300)
    parser.add_argument("--devices", default="1-2000", metavar="MIN-MAX")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-ids", type=Path, metavar="FILE")
    parser.add_argument("--inventory", action="store_true", help="render the device lists too")
    parser.add_argument("--extra-devices", type=int, default=25, metavar="N")
    parser.add_argument("--late-share", type=float, default=0.05, metavar="SHARE")
    args = parser.parse_args(argv)
    low, _, high = args.devices.partition("-")
    try:
        options = SimulatorOptions(
            campaigns=args.campaigns,
            devices_min=int(low),
            devices_max=int(high or low),
            latency_ms=args.latency_ms,
            seed=args.seed,
            inventory=InventoryOptions(
                late_share=args.late_share, extra_devices=args.extra_devices
            ),
        )
        # Bodies are kept by `render_responses`, not by the catalog's cache.
        catalog = Catalog(options, body_cache_entries=0)
    except ValueError as exc:
        print(f"prerendered: {exc}", file=sys.stderr)  # noqa: T201 - the one-line user error
        return 2
    if args.write_ids is not None:
        catalog.write_ids(args.write_ids)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(catalog, args.host, args.port, inventory=args.inventory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
