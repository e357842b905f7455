"""The command line: `poll`, `simulate`, `demo`; errors become one line and an exit code."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import anyio
import structlog

from fota_poller._version import __version__
from fota_poller.api.auth import BEARER_TOKEN_ENV, SESSION_TOKEN_ENV, TokenSource
from fota_poller.api.credentials import (
    APP_KEY_ENV,
    APP_SECRET_ENV,
    PASSWORD_ENV,
    USERNAME_ENV,
    Credentials,
    load_credentials,
)
from fota_poller.api.redact import Redactor
from fota_poller.api.token_provider import TokenProvider
from fota_poller.config import DEFAULT_BASE_URL, Config, apply_overrides, load_config
from fota_poller.errors import ConfigError, ExitCode, FotaPollerError
from fota_poller.ids.discover import discovery_accounts
from fota_poller.ids.lists import close_id_sources, open_id_sources, read_refs
from fota_poller.observe.logs import configure_logging
from fota_poller.observe.monitor import watch_run
from fota_poller.observe.tally import RunTally
from fota_poller.output.records import RunRecord
from fota_poller.output.schema import render_schema
from fota_poller.output.sink import Sink, open_output
from fota_poller.run.lock import hold_lock
from fota_poller.run.pipeline import run_poll
from fota_poller.run.stop import RunControl, stop_on_signals

EXIT_CODES_HELP = """\
exit codes:
  0   every campaign was polled
  1   at least one campaign failed (all others are still written; see the campaign records)
  2   usage error, bad config, or an unreadable id list (nothing polled, output untouched)
  3   could not authenticate: a token request or login was rejected; campaigns not polled
      have error_kind "auth" (a rejected login is never retried, so the account is not locked)
  4   cut short by --deadline, SIGTERM, SIGINT or a too long outage (output complete up to the stop;
      campaigns not polled are marked error_kind "not_polled")
  74  the output could not be written or committed (disk full, I/O error): the run stopped at
      once, the previous output file is untouched and no temporary file is left; fix the disk
  75  another run holds --lock-file (nothing polled, output untouched); try again later
  141 the reader of stdout closed the pipe (e.g. `| head`): the run stopped at once, quietly;
      what a shell reports for a writer killed by SIGPIPE, so `pipefail` wrappers know it
"""

POLL_EPILOG = f"""\
input lines (--ids):
  accountName,upgradeId      e.g. 0000123456-00001,e3a8d88a-04c6-4ef3-b039-89b62f91e962
  upgradeId                  the account comes from --account or api.account
  {{"accountName": "...", "upgradeId": "..."}}
  blank lines, # comments and a CSV header line are skipped; a bad line gets a failed
  campaign record (error_kind "invalid_input") and the run goes on.

credentials (environment, else the files named in the config's [auth]; never flags):
  {APP_KEY_ENV}, {APP_SECRET_ENV}   obtain and renew the Bearer token
  {USERNAME_ENV}, {PASSWORD_ENV}    log in for the VZ-M2M session token
  {BEARER_TOKEN_ENV}, {SESSION_TOKEN_ENV}
                                    pre-issued tokens; each takes precedence for its token

{EXIT_CODES_HELP}"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three subcommands."""
    parser = argparse.ArgumentParser(
        prog="fota-poller",
        description="Poll ThingSpace FOTA upgrade campaigns; one JSON line per device.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_poll(commands)
    _add_simulate(commands)
    _add_demo(commands)
    commands.add_parser(
        "schema",
        help="print the JSON Schema of the output records",
        description="Print the JSON Schema every output line validates against.",
    )
    return parser


def _add_poll(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    poll = commands.add_parser(
        "poll",
        help="poll upgrade campaigns and write JSON lines",
        description="Poll every upgrade campaign in the id lists and write one JSON line per "
        "device, one per campaign and one for the run.",
        epilog=POLL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    poll.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    poll.add_argument(
        "--ids",
        action="append",
        metavar="FILE",
        help="file of upgrade ids, one per line; repeatable; - reads stdin",
    )
    poll.add_argument(
        "--status",
        action="append",
        metavar="S1,S2",
        help="also poll every upgrade in these statuses, found through the status report "
        "(config discover.statuses; accounts from discover.accounts or --account)",
    )
    poll.add_argument(
        "--metrics-file",
        metavar="PATH.prom",
        help="write a Prometheus textfile-collector file at the end (config output.metrics_file)",
    )
    poll.add_argument("--account", help="account for bare upgrade ids (config api.account)")
    poll.add_argument(
        "--base-url", help=f"API base URL (config api.base_url; default {DEFAULT_BASE_URL})"
    )
    poll.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="requests in flight at most (config poll.concurrency; default 8)",
    )
    poll.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help="request starts per second at most, 0 for no limit (config poll.rate; default 10)",
    )
    poll.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="total time for one request (config poll.timeout_s; default 120)",
    )
    poll.add_argument(
        "--deadline",
        metavar="DURATION",
        help="stop starting campaigns after this long, e.g. 45m or 1h30m (config poll.deadline)",
    )
    poll.add_argument(
        "--max-attempts",
        type=int,
        metavar="N",
        help="requests per campaign at most for transient failures (config poll.max_attempts; "
        "default 8)",
    )
    poll.add_argument(
        "--lock-file",
        metavar="FILE",
        help="exit 75 at once if another run holds this lock (config poll.lock_file)",
    )
    poll.add_argument(
        "--output",
        metavar="FILE",
        help="write records here, atomically at the end (config output.path; default stdout)",
    )
    poll.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log level on stderr (config log.level; default info)",
    )


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="serve a synthetic ThingSpace FOTA API on loopback",
        description="Serve a deterministic synthetic ThingSpace FOTA API on loopback, with the "
        "OAuth token, session login and logout endpoints. It accepts the app key/secret and "
        f"username/password in {APP_KEY_ENV}, {APP_SECRET_ENV}, {USERNAME_ENV}, {PASSWORD_ENV} "
        "when set, else sim-app-key / sim-app-secret and sim-user / sim-password; and the "
        "pre-issued tokens sim-bearer-token and sim-session-token, which never expire.",
    )
    simulate.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    simulate.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    simulate.add_argument("--campaigns", type=int, default=300, metavar="N")
    simulate.add_argument(
        "--devices", default="1-2000", metavar="MIN-MAX", help="devices per campaign"
    )
    simulate.add_argument("--latency-ms", type=float, default=0.0, metavar="MS")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument(
        "--accounts",
        default="0000123456-00001",
        metavar="A1,A2",
        help="accounts the campaigns are spread over (default 0000123456-00001)",
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
        help="lifetime of an issued Bearer token (default 3600)",
    )
    simulate.add_argument(
        "--session-idle-ttl",
        type=float,
        default=1200.0,
        metavar="SECONDS",
        help="a session expires after this long unused (default 1200)",
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
        help="routes the faults apply to: upgrade, reports, token, login, logout (default upgrade)",
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


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="poll the built-in simulator end to end and summarise",
        description="Start the simulator in-process, poll all its campaigns with the real poll "
        "code path, write the records to a file and print a summary to stderr.",
    )
    demo.add_argument("--output", type=Path, default=Path("demo-output.jsonl"), metavar="FILE")
    demo.add_argument("--campaigns", type=int, default=300, metavar="N")
    demo.add_argument("--seed", type=int, default=1)


def poll_config(args: argparse.Namespace) -> Config:
    """The config file with the flags laid over it."""
    return apply_overrides(
        load_config(args.config),
        api={"base_url": args.base_url, "account": args.account},
        poll={
            "concurrency": args.concurrency,
            "rate": args.rate,
            "timeout_s": args.timeout,
            "deadline": args.deadline,
            "max_attempts": args.max_attempts,
            "lock_file": args.lock_file,
        },
        output={"path": args.output, "metrics_file": args.metrics_file},
        log={"level": args.log_level},
        discover={"statuses": _split_statuses(args.status)},
    )


def _split_statuses(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [status.strip() for value in values for status in value.split(",") if status.strip()]


def check_poll_sources(config: Config, id_paths: Sequence[str] | None) -> list[str]:
    """The id lists to read; refuses a poll with neither id lists nor discovery."""
    if not id_paths and not discovery_accounts(config):
        raise ConfigError("nothing to poll: give --ids FILE or --status (config discover.statuses)")
    return list(id_paths or [])


async def authenticated_poll(
    config: Config, id_paths: Sequence[str], credentials: Credentials, redactor: Redactor
) -> int:
    """Run `poll` with a token provider that obtains and renews tokens, and logs out at the end."""
    # The lock comes first: a run that must not start must not log in, nor touch the output.
    # The output comes before the token provider: one that cannot be written is refused
    # before any request.
    tally = RunTally()  # the run's one tally, handed down to every stage that counts
    with (
        hold_lock(config.poll.lock_file),
        watch_run(config, tally) as watch,
        open_output(config.output.path) as sink,
    ):
        async with TokenProvider(config, credentials, redactor=redactor, tally=tally) as tokens:
            return watch.finished(await _poll(config, id_paths, tokens, sink, tally))


async def poll_command(
    config: Config, id_paths: Sequence[str], tokens: TokenSource, tally: RunTally | None = None
) -> int:
    """Run `poll` with a ready config; returns the exit code.

    `tally` is the run's, shared with `tokens` when they count; a fresh one when None.
    SIGTERM and SIGINT stop the run (see run/stop.py); the output is still committed.
    """
    tally = tally if tally is not None else RunTally()
    with watch_run(config, tally) as watch, open_output(config.output.path) as sink:
        return watch.finished(await _poll(config, id_paths, tokens, sink, tally))


async def _poll(
    config: Config, id_paths: Sequence[str], tokens: TokenSource, sink: Sink, tally: RunTally
) -> RunRecord:
    sources = open_id_sources(id_paths)
    try:
        control = RunControl()
        async with anyio.create_task_group() as signals:
            signals.start_soon(stop_on_signals, control)
            refs = read_refs(sources, config.api.account)
            run = await run_poll(config, refs, tokens, sink, control, tally=tally)
            signals.cancel_scope.cancel()
    finally:
        close_id_sources(sources)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fota-poller` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "poll":
            config = poll_config(args)
            id_paths = check_poll_sources(config, args.ids)
            redactor = Redactor()
            configure_logging(config.log.level, redactor=redactor)
            credentials = load_credentials(config.auth)
            redactor.add(*credentials.values())
            return anyio.run(
                authenticated_poll,
                config,
                id_paths,
                credentials,
                redactor,
                backend_options=event_loop_options(),
            )
        if args.command == "schema":
            sys.stdout.write(render_schema())
            return 0
        if args.command == "simulate":
            return simulate_command(args)
        from fota_poller.demo import demo_command  # noqa: PLC0415

        return demo_command(args)
    except FotaPollerError as exc:
        print(f"fota-poller: {exc}", file=sys.stderr)  # noqa: T201 - the one-line user error
        return int(exc.exit_code)
    except KeyboardInterrupt:
        # A SIGINT outside the run's own signal handling (before it is set up, or a second
        # signal racing the end of the run) is still a run cut short by SIGINT: exit 4, as
        # the exit-code table says, not 1.
        structlog.get_logger("fota_poller").warning("run.interrupted")
        return int(ExitCode.CUT_SHORT)


def event_loop_options() -> dict[str, bool]:
    """The event loop for `poll`: uvloop where installed, as it costs less CPU per request."""
    uvloop = sys.platform != "win32" and importlib.util.find_spec("uvloop") is not None
    return {"use_uvloop": uvloop}


def simulate_command(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted."""
    from fota_poller.simulator import (  # noqa: PLC0415
        SimulatorOptions,
        SimulatorStats,
        serve_forever,
    )
    from fota_poller.simulator.auth_routes import simulator_auth_options  # noqa: PLC0415
    from fota_poller.simulator.faults import (  # noqa: PLC0415
        FaultOptions,
        parse_mix,
        parse_outage,
        parse_routes,
        split_server_faults,
    )

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
    )

    def ready(base_url: str) -> None:
        print(f"simulator listening on {base_url}", file=sys.stderr, flush=True)  # noqa: T201

    def finished(stats: SimulatorStats) -> None:
        summary = (
            f"simulator served {stats.requests_total} requests; by status "
            f"{dict(sorted(stats.requests_by_status.items()))}; faults {stats.faults_by_kind}"
        )
        print(summary, file=sys.stderr, flush=True)  # noqa: T201 - the simulator's report

    serve = functools.partial(
        serve_forever, options, args.host, args.port, args.write_ids, ready, finished=finished
    )
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve_until_signalled, serve)
    return 0


async def serve_until_signalled(serve: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `serve` until SIGTERM or SIGINT (a background job started by a shell ignores SIGINT)."""
    async with anyio.create_task_group() as group:
        group.start_soon(serve)
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
        group.cancel_scope.cancel()
