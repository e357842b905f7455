"""Applying faults: the simulator's answer, or the fault a request draws, and the stats.

A fault is drawn per request from (seed, path, how many times that path was asked for), so the
same seed gives each campaign the same sequence of faults whatever order requests arrive in.
A rate limit answers 429 above R accepted requests in any one-second window, and an outage
answers 503 to every request between two times counted from the simulator's start. The upgrade
route draws its faults in its handler; `route_faults` gives other routes theirs. Which faults
there are and how `--faults` names them: `faults.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import struct
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from fota_poller.simulator.faults import FOREIGN_FAULT, STATUS_FAULTS, FaultOptions
from fota_poller.simulator.hostile import GzipBomb, redirect_response

if TYPE_CHECKING:
    from fota_poller.simulator.counting import SimulatorStats

_OUTAGE_BODY: Final = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
# Status recorded in the stats for a connection reset before any status line was sent.
RESET_STATUS: Final = 0


class FaultInjector:
    """Wraps the simulator's answer with the configured faults, counting each into the stats."""

    def __init__(self, options: FaultOptions, seed: int, stats: SimulatorStats) -> None:
        self._options = options
        self._seed = seed
        self._stats = stats
        self._started = time.monotonic()
        self._asked: dict[str, int] = {}
        self._accepted: deque[float] = deque()
        self._bomb = GzipBomb(options.bomb_inflated_mb)

    @property
    def options(self) -> FaultOptions:
        """The faults this injector was built with."""
        return self._options

    async def respond(
        self, request: web.Request, answer: Callable[[], Awaitable[web.StreamResponse]]
    ) -> tuple[web.StreamResponse, int]:
        """The answer or the fault this request draws, and the status to count it under."""
        response = await self._respond(request, answer)
        reset = request.transport is None or request.transport.is_closing()
        return response, RESET_STATUS if reset and not response.prepared else response.status

    async def _respond(  # noqa: PLR0911 - one return per way of answering
        self, request: web.Request, answer: Callable[[], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        now = time.monotonic()
        outage = self._options.outage
        if outage is not None and outage[0] <= now - self._started < outage[1]:
            self._count("outage")
            return web.Response(status=503, body=_OUTAGE_BODY, content_type="text/html")
        if self._options.rate_limit > 0:
            throttled = self._rate_limited(now)
            if throttled is not None:
                return throttled
        kind = self._draw(request.path)
        if kind is None:
            return await answer()
        self._count(kind)
        answered = self._answer_fault(kind, request)
        if answered is not None:
            return answered
        if kind == "reset":
            return _reset(request)
        if kind == FOREIGN_FAULT:
            return _foreign(await answer(), f"{self._seed}:{request.path}")
        if kind == "linesep":
            return _with_line_separators(await answer())
        return await _broken_body(request, await answer(), stall_s=self._stall_s(kind))

    def _answer_fault(self, kind: str, request: web.Request) -> web.Response | None:
        """The whole answer of a fault that answers (a status, a redirect, a bomb), else None."""
        if kind == "redirect":
            return redirect_response(request, self._options.redirect_to)
        if kind == "gzipbomb":
            return self._bomb.response()
        if kind not in STATUS_FAULTS:
            return None
        status, content_type, body = STATUS_FAULTS[kind]
        response = web.Response(status=status, body=body, content_type=content_type)
        if status == 429:  # noqa: PLR2004 - the one status that carries Retry-After
            response.headers["Retry-After"] = str(self._options.retry_after_s)
        return response

    def _rate_limited(self, now: float) -> web.Response | None:
        accepted = self._accepted
        while accepted and accepted[0] <= now - 1.0:
            accepted.popleft()
        if len(accepted) < self._options.rate_limit:
            accepted.append(now)
            return None
        self._count("rate_limit")
        wait = max(1, math.ceil(accepted[0] + 1.0 - now))
        status, content_type, body = STATUS_FAULTS["429"]
        response = web.Response(status=status, body=body, content_type=content_type)
        response.headers["Retry-After"] = str(wait)
        return response

    def _draw(self, path: str) -> str | None:
        if not self._options.mix:
            return None
        nth = self._asked.get(path, 0)
        self._asked[path] = nth + 1
        draw = random.Random(f"{self._seed}:{path}:{nth}").random()  # noqa: S311 - test data
        for kind, probability in self._options.mix:
            if draw < probability:
                return kind
            draw -= probability
        return None

    def _stall_s(self, kind: str) -> float | None:
        return self._options.stall_s if kind == "stall" else None

    def _count(self, kind: str) -> None:
        self._stats.faults_by_kind[kind] = self._stats.faults_by_kind.get(kind, 0) + 1


def _with_line_separators(whole: web.StreamResponse) -> web.StreamResponse:
    """The answer with raw U+2028 and U+2029 in every status: valid JSON, odd line breaks."""
    if not isinstance(whole, web.Response):
        return whole
    body = whole.body if isinstance(whole.body, bytes) else b""
    # The simulator's bodies are compact JSON, so every status value starts exactly so.
    marked = body.replace(b'"status":"', '"status":"\u2028\u2029'.encode())
    return web.Response(status=whole.status, body=marked, content_type="application/json")


def _reset(request: web.Request) -> web.Response:
    """Drop the connection with a TCP RST before any byte of the answer."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0 turns the close into a reset, as a crashed proxy would send.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # Never sent: the connection is gone. aiohttp needs a response to finish the handler.
    return web.Response(status=500)


def _foreign(whole: web.StreamResponse, seed: str) -> web.StreamResponse:
    """The campaign's answer relabelled with another upgrade's id (the same each time).

    A device list, which has no id, is relabelled with another account instead.
    """
    if not isinstance(whole, web.Response) or whole.status != web.HTTPOk.status_code:
        return whole
    body = whole.body if isinstance(whole.body, bytes) else b""
    campaign = msgspec.json.decode(body)
    other = random.Random(seed).getrandbits(128)  # noqa: S311 - test data
    if "id" in campaign:
        campaign["id"] = str(uuid.UUID(int=other, version=4))
    else:
        # A device list has no id: it is relabelled with another account.
        campaign["accountName"] = f"{other % 10**10:010d}-00001"
    return web.Response(body=msgspec.json.encode(campaign), content_type="application/json")


async def _broken_body(
    request: web.Request, whole: web.StreamResponse, *, stall_s: float | None
) -> web.StreamResponse:
    """Headers with the full Content-Length, half the body, then a close (or a long stall)."""
    body = whole.body if isinstance(whole, web.Response) and isinstance(whole.body, bytes) else b""
    response = web.StreamResponse(status=whole.status, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if stall_s is None:
        if request.transport is not None:
            request.transport.close()
        return response
    # The client is expected to give up first; writing then fails, which is fine.
    with contextlib.suppress(ConnectionError, RuntimeError):
        await asyncio.sleep(stall_s)
        await response.write(body[len(body) // 2 :])
        await response.write_eof()
    return response


def route_faults(injector: FaultInjector | None, paths: Mapping[str, str]) -> list[Middleware]:
    """A middleware giving the routes in `paths` (path template -> route name) their faults.

    Only for the routes the options name; the upgrade route draws its faults in its handler.
    A fault answered here never reaches the route's handler, so the route does not count it;
    `faults_by_kind` does.
    """
    if injector is None:
        return []
    chosen = {path for path, name in paths.items() if name in injector.options.routes}
    if not chosen:
        return []

    @web.middleware
    async def faulty_routes(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is None or resource.canonical not in chosen:
            return await handler(request)
        response, _ = await injector.respond(request, lambda: handler(request))
        return response

    return [faulty_routes]
