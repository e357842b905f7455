"""`fota-poller simulate`: its options, and the simulator served on loopback until a signal.

The simulator package is imported inside `simulate_command` only: `cli.py` imports this module
for its options, and a `poll` run must not load (and pay the memory of) the simulator's server.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fota_poller.api.credentials import APP_KEY_ENV, APP_SECRET_ENV, PASSWORD_ENV, USERNAME_ENV
from fota_poller.commands.simulate_inventory import add_inventory_arguments, inventory_options
from fota_poller.errors import ConfigError
from fota_poller.observe.stderr import say

if TYPE_CHECKING:
    from fota_poller.simulator import SimulatorStats
    from fota_poller.simulator.evolve import EvolveOptions

_N = TypeVar("_N", int, float)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `simulate` subcommand and its options to `commands`."""
    simulate = commands.add_parser(
        "simulate",
        help="serve a synthetic ThingSpace FOTA API on loopback",
        description="Serve a deterministic synthetic ThingSpace FOTA API on loopback, with the "
        "OAuth token, session login and logout endpoints. It accepts the app key/secret and "
        f"username/password in {APP_KEY_ENV}, {APP_SECRET_ENV}, {USERNAME_ENV}, {PASSWORD_ENV} "
        "when set, else sim-app-key / sim-app-secret and sim-user / sim-password; and the "
        "pre-issued tokens sim-bearer-token and sim-session-token, which never expire.",
        formatter_class=DefaultsHelpFormatter,
    )
    simulate.add_argument("--host", default="127.0.0.1", help="address to bind")
    simulate.add_argument("--port", type=int, default=8080, help="port; 0 = any free one")
    simulate.add_argument(
        "--campaigns", type=int, default=300, metavar="N", help="upgrade campaigns served"
    )
    simulate.add_argument(
        "--devices", default="1-2000", metavar="MIN-MAX", help="devices per campaign"
    )
    simulate.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="MS", help="added to every answer"
    )
    simulate.add_argument(
        "--seed", type=int, default=1, help="draws the campaigns, devices and faults"
    )
    simulate.add_argument(
        "--accounts",
        default="0000123456-00001",
        metavar="A1,A2",
        help="accounts the campaigns are spread over",
    )
    simulate.add_argument(
        "--report-page-size", type=int, default=50, metavar="N", help="upgrades per report page"
    )
    simulate.add_argument(
        "--write-ids", type=Path, metavar="FILE", help="write the account,id lines it serves"
    )
    simulate.add_argument(
        "--bearer-ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="lifetime of an issued Bearer token",
    )
    simulate.add_argument(
        "--session-idle-ttl",
        type=float,
        default=1200.0,
        metavar="SECONDS",
        help="a session expires after this long unused",
    )
    simulate.add_argument(
        "--faults",
        default="",
        metavar="KIND=P,...",
        help="inject faults per request, e.g. 429=0.05,500=0.03,502html=0.02,reset=0.02,"
        "truncate=0.01,stall=0.01 (also 408, 502, 503, 504; redirect: a 307 to --redirect-to; "
        "gzipbomb: a 1 MB gzip body that inflates to 1 GiB; foreign: a 200 with another "
        "upgrade's id; linesep: raw U+2028 and U+2029 in every status; 401html: a 401 with an "
        "HTML body); "
        "sametoken (no probability) makes the token endpoint hand back the unexpired token, as "
        "ThingSpace's gateway does",
    )
    simulate.add_argument(
        "--fault-routes",
        default="upgrade",
        metavar="R1,R2",
        help="routes the faults apply to: upgrade, inventory, reports, token, login, logout",
    )
    simulate.add_argument(
        "--redirect-to",
        metavar="ORIGIN",
        help="where a redirect fault points, e.g. http://127.0.0.1:9000 "
        "(default http://127.0.0.1:9, the discard port)",
    )
    simulate.add_argument(
        "--rate-limit", type=float, default=0.0, metavar="R", help="answer 429 above R requests/s"
    )
    simulate.add_argument(
        "--outage", metavar="START-END", help="answer 503 to everything in this window (seconds)"
    )
    simulate.add_argument(
        "--evolve",
        metavar="SEED",
        help="let device statuses advance day by day, drawn from SEED: each POST to "
        "/_simulator/day moves about --evolve-share of each campaign's devices one step "
        "(RequestPending -> Device Accepted or Rejected -> UpgradeSuccess or UpgradeFailed), "
        "drops a tenth as many and adds a tenth as many new pending devices",
    )
    simulate.add_argument(
        "--evolve-share",
        metavar="SHARE",
        help="share of the devices that move each day, in (0, 1] (default 0.02; needs --evolve)",
    )
    simulate.add_argument(
        "--day", metavar="N", help="serve day N from the start (default 0; needs --evolve)"
    )
    add_inventory_arguments(simulate)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already gives it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        default = "none" if action.default in {None, ""} else action.default
        return f"{text} (default {default})"


def run(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted."""
    # Imported here, not at the top: a `poll` run must not load the simulator (module docstring).
    from fota_poller.simulator import SimulatorOptions, serve_forever  # noqa: PLC0415
    from fota_poller.simulator.auth_routes import simulator_auth_options  # noqa: PLC0415
    from fota_poller.simulator.catalog import validate_options  # noqa: PLC0415
    from fota_poller.simulator.faults import (  # noqa: PLC0415
        FaultOptions,
        parse_mix,
        parse_outage,
        parse_routes,
        split_server_faults,
    )
    from fota_poller.simulator.server import DAY_ROUTE  # noqa: PLC0415

    low, _, high = args.devices.partition("-")
    try:
        devices_min, devices_max = int(low), int(high or low)
    except ValueError:
        raise ConfigError(f"--devices takes MIN-MAX, e.g. 1-2000, not {args.devices!r}") from None
    try:
        per_request, server_faults = split_server_faults(args.faults)
        faults = FaultOptions(
            mix=parse_mix(per_request),
            rate_limit=args.rate_limit,
            outage=None if args.outage is None else parse_outage(args.outage),
            routes=parse_routes(args.fault_routes),
            **({} if args.redirect_to is None else {"redirect_to": args.redirect_to}),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    evolve, day = evolve_options(args)
    options = SimulatorOptions(
        campaigns=args.campaigns,
        devices_min=devices_min,
        devices_max=devices_max,
        latency_ms=args.latency_ms,
        seed=args.seed,
        auth=simulator_auth_options(args, os.environ, same_token="sametoken" in server_faults),
        accounts=tuple(account.strip() for account in args.accounts.split(",")),
        report_page_size=args.report_page_size,
        faults=faults,
        evolve=evolve,
        day=day,
        inventory=inventory_options(args),
    )
    try:
        validate_options(options)
    except ValueError as exc:
        # One line and exit 2, not a traceback from inside the server's task group.
        raise ConfigError(f"simulate: {exc}") from None

    def ready(base_url: str) -> None:
        days = "" if evolve is None else f"; day {day}, POST {base_url}{DAY_ROUTE} for the next"
        say(f"simulator listening on {base_url}{days}")

    def finished(stats: SimulatorStats) -> None:
        say(exit_summary(stats))  # its report

    serve = functools.partial(
        serve_forever, options, args.host, args.port, args.write_ids, ready, finished=finished
    )
    import anyio  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            anyio.run(serve_until_signalled, serve)
        except ExceptionGroup as group:
            # The task group wraps a refusal to start (a busy port): raise it as the one line.
            refused, _ = group.split(ConfigError)
            if refused is None:
                raise
            raise _first(refused) from None
    return 0


def _first(group: BaseExceptionGroup[ConfigError]) -> ConfigError:
    first = group.exceptions[0]
    return first if isinstance(first, ConfigError) else _first(first)


def exit_summary(stats: SimulatorStats) -> str:
    """What the simulator served, a few aligned lines: requests, by status, faults injected."""
    by_status = sorted(stats.requests_by_status.items())
    faults = sorted(stats.faults_by_kind.items())
    rows = [("requests", f"{stats.requests_total:,}")]
    rows += [(f"  status {status}", f"{count:,}") for status, count in by_status]
    rows += [("faults", f"{sum(count for _, count in faults):,}")]
    rows += [(f"  {kind}", f"{count:,}") for kind, count in faults]
    label = max(len(name) for name, _ in rows)
    value = max(len(count) for _, count in rows)
    lines = [f"{name:<{label}}  {count:>{value}}" for name, count in rows]
    return "\n".join(["simulator served:", *(f"  {line}" for line in lines)])


def evolve_options(args: argparse.Namespace) -> tuple[EvolveOptions | None, int]:
    """The evolution `--evolve`, `--evolve-share` and `--day` ask for, and the first day.

    A `ConfigError` (one line, exit 2) for a value that is not a number or out of range, and
    for `--evolve-share` or `--day` without `--evolve`.
    """
    from fota_poller.simulator.evolve import EvolveOptions  # noqa: PLC0415 - module docstring

    if args.evolve is None:
        for flag, value in (("--evolve-share", args.evolve_share), ("--day", args.day)):
            if value is not None:
                raise ConfigError(f"{flag} needs --evolve SEED")
        return None, 0
    seed = _number(int, "--evolve", args.evolve)
    evolve = (
        EvolveOptions(seed)
        if args.evolve_share is None
        else EvolveOptions(seed, _number(float, "--evolve-share", args.evolve_share))
    )
    if not 0 < evolve.share <= 1:
        raise ConfigError(f"--evolve-share must be in (0, 1], not {args.evolve_share}")
    day = 0 if args.day is None else _number(int, "--day", args.day)
    if day < 0:
        raise ConfigError(f"--day must be 0 or more, not {args.day}")
    return evolve, day


def _number(kind: Callable[[str], _N], flag: str, text: str) -> _N:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{flag} takes a number, not {text!r}") from None


async def serve_until_signalled(serve: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `serve` until SIGTERM or SIGINT (a background job started by a shell ignores SIGINT)."""
    import anyio  # noqa: PLC0415 - kept off the start-up path (bench/startup.py)

    async with anyio.create_task_group() as group:
        group.start_soon(serve)
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
        group.cancel_scope.cancel()
