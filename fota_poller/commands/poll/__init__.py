"""The `poll` subcommand's options, help text and epilog.

Kept apart from `cli.py` so that `fota-poller --version` loads none of it: the defaults the
help shows come from config.py, and that imports msgspec.
"""

from __future__ import annotations

import argparse
from typing import get_args

from fota_poller.api.credentials import (
    APP_KEY_ENV,
    APP_SECRET_ENV,
    BEARER_TOKEN_ENV,
    PASSWORD_ENV,
    SESSION_TOKEN_ENV,
    USERNAME_ENV,
)
from fota_poller.commands.options import add_config_option, add_state_option
from fota_poller.config import (
    DEFAULT_BASE_URL,
    Emit,
    LogConfig,
    LogFormat,
    LogLevel,
    OutputConfig,
    PollConfig,
)

# The defaults the help shows come from config.py, their one home.
_POLL = PollConfig()

EXIT_CODES_HELP = """\
exit codes:
  0   every campaign was polled
  1   at least one campaign failed (all others are still written; see the campaign records)
      or, every campaign polled, the metrics file could not be written (one line names it)
  2   usage error, bad config, or an unreadable id list (nothing polled, output untouched)
  3   could not authenticate: a token request or login was rejected; campaigns not polled
      have error_kind "auth" (a rejected login is never retried, so the account is not locked)
  4   cut short by --deadline, SIGTERM, SIGINT, SIGHUP or a too long outage (output complete up
      to the stop; campaigns not polled are marked error_kind "not_polled")
  74  the output could not be written or committed (disk full, I/O error): the run stopped at
      once, the previous output file is untouched and no temporary file is left; fix the disk
  75  another run holds --lock-file (nothing polled, output untouched); try again later
  129, 130, 143  a second SIGHUP, SIGINT or SIGTERM (128 + its number) ended the run before
      every campaign had its record: no output committed, the previous file is as it was
  141 the reader of stdout closed the pipe (e.g. `| head`), or stdout was closed (`>&-`) with
      no --output: the run stopped at once, quietly; what a shell reports for a writer
      killed by SIGPIPE, so `pipefail` wrappers know it
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


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `poll` subcommand: what to poll, how fast, where the records go."""
    poll = commands.add_parser(
        "poll",
        help="poll upgrade campaigns and write JSON lines",
        description="Poll every upgrade campaign in the id lists and write one JSON line per "
        "device, one per campaign and one for the run.",
        epilog=POLL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(poll)
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
        help=f"requests in flight at most (config poll.concurrency; default {_POLL.concurrency})",
    )
    poll.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help="request starts per second at most, 0 for no limit "
        f"(config poll.rate; default {_POLL.rate:g})",
    )
    poll.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"total time for one request (config poll.timeout_s; default {_POLL.timeout_s:g})",
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
        f"default {_POLL.max_attempts})",
    )
    poll.add_argument(
        "--lock-file",
        metavar="FILE",
        help="exit 75 at once if another run holds this lock (config poll.lock_file)",
    )
    poll.add_argument(
        "--inventory",
        action="store_true",
        default=None,
        help="join each device to its account's device list: model, the firmware it reports, "
        "on target or not (config inventory.enabled; one request per 1,000 devices)",
    )
    poll.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write records here, atomically at the end (config output.path; default stdout)",
    )
    add_state_option(
        poll,
        "remember each device's last status in this SQLite file and add what changed "
        "to every record (config state.path; see docs/change-feed.md)",
    )
    poll.add_argument(
        "--emit",
        choices=get_args(Emit),
        help="all device records, or only those that changed since the last run "
        f"(needs --state; config output.emit; default {OutputConfig().emit})",
    )
    poll.add_argument(
        "--log-level",
        choices=get_args(LogLevel),
        help=f"log level on stderr (config log.level; default {LogConfig().level})",
    )
    poll.add_argument(
        "--log-format",
        choices=get_args(LogFormat),
        help="log lines on stderr: auto is journal when stderr is systemd's journal "
        "(JOURNAL_STREAM), console on a terminal, JSON otherwise; journal and ecs are JSON "
        f"lines too (config log.format; default {LogConfig().format}); NO_COLOR turns "
        "colours off",
    )
    verbosity = poll.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const="warning",
        help="log warnings and errors only (overrides --log-level)",
    )
    verbosity.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const="debug",
        help="log debug lines too (overrides --log-level)",
    )


def run(args: argparse.Namespace) -> int:
    """Run `poll`: the config read and checked, then the run; its exit code."""
    args.log_level = args.verbosity or args.log_level  # -q and -v win over --log-level
    # Imported here, not at the top: `--version` and `--help` must not load aiohttp and the
    # pipeline (bench/startup.py).
    from fota_poller.commands.poll import core  # noqa: PLC0415
    from fota_poller.commands.poll.refusal import refused  # noqa: PLC0415
    from fota_poller.errors import FotaPollerError  # noqa: PLC0415
    from fota_poller.model.tally import RunTally  # noqa: PLC0415
    from fota_poller.observe.monitor import refusal_metrics  # noqa: PLC0415
    from fota_poller.run.pipeline import new_run_id  # noqa: PLC0415

    # Made first: a refusal's line carries it too, as every line of the run.
    run_id = new_run_id()
    tally = RunTally()  # the run's one tally: a refusal's metrics count its lost log lines too
    log_format: LogFormat = args.log_format or "auto"  # the flag's, until the config is read
    metrics_file: str | None = args.metrics_file  # the same
    try:
        config = core.poll_config(args)
        log_format, metrics_file = config.log.format, config.output.metrics_file
        core.check_state(config)
        sources = core.check_poll_sources(config, args.ids)
        return core.poll(config, sources, args.config_read, run_id=run_id, tally=tally)
    except FotaPollerError as exc:
        refusal_metrics(metrics_file, int(exc.exit_code), tally)
        return refused(exc, log_format, run_id)
