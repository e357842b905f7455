"""`fota-poller check`, run: the preflight before enabling the timer, one line per step.

A login rejected before (by any run: `fota_poller.api.login_memory`) is not tried again
unless `--login` is given: then one login is tried, and a success forgets the rejection.

Config, the files and their folders (folders.py), credentials (present, never shown), the
id lists and discovery (id_lists.py, discovery.py), one TCP connect to the base URL, a Bearer
token, one session opened and closed (one login and one logout, as a run makes), with
`--inventory` the first page of one account's device list (inventory.py), and optionally one
upgrade polled. The exit codes are `poll`'s: 2 config, files or credentials, 3
refused by ThingSpace, 4 unreachable (at once: a preflight does not wait out an outage), 1
when the upgrade poll gets an answer it cannot use, or for what a night reports at its end
(an invalid id line, a failed report page), which does not stop the preflight either.

No step waits longer for an answer than the connect timeout (`preflight_config`): a server
that takes the connection and then says nothing is exit 4 within seconds, not after the
read timeout a night's run allows.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Final

import anyio
import msgspec
from yarl import URL

from fota_poller.api.client import upgrade_url
from fota_poller.api.credentials import Credentials, load_credentials
from fota_poller.api.decode import decode_upgrade
from fota_poller.api.login_memory import LoginRecord, open_login_memory
from fota_poller.api.network_error import where
from fota_poller.api.redact import Redactor, redacted_error
from fota_poller.api.token_provider import TokenProvider
from fota_poller.api.unreachable import reason_of
from fota_poller.commands.check.client import check_client
from fota_poller.commands.check.discovery import discovery_settings, first_pages
from fota_poller.commands.check.folders import check_files, check_folders
from fota_poller.commands.check.id_lists import check_id_lists
from fota_poller.commands.check.inventory import first_inventory_page, sample_account
from fota_poller.commands.check.report import StepReport
from fota_poller.commands.check.sources import show_sources
from fota_poller.commands.common import read_config_sources
from fota_poller.config import Config, apply_overrides
from fota_poller.errors import AuthenticationError, ExitCode, FotaPollerError, RequestFailedError
from fota_poller.model.refs import CampaignRef
from fota_poller.model.tally import RunTally
from fota_poller.observe.logs import configure_logging
from fota_poller.state.schema import lock_path
from fota_poller.text import ERROR_TEXT_CHARS, MESSAGE_CHARS, escape_controls

_OK: Final = 200


def run(args: argparse.Namespace) -> int:
    """Run the preflight; the exit code of its first failed step, else 0.

    Every line it prints passes through the run's redactor and is escaped like a log line:
    a server's words (an error code echoing a password, an ESC in a status) are in them.
    """
    redactor = Redactor()
    # The config poll reads (`--config`, else $FOTA_POLLER_CONFIG, else /etc), and the flags
    # that say where poll keeps its files: so check finds the failed-login memory poll keeps.
    try:
        read = read_config_sources(args.config)
        config = apply_overrides(
            read.config,
            api={"base_url": args.base_url, "account": args.account},
            poll={"lock_file": args.lock_file},
            output={"path": args.output, "metrics_file": args.metrics_file},
            discover={"statuses": args.status},
            state={"path": args.state},
            inventory={"enabled": args.inventory},
        )
    except FotaPollerError as exc:
        return _fail(redactor, "config", str(exc), exc.exit_code)
    _line(redactor, "ok", "config", str(read.path) if read.path is not None else "defaults")
    show_sources(read, config, args)  # the config poll would run with: before preflight_config
    config = preflight_config(config)
    code = _file_steps(redactor, written_files(config))
    if code:
        return code
    configure_logging(config.log.level, redactor=redactor)
    try:
        credentials = load_credentials(config.auth)
    except FotaPollerError as exc:
        return _fail(redactor, "credentials", str(exc), exc.exit_code)
    redactor.add_credentials(credentials)
    _line(redactor, "ok", "credentials", _present(credentials))
    # After the credentials: an id list's line quoted back passes a redactor that knows them.
    later = 0  # a failure the night reports only at its end (1): the checks go on
    listed = check_id_lists(args.ids or [], config)
    for report in (listed, discovery_settings(config)):
        code = _report(redactor, report)
        if code not in {0, ExitCode.CAMPAIGNS_FAILED}:
            return code
        later = later or code
    try:
        memory = open_login_memory(config, credentials, retry=args.login)
    except FotaPollerError as exc:
        return _fail(redactor, "logins", str(exc), exc.exit_code)
    upgrade: CampaignRef | None = args.upgrade
    sampled = sample_account(config, listed.first_account) if config.inventory.enabled else None
    online = functools.partial(_online, sampled=sampled)
    try:
        code = anyio.run(online, config, credentials, redactor, upgrade, memory)
    except FotaPollerError as exc:
        raise redacted_error(exc, redactor) from None  # the CLI's line, as for `poll`
    return code or later


def written_files(config: Config) -> list[tuple[str, str]]:
    """The files a `poll` run with `config` would write, by name: each must be regular or absent."""
    state = config.state.path
    output = config.output.path
    named = [
        ("lock file", config.poll.lock_file),
        ("output", None if output == "-" else output),
        ("metrics file", config.output.metrics_file),
        ("state database", state),
        ("state lock file", None if state is None else lock_path(Path(state))),
    ]
    return [(what, path) for what, path in named if path is not None]


def _file_steps(redactor: Redactor, files: list[tuple[str, str]]) -> int:
    """`files`, then `writable`: what is at each path, then whether its folder takes a file."""
    if not files:
        return 0
    return _report(redactor, check_files(files)) or _report(redactor, check_folders(files))


def preflight_config(config: Config) -> Config:
    """`config` with no wait for an answer longer than its connect timeout.

    A run waits `read_timeout_s` (30 s) for a slow answer, as a busy API at night may need;
    a preflight asks four small questions and must say at once that nothing answers. So the
    socket read limit of every step (token request, login, logout, the upgrade) becomes
    `poll.connect_timeout_s` when that is shorter: one setting, already the measure of "no
    answer at all". The whole-answer limit (`timeout_s`) stays: a large upgrade still arrives.
    """
    poll = config.poll
    read_s = min(poll.read_timeout_s, poll.connect_timeout_s)
    preflight = msgspec.structs.replace(poll, read_timeout_s=read_s)
    return msgspec.structs.replace(config, poll=preflight)


async def _online(
    config: Config,
    credentials: Credentials,
    redactor: Redactor,
    upgrade: CampaignRef | None,
    memory: LoginRecord,
    *,
    sampled: str | None,
) -> int:
    url = URL(config.api.base_url)
    timeout_s = config.poll.connect_timeout_s
    try:
        with anyio.fail_after(timeout_s):
            stream = await anyio.connect_tcp(url.host or "", url.port or 0)
        await stream.aclose()
    except (OSError, TimeoutError) as exc:
        reason = (
            f"no connection within {timeout_s:g} s (poll.connect_timeout_s)"
            if isinstance(exc, TimeoutError)
            else reason_of(exc)
        )
        return _fail(redactor, "connect", f"{where(url)}: {reason}", ExitCode.CUT_SHORT)
    _line(redactor, "ok", "connect", where(url))
    tally = RunTally()
    step, found = "token", 0
    async with TokenProvider(
        config, credentials, redactor=redactor, tally=tally, login_memory=memory
    ) as tokens:
        try:
            await tokens.bearer()
            obtained = "pre-issued" if tally.token_requests == 0 else "obtained"
            _line(redactor, "ok", step, obtained)
            step = "session"
            await tokens.headers()
            opened = "pre-issued" if tally.login_requests == 0 else "opened (1 login)"
            _line(redactor, "ok", step, opened)
            if config.discover.statuses:  # a page that fails is the night's exit 1: go on
                step = "discovery"
                found = _report(redactor, await first_pages(config, tokens, tally))
            if config.inventory.enabled:  # a list that fails is the night's exit 1: go on
                step = "inventory"
                listed = await first_inventory_page(config, tokens, tally, sampled)
                found = _report(redactor, listed) or found
            if upgrade is not None:
                step = "upgrade"
                code = await _poll_one(config, tokens, tally, upgrade, redactor)
                if code:
                    return code
        except AuthenticationError as exc:
            return _fail(redactor, step, str(exc), exc.exit_code)
        except RequestFailedError as exc:
            # A preflight does not wait out an outage: no answer is exit 4 at once.
            return _fail(redactor, step, str(exc), ExitCode.CUT_SHORT)
    unanswered = tokens.logout_unanswered
    if unanswered is not None:
        return _fail(redactor, "logout", str(unanswered), ExitCode.CUT_SHORT)
    if tally.logout_requests:
        _line(redactor, "ok" if tokens.session_closed else "FAIL", "logout", _closed(tokens))
    return found


async def _poll_one(
    config: Config, tokens: TokenProvider, tally: RunTally, ref: CampaignRef, redactor: Redactor
) -> int:
    """GET one upgrade: 0 and an ok line for a readable 200, else a FAIL line and exit 1."""
    what = f"{ref.account_name},{ref.upgrade_id}"
    async with check_client(config, tokens, tally, rate=0) as client:
        try:
            response = await client.get(upgrade_url(config.api.base_url, ref))
        except RequestFailedError as exc:
            # No answer is the network's failure (exit 4, as for the other steps); an answer
            # that cannot be used (too large, a redirect) is the upgrade's (exit 1).
            code = ExitCode.CAMPAIGNS_FAILED if exc.final else ExitCode.CUT_SHORT
            return _fail(redactor, "upgrade", f"{what}: {exc}", code)
    if response.status != _OK:
        failed = f"{what}: HTTP {response.status}"
        return _fail(redactor, "upgrade", failed, ExitCode.CAMPAIGNS_FAILED)
    try:
        info = decode_upgrade(response.body)
    except Exception as exc:  # noqa: BLE001 - any unreadable body is the step's failure
        unreadable = f"{what}: unreadable answer: {exc}"
        return _fail(redactor, "upgrade", unreadable, ExitCode.CAMPAIGNS_FAILED)
    devices = len(info.device_list or [])
    status = None if info.status is None else redactor.redact(info.status, limit=ERROR_TEXT_CHARS)
    _line(redactor, "ok", "upgrade", f"{what}: status {status}, {devices} devices")
    return 0


def _present(credentials: Credentials) -> str:
    """Which credentials were found, by name: never a value."""
    names = [
        ("app key and secret", credentials.app_key is not None),
        ("username and password", credentials.username is not None),
        ("pre-issued OAuth token", credentials.bearer_token is not None),
        ("pre-issued session token", credentials.session_token is not None),
    ]
    return ", ".join(name for name, present in names if present)


def _closed(tokens: TokenProvider) -> str:
    return "session closed" if tokens.session_closed else "the logout failed (see the log)"


def _fail(redactor: Redactor, step: str, reason: str, code: int) -> int:
    _line(redactor, "FAIL", step, reason)
    return int(code)


def _report(redactor: Redactor, report: StepReport) -> int:
    """Print a step's lines; its exit code."""
    for finding in report.findings:
        _line(redactor, finding.verdict, report.step, finding.detail)
    return report.exit_code


def _line(redactor: Redactor, verdict: str, step: str, detail: str) -> None:
    # Redacted, then escaped: a CR or ESC from the server must not forge an `ok` line.
    shown = escape_controls(redactor.redact(detail, limit=MESSAGE_CHARS))
    # Aligned columns a person scans: `ok  ` and `FAIL` are the same width.
    sys.stdout.write(f"{verdict:<4} {step:<11} {shown}\n")
    sys.stdout.flush()
