"""`fota-poller state info|stuck|forget`, run: the answers, as lines or a table.

Output only; the questions themselves are `state/queries.py`'s, the options
`commands/state/__init__.py`'s. `info` and `stuck` open the database read-only, so they work while a
nightly run is writing it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.commands.common import output_format, read_config, stuck_after_seconds
from fota_poller.commands.streams import write_lines
from fota_poller.config import Config
from fota_poller.errors import ConfigError, ExitCode
from fota_poller.model.phases import PhaseTable
from fota_poller.model.refs import ACCOUNT_PATTERN, canonical_upgrade_id
from fota_poller.observe.stderr import say
from fota_poller.state import queries
from fota_poller.state.night_report import MorningNews, history_lines, read_news
from fota_poller.state.schema import open_database
from fota_poller.state.store import StateStore
from fota_poller.state.stuck_campaigns import CampaignStuck, stuck_by_campaign
from fota_poller.text import escape_controls, escape_line_separators, excerpt

_SECONDS_PER_DAY: Final = 86400


def run(args: argparse.Namespace) -> int:
    """Run `state info`, `state stuck` or `state forget`: the exit code."""
    # Imported here: `--help` must not load structlog and tqdm (bench/startup.py).
    from fota_poller.observe.logs import configure_logging  # noqa: PLC0415

    configure_logging("warning")  # to stderr: stdout is the answer
    config, _, _ = read_config(args.config)
    text = args.state if args.state is not None else config.state.path
    if not text:
        raise ConfigError("no state database: pass --state FILE.db or set state.path in the config")
    path = Path(text)
    if args.state_command == "info":
        return _info(path, output_format(args.format, "text"), config)
    if args.state_command == "stuck":
        return _stuck(path, args, config)
    return _forget(path, [_campaign(text) for text in args.campaigns])


def _info(path: Path, form: str, config: Config) -> int:
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        info = queries.database_info(connection, path)
        news = read_news(connection, path, stalled_after=config.phases.stalled_after)
    if form == "json":
        return write_lines(
            [_json_line(InfoAndHistory(**msgspec.structs.asdict(info), history=news))]
        )
    run = info.last_run
    pairs = [
        ("path", info.path),
        ("schema version", str(info.schema_version)),
        ("campaigns", str(info.campaigns)),
        ("devices", str(info.devices)),
        ("last run", "none" if run is None else run.run_id),
        *([] if run is None else [("  started at", run.started_at)]),
        *([] if run is None else [("  committed at", run.committed_at)]),
        ("size", f"{info.size_bytes} bytes (database and -wal file)"),
        ("stalled", f"{news.last_night.campaigns_stalled} campaigns"),
        ("last night", f"{news.last_night.new:,} new, {news.last_night.gone:,} gone"),
    ]
    width = max(len(key) for key, _ in pairs) + 2
    lines = [f"{f'{key}:':<{width}}{escape_controls(value)}\n" for key, value in pairs]
    return write_lines([*lines, *history_lines(news)])


class InfoAndHistory(queries.DatabaseInfo):
    """`state info --format json`: the database's numbers, and what its history says."""

    history: MorningNews


def _stuck(path: Path, args: argparse.Namespace, config: Config) -> int:
    longer_than = stuck_after_seconds(args.stuck_after)
    if args.limit is not None and args.limit < 1:
        raise ConfigError(
            f"--limit: {args.limit} lists nothing: give 1 or more, or no --limit for every one"
        )
    statuses = [s.strip() for given in args.status or () for s in given.split(",") if s.strip()]
    form = output_format(args.format, "table")
    phases = PhaseTable(config.phases)
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        if args.by == "campaign":
            campaigns = stuck_by_campaign(
                connection, path, longer_than_s=longer_than, phases=phases,
                statuses=statuses, limit=args.limit,
            )  # fmt: skip
            if form == "json":
                return write_lines(_json_line(campaign) for campaign in campaigns)
            return write_lines(campaign_table(campaigns))
        devices = queries.stuck_devices(
            connection, path, longer_than_s=longer_than, phases=phases, statuses=statuses,
            limit=args.limit,
        )  # fmt: skip
        if form == "json":
            return write_lines(_json_line(device) for device in devices)
        return write_lines(_table(devices))


# Hand-padded, not `rich`: a table of a million rows must stream, and a library sizes its
# columns from every row first. The widths fit ThingSpace's ids (an account of 10+5 digits,
# a UUID, an IMEI); a longer value shifts its own row only, and is never cut.
_COLUMNS: Final = (
    ("ACCOUNT", 16),
    ("UPGRADE ID", 36),
    ("DEVICE ID", 15),
    ("STATUS", 18),
    ("PHASE", 7),
    ("STATUS SINCE", 24),
    ("STUCK FOR", 0),
)


def _row(cells: Iterable[str]) -> str:
    padded = [f"{cell:<{width}}" for cell, (_, width) in zip(cells, _COLUMNS, strict=True)]
    return "  ".join(padded).rstrip() + "\n"


def _table(devices: Iterator[queries.StuckDevice]) -> Iterator[str]:
    yield _row(name for name, _ in _COLUMNS)
    count = 0
    for device in devices:
        count += 1
        stuck_for = stuck_for_text(device.stuck_for_s)
        cells = (
            device.account_name,
            device.upgrade_id,
            device.device_id,
            "(none)" if device.status is None else device.status,
            device.phase,
            "(unknown)" if device.status_since is None else device.status_since,
            stuck_for,
        )
        yield _row(map(escape_controls, cells))
    yield f"{count} device{'' if count == 1 else 's'}\n"


# --by campaign's table, as the devices' one: hand-padded, a longer value shifts its row only.
_CAMPAIGN_COLUMNS: Final = (
    ("ACCOUNT", 16),
    ("UPGRADE ID", 36),
    ("STUCK", 7),
    ("OLDEST SINCE", 24),
    ("STUCK FOR", 0),
)


def campaign_table(campaigns: Iterable[CampaignStuck]) -> Iterator[str]:
    """`state stuck --by campaign` on a terminal: a line per campaign, then the totals."""
    yield _padded(name for name, _ in _CAMPAIGN_COLUMNS)
    count = devices = 0
    for campaign in campaigns:
        count += 1
        devices += campaign.stuck
        cells = (
            escape_controls(campaign.account_name),
            escape_controls(campaign.upgrade_id),
            # Right-aligned under its header: counts are compared down the column.
            f"{campaign.stuck:>{len('STUCK')}}",
            campaign.oldest_status_since or "(unknown)",
            stuck_for_text(campaign.longest_stuck_for_s),
        )
        yield _padded(cells)
    plural = "" if count == 1 else "s"
    yield f"{count} campaign{plural}, {devices} stuck device{'' if devices == 1 else 's'}\n"


def _padded(cells: Iterable[str]) -> str:
    columns = _CAMPAIGN_COLUMNS
    padded = [f"{cell:<{width}}" for cell, (_, width) in zip(cells, columns, strict=True)]
    return "  ".join(padded).rstrip() + "\n"


def stuck_for_text(seconds: int | None) -> str:
    """How long, as the tables write it: `8d 03h`; `(unknown)` for a time that is none."""
    if seconds is None:
        return "(unknown)"
    days, rest = divmod(seconds, _SECONDS_PER_DAY)
    return f"{days}d {rest // 3600:02d}h"


def _campaign(text: str) -> tuple[str | None, str]:
    """(account or None, upgrade id) of a CAMPAIGN argument; a `ConfigError` when it is none."""
    account, comma, upgrade = text.rpartition(",")
    upgrade_id = canonical_upgrade_id(upgrade.strip())
    if upgrade_id is None:
        raise ConfigError(f"campaign {excerpt(text)}: {excerpt(upgrade)} is not an upgrade id")
    if not comma:
        return None, upgrade_id
    if not ACCOUNT_PATTERN.fullmatch(account.strip()):
        raise ConfigError(f"campaign {excerpt(text)}: {excerpt(account)} is not an account name")
    return account.strip(), upgrade_id


def _forget(path: Path, wanted: list[tuple[str | None, str]]) -> int:
    # Opened (and refused, when it cannot be used) before its lock file appears beside it;
    # the lock is the one a `poll --state` holds for its whole run: never remove beside one.
    with (
        contextlib.closing(open_database(path, create=False)) as connection,
        StateStore.reserve(path),
    ):
        removed, missing = queries.forget_campaigns(connection, path, wanted)
    for account, upgrade_id in missing:
        named = upgrade_id if account is None else f"{account},{upgrade_id}"
        say(f"fota-poller: campaign {named} is not in {path}")
    code = write_lines(
        f"forgot {gone.account_name},{gone.upgrade_id}: {gone.devices} devices\n"
        for gone in removed
    )
    return code or (int(ExitCode.CAMPAIGNS_FAILED) if missing else 0)


def _json_line(value: msgspec.Struct) -> str:
    """One JSON line, U+2028 and U+2029 escaped as in `poll`'s records (output/sink.py)."""
    return escape_line_separators(msgspec.json.encode(value)).decode() + "\n"
