"""The simulator's HTTP side: an aiohttp.web app on loopback that answers like ThingSpace FOTA."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import time
from typing import TYPE_CHECKING, Final

from aiohttp import web

from fota_poller.errors import ConfigError
from fota_poller.simulator.answers import ACCOUNT_NOT_FOUND, ServiceError, json_response
from fota_poller.simulator.auth_routes import LOGIN_ROUTE, LOGOUT_ROUTE, TOKEN_ROUTE, SimulatorAuth
from fota_poller.simulator.catalog import Catalog, SimulatorOptions
from fota_poller.simulator.counting import SimulatorStats
from fota_poller.simulator.fault_injector import FaultInjector, route_faults
from fota_poller.simulator.inventory_pages import (
    INVENTORY_ROUTE,
    DeviceInventory,
    add_inventory_routes,
)
from fota_poller.simulator.reports import REPORT_ROUTE, StatusReports, add_report_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

UPGRADE_ROUTE: Final = "/fota/v1/upgrades/{accountName}/upgrade/{upgradeId}"
# The simulator's own control route, under a prefix ThingSpace does not use: POST advances
# an evolving catalogue by one day. No credentials (a loopback test tool), no faults, not counted.
DAY_ROUTE: Final = "/_simulator/day"

# Long enough for an in-flight body to finish, short enough not to stall a test's teardown.
_SHUTDOWN_TIMEOUT_S: Final = 1.0


_UNKNOWN_UPGRADE: Final = ServiceError("INVALID_PARAMETER", "Invalid upgradeId")


@dataclasses.dataclass(frozen=True)
class RunningSimulator:
    """A listening simulator: where to reach it and what it serves and has counted."""

    base_url: str
    port: int
    catalog: Catalog
    stats: SimulatorStats
    options: SimulatorOptions
    auth: SimulatorAuth
    # The account device lists served: `inventory.truth(account)`, `inventory.campaign_truth`.
    inventory: DeviceInventory


def build_app(
    catalog: Catalog,
    stats: SimulatorStats,
    auth: SimulatorAuth | None = None,
    inventory: DeviceInventory | None = None,
) -> web.Application:
    """Build the app serving catalog's campaigns and counting every request into stats."""
    options = catalog.options
    if auth is None:
        auth = SimulatorAuth(options.auth, options.bearer_token, options.session_token)
    if inventory is None:
        inventory = DeviceInventory(catalog)
    injector = FaultInjector(options.faults, options.seed, stats) if options.faults.any else None
    faults = injector if "upgrade" in options.faults.routes else None

    async def get_upgrade(request: web.Request) -> web.StreamResponse:
        stats.request_started()
        # Anything escaping below is a simulator bug; aiohttp answers it with a 500.
        status = web.HTTPInternalServerError.status_code
        try:
            if options.latency_ms > 0:
                await asyncio.sleep(options.latency_ms / 1000)
            if faults is None:
                response = _answer(request, catalog, auth)
                status = response.status
                return response

            async def answer() -> web.Response:
                return _answer(request, catalog, auth)

            faulty, status = await faults.respond(request, answer)
            return faulty
        finally:
            stats.request_finished(status)

    other_routes = {
        INVENTORY_ROUTE: "inventory",
        REPORT_ROUTE: "reports",
        TOKEN_ROUTE: "token",
        LOGIN_ROUTE: "login",
        LOGOUT_ROUTE: "logout",
    }
    app = web.Application(middlewares=route_faults(injector, other_routes))
    app.router.add_get(UPGRADE_ROUTE, get_upgrade)
    app.router.add_post(DAY_ROUTE, functools.partial(_advance_day, catalog))
    auth.register(app)
    add_report_routes(app, StatusReports(catalog, options.report_page_size), stats, auth.check)
    add_inventory_routes(app, inventory, stats, auth.check)
    return app


async def _advance_day(catalog: Catalog, _request: web.Request) -> web.Response:
    if catalog.options.evolve is None:
        return web.json_response(
            {"error": "this simulator does not evolve: start it with --evolve SEED"},
            status=web.HTTPConflict.status_code,
        )
    return web.json_response({"day": catalog.advance_day()})


def _answer(request: web.Request, catalog: Catalog, auth: SimulatorAuth) -> web.Response:
    rejection = auth.check(request)
    if rejection is not None:
        return rejection
    account = request.match_info["accountName"]
    if not catalog.has_account(account):
        return json_response(web.HTTPBadRequest.status_code, ACCOUNT_NOT_FOUND)
    body = catalog.body(account, request.match_info["upgradeId"])
    if body is None:
        return json_response(web.HTTPBadRequest.status_code, _UNKNOWN_UPGRADE)
    return web.Response(body=body, content_type="application/json")


@contextlib.asynccontextmanager
async def run_simulator(
    options: SimulatorOptions,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[RunningSimulator]:
    """Serve a fresh catalog for options on host:port (0 picks a free port) until exit.

    clock times token lifetimes; a test passes its own to expire tokens without waiting.
    """
    catalog = Catalog(options)
    stats = SimulatorStats()
    auth = SimulatorAuth(options.auth, options.bearer_token, options.session_token, clock)
    inventory = DeviceInventory(catalog)
    runner = web.AppRunner(
        build_app(catalog, stats, auth, inventory),
        access_log=None,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            # A busy port or an address not on this host: one line and exit 2, no traceback.
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ConfigError(f"simulator cannot listen on {host}:{port}: {reason}") from None
        bound_port: int = runner.addresses[0][1]
        yield RunningSimulator(
            base_url=_base_url(host, bound_port),
            port=bound_port,
            catalog=catalog,
            stats=stats,
            options=options,
            auth=auth,
            inventory=inventory,
        )
    finally:
        await runner.cleanup()


def _base_url(host: str, port: int) -> str:
    # An IPv6 literal needs brackets in a URL.
    authority = f"[{host}]" if ":" in host else host
    return f"http://{authority}:{port}"


async def serve_forever(
    options: SimulatorOptions,
    host: str = "127.0.0.1",
    port: int = 0,
    write_ids: Path | None = None,
    ready: Callable[[str], None] | None = None,
    *,
    finished: Callable[[SimulatorStats], None] | None = None,
) -> None:
    """Run the simulator until cancelled, writing the ids file and calling ready(base_url) first.

    `finished(stats)` is called on the way out, cancelled or not.
    """
    async with run_simulator(options, host, port) as simulator:
        if write_ids is not None:
            simulator.catalog.write_ids(write_ids)
        if ready is not None:
            ready(simulator.base_url)
        try:
            # Nothing ever sets this event: the server stops when the caller cancels.
            await asyncio.Event().wait()
        finally:
            if finished is not None:
                finished(simulator.stats)
