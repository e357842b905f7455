"""A state file edited by hand (or by another program) through the CLI: nights and transitions of
the history holding values of other types or out of range, and blobs or text that is not UTF-8
where statuses and names were written. Every command that reads them (`summary --state`, `state
info`, `state stuck`, `report`, and the next `poll --state`) exits as on a clean file, with no
traceback: such a night is unknown to its readers (state/recent.py, `readable_night`), such
transitions too, and a blob is no status or name (schema.py, `stored_text`), nor text that is
not UTF-8 (binding.py, `lenient_text`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest
from helpers import poll_cli, token_environ

from fota_poller.cli import main


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _spoil(path) -> None:
    """Spoil the first four campaigns' nights of the last run, and two campaigns' moves."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        last = db.execute("SELECT max(run) FROM runs").fetchone()[0]
        for key, (column, value) in enumerate(
            [("succeeded", "x"), ("polled_ms", "yesterday"), ("devices", 2**62), ("quiet", -3)],
            start=1,
        ):
            db.execute(
                f"UPDATE history SET {column} = ? WHERE run = ? AND campaign = ?",
                (value, last, key),
            )
        db.execute("UPDATE campaigns SET transitions = '{not json' WHERE campaign = 5")
        db.execute("UPDATE campaigns SET transitions = 7 WHERE campaign = 6")
        # Text that is not UTF-8 (`["\xff"]`): sqlite3 refused the whole query on it.
        db.execute(
            "UPDATE campaigns SET transitions = CAST(X'5B22FF225D' AS TEXT) WHERE campaign = 7"
        )
        # The oldest run's times are no times: retention must still get past it.
        db.execute("UPDATE history SET polled_ms = 'long ago' WHERE run = 1")


async def _nights(simulator, tmp_path, count):
    """`count` nights polled with --state: the ids, the database, the last night's file."""
    ids, path, night = tmp_path / "ids.csv", tmp_path / "state.db", tmp_path / "night.jsonl"
    ids.write_text("".join(f"{a},{u}\n" for a, u in simulator.catalog.ids()))
    flags = ("--rate", "0", "--state", str(path), "--output", str(night))
    for _ in range(count):
        polled = await poll_cli(simulator, ids, *flags, env=token_environ(simulator.options))
        assert polled.returncode == 0, polled.stderr.decode()[-2000:]
    return ids, path, night, flags


async def test_every_command_reads_a_history_edited_by_hand_without_a_crash(
    small_simulator, tmp_path, capsys
):
    served = list(small_simulator.catalog.ids())
    ids, path, night, flags = await _nights(small_simulator, tmp_path, 3)
    env = token_environ(small_simulator.options)
    _spoil(path)

    summary = _cli(capsys, "summary", str(night), "--state", str(path), "--format", "json")
    info = _cli(capsys, "state", "info", "--state", str(path), "--format", "json")
    page = tmp_path / "report.html"
    report = _cli(capsys, "report", str(night), "--state", str(path), "-o", str(page))
    polled = await poll_cli(small_simulator, ids, *flags, env=env)

    for code, _, err in (summary, info, report):
        assert code == 0, err
        assert "Traceback" not in err
    assert polled.returncode == 0, polled.stderr.decode()[-2000:]
    assert b"Traceback" not in polled.stderr
    # The spoiled campaigns have no trend; the others keep theirs.
    news = json.loads(info[1])["history"]["campaigns"]
    assert len(news) == len(served) - 4
    # The poll after it wrote every campaign, with a trend from tonight on for the spoiled.
    campaigns = [json.loads(line) for line in night.read_text().splitlines()]
    campaigns = [c for c in campaigns if c["record"] == "campaign"]
    assert len(campaigns) == len(served)
    assert all(c["nights_without_progress"] is not None for c in campaigns)
    # Retention got past the run whose times were no times (history_days 180).
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT min(run) FROM history").fetchone()[0] > 1


# A blob, or text that is not UTF-8 (which sqlite3 refuses to decode, failing the query).
@pytest.mark.parametrize("spoilt", ["?", "CAST(? AS TEXT)"], ids=["blob", "text-not-utf8"])
async def test_blobs_or_bad_text_where_statuses_and_names_were_written_are_unknown(
    small_simulator, tmp_path, capsys, spoilt
):
    ids, path, night, flags = await _nights(small_simulator, tmp_path, 2)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        blob = b"\xff\xfe"
        db.execute(
            f"UPDATE devices SET status = {spoilt}, result_reason = {spoilt} WHERE campaign = 1",
            (blob,) * 2,
        )
        db.execute(f"UPDATE campaigns SET account_name = {spoilt} WHERE campaign = 2", (blob,))
        devices = db.execute("SELECT count(*) FROM devices WHERE campaign = 1").fetchone()[0]
        spoiled = db.execute("SELECT upgrade_id FROM campaigns WHERE campaign = 1").fetchone()[0]

    stuck = _cli(capsys, "state", "stuck", "--state", str(path), "--stuck-after", "0s")
    by_campaign = _cli(
        capsys, "state", "stuck", "--state", str(path), "--stuck-after", "0s", "--by", "campaign"
    )
    page = tmp_path / "report.html"
    report = _cli(capsys, "report", str(night), "--state", str(path), "-o", str(page))
    polled = await poll_cli(
        small_simulator, ids, *flags, env=token_environ(small_simulator.options)
    )

    for code, _, err in (stuck, by_campaign, report):
        assert code == 0, err
        assert "Traceback" not in err
    assert polled.returncode == 0, polled.stderr.decode()[-2000:]
    assert b"Traceback" not in polled.stderr
    # Campaign 1's devices were read with no status: listed as stuck in no phase (unknown).
    listed = [json.loads(line) for line in stuck[1].splitlines()]
    assert sum(line["status"] is None for line in listed) == devices
    # The poll after it compared them as devices of no known status: each one changed.
    records = [json.loads(line) for line in night.read_text().splitlines()]
    compared = [r for r in records if r["record"] == "device" and r["upgrade_id"] == spoiled]
    assert len(compared) == devices
    assert {(r["previous_status"], r["change"]) for r in compared} == {(None, "changed")}
