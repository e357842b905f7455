"""One `poll` run, wired: lock -> watch -> sink -> tokens -> id sources -> signals -> pipeline.

`run` (the package's) calls `poll` with the config it built from the flags;
`commands/demo/core.py` calls `poll_command` with its own config and tokens. Nothing below
this module knows how a run is started.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import anyio
import structlog

from fota_poller.api.auth import TokenSource
from fota_poller.api.credentials import Credentials, load_credentials
from fota_poller.api.login_memory import open_login_memory
from fota_poller.api.redact import Redactor, redacted_error
from fota_poller.api.token_provider import TokenProvider
from fota_poller.commands.common import read_config
from fota_poller.commands.poll.process import collector_for_a_run, event_loop_options
from fota_poller.config import Config, apply_overrides
from fota_poller.errors import ConfigError, FotaPollerError
from fota_poller.ids.discover import discovery_accounts
from fota_poller.ids.lists import (
    close_id_sources,
    open_id_sources,
    read_refs,
    refuse_if_nothing_usable,
)
from fota_poller.model.records import RunRecord
from fota_poller.model.stop import RunControl
from fota_poller.model.tally import RunTally
from fota_poller.observe.logs import configure_logging
from fota_poller.observe.monitor import RunWatch, watch_run
from fota_poller.output.sink import Sink, open_output
from fota_poller.regular_files import hold_lock
from fota_poller.run.pipeline import new_run_id, run_poll
from fota_poller.run.stop import signals_handled
from fota_poller.state.store import Reserved, StateStore


def poll_config(args: argparse.Namespace) -> Config:
    """The config file with the flags of `poll` laid over it.

    The file is `--config`, else `$FOTA_POLLER_CONFIG`, else /etc/fota-poller/config.toml when
    it exists; `args.config_read` is left naming it, for `poll` to log once logging is set up.
    """
    read, path, source = read_config(args.config)
    args.config_read = {"path": None if path is None else str(path), "from": source}
    return apply_overrides(
        read,
        api={"base_url": args.base_url, "account": args.account},
        poll={
            "concurrency": args.concurrency,
            "rate": args.rate,
            "timeout_s": args.timeout,
            "deadline": args.deadline,
            "max_attempts": args.max_attempts,
            "lock_file": args.lock_file,
        },
        output={"path": args.output, "metrics_file": args.metrics_file, "emit": args.emit},
        log={"level": args.log_level, "format": args.log_format},
        discover={"statuses": _split_statuses(args.status)},
        state={"path": args.state},
        inventory={"enabled": args.inventory},
    )


def check_state(config: Config) -> None:
    """Refuse what cannot work with the state setting: `--emit changes` without a state."""
    if config.output.emit == "changes" and config.state.path is None:
        raise ConfigError("--emit changes needs a state database: give --state (config state.path)")


def _split_statuses(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [status.strip() for value in values for status in value.split(",") if status.strip()]


def check_poll_sources(config: Config, id_paths: Sequence[str] | None) -> list[str]:
    """The id lists to read; refuses a poll with neither id lists nor discovery."""
    if not id_paths and not discovery_accounts(config):
        raise ConfigError("nothing to poll: give --ids FILE or --status (config discover.statuses)")
    return list(id_paths or [])


def poll(
    config: Config,
    id_paths: Sequence[str],
    config_read: Mapping[str, str | None] | None = None,
    *,
    run_id: str | None = None,
    tally: RunTally | None = None,
) -> int:
    """Run `poll` from the command line: logging, credentials, then the run; the exit code.

    The run's id is made and bound first, so that every log line of the process carries it:
    the config read and a credentials warning before the run starts, the logout, the lock's
    release and the metrics after it ends (anyio.run copies the bound context into the run).
    """
    run_id = run_id if run_id is not None else new_run_id()
    bound = structlog.contextvars.bind_contextvars(run_id=run_id)
    try:
        redactor = Redactor()
        # The tally comes first: it counts the log lines stderr could not take, from the first
        # (the caller's, when given: a refusal's metrics file counts them too).
        tally = tally if tally is not None else RunTally()
        configure_logging(
            config.log.level,
            redactor=redactor,
            log_format=config.log.format,
            on_dropped=tally.log_lines_lost,
        )
        if config_read is not None:
            structlog.get_logger("fota_poller").debug("config.read", **config_read)
        # Missing credentials (exit 2) propagate: the caller writes the refusal's metrics.
        credentials = load_credentials(config.auth)
        redactor.add_credentials(credentials)
        try:
            with collector_for_a_run():
                return anyio.run(
                    functools.partial(authenticated_poll, tally=tally),
                    config,
                    id_paths,
                    credentials,
                    redactor,
                    run_id,
                    backend_options=event_loop_options(),
                )
        except FotaPollerError as exc:
            # The CLI prints it as the run's one error line: a server's words (an error code
            # echoing a password) are in it, so it leaves through the redactor too.
            raise redacted_error(exc, redactor) from None
    finally:
        structlog.contextvars.reset_contextvars(**bound)


async def authenticated_poll(
    config: Config,
    id_paths: Sequence[str],
    credentials: Credentials,
    redactor: Redactor,
    run_id: str | None = None,
    *,
    tally: RunTally | None = None,
) -> int:
    """Run `poll` with a token provider that obtains and renews tokens, and logs out at the end.

    `run_id` is the run's id when the caller made it (and bound it for its log lines);
    `tally` the run's one tally when the caller made it (it counts from the first log line).
    """
    # The locks come first: a run that must not start must not log in, nor touch the output
    # or the state. The output and the state come before the token provider: one that cannot
    # be written is refused before any request.
    tally = tally if tally is not None else RunTally()  # handed down to every stage that counts
    control = RunControl()
    # Signals are handled from here to the lock's release: one during the logout or the
    # metrics must not kill the process before the metrics file says how the run ended.
    async with signals_handled(control):
        with _held(config, tally, lock_file=config.poll.lock_file) as (watch, sink, state):
            # After the locks and the state: a run that may not start reads no memory. Failed
            # logins of earlier runs: these credentials are not tried again (exit 3 at once).
            memory = open_login_memory(config, credentials)
            provider = TokenProvider(
                config, credentials, redactor=redactor, tally=tally, login_memory=memory
            )
            async with provider as tokens:
                run = await _poll(
                    config,
                    id_paths,
                    tokens,
                    sink,
                    tally,
                    control=control,
                    state=state,
                    run_id=run_id,
                    redactor=redactor,
                )
                # The records are committed: a signal now only cuts the logout short.
                control.after_run(tokens.cut_logout)
                exit_code = watch.finished(run)
    # After the watch: the metrics file is written (or not) only as it ends.
    return watch.exit_code(exit_code)


async def poll_command(
    config: Config, id_paths: Sequence[str], tokens: TokenSource, tally: RunTally | None = None
) -> int:
    """Run `poll` with a ready config and tokens; returns the exit code.

    `tally` is the run's one tally, the same one `tokens` counts into when they count; a
    fresh one when None. SIGTERM and SIGINT stop the run (see run/stop.py); the output is
    still committed.
    """
    tally = tally if tally is not None else RunTally()
    control = RunControl()
    async with signals_handled(control):
        with _held(config, tally, lock_file=None) as (watch, sink, state):
            run = await _poll(config, id_paths, tokens, sink, tally, control=control, state=state)
            exit_code = watch.finished(run)
    return watch.exit_code(exit_code)


@contextlib.contextmanager
def _held(
    config: Config, tally: RunTally, *, lock_file: str | None
) -> Iterator[tuple[RunWatch, Sink, StateStore | None]]:
    """What a run holds, in this order: the locks, the watch, the output, the state."""
    with (
        hold_lock(lock_file),
        _reserve_state(config.state.path) as reserved,
        watch_run(config, tally) as watch,
        open_output(config.output.path) as sink,
        _open_state(reserved) as state,
    ):
        yield watch, sink, state


@contextlib.contextmanager
def _reserve_state(path: str | None) -> Iterator[Reserved | None]:
    """The state database's lock for the block (StateStore's own), or None without one."""
    if path is None:
        yield None
        return
    with StateStore.reserve(Path(path)) as reserved:
        yield reserved


@contextlib.contextmanager
def _open_state(reserved: Reserved | None) -> Iterator[StateStore | None]:
    """The reserved state database, open for the block, or None without one."""
    if reserved is None:
        yield None
        return
    with reserved.open() as store:
        yield store


async def _poll(
    config: Config,
    id_paths: Sequence[str],
    tokens: TokenSource,
    sink: Sink,
    tally: RunTally,
    *,
    control: RunControl,
    state: StateStore | None = None,
    run_id: str | None = None,
    redactor: Redactor | None = None,
) -> RunRecord:
    sources = open_id_sources(id_paths)
    try:
        if not discovery_accounts(config):
            # Lists with no usable line are refused before any request; with discovery, the
            # run may still find campaigns, and decides at its end.
            refuse_if_nothing_usable(sources, config.api.account)
        # `control` cuts the wait for ids that have not arrived (a pipe) when a stop's grace ends.
        refs = read_refs(sources, config.api.account, control)
        run = await run_poll(
            config,
            refs,
            tokens,
            sink,
            control,
            tally=tally,
            state=state,
            run_id=run_id,
            redactor=redactor,
        )
    finally:
        close_id_sources(sources)
    return run
