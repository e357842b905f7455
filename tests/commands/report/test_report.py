"""`fota-poller report`: the page written whole, its worst night, and its refusals in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import msgspec
import pytest
from helpers import ACCOUNT, OTHER_UPGRADE, UPGRADE, write_campaign

from fota_poller.cli import main
from fota_poller.model.records import CampaignRecord, RunRecord

NOW = datetime.now(UTC)


def campaign_line(upgrade: str, **changes: object) -> bytes:
    fields: dict[str, object] = dict.fromkeys(CampaignRecord.__struct_fields__)
    fields.update(
        run_id="r", outcome="ok", attempts=1, account_name=ACCOUNT, upgrade_id=upgrade,
        campaign_status="InProgress", firmware_to="FW-2", device_count=4,
        device_status_counts={"RequestPending": 3, "UpgradeFailed": 1},
        device_phase_counts={"pending": 3, "failed": 1}, devices_duplicate=0,
    )  # fmt: skip
    fields.update(changes)
    return msgspec.json.encode(CampaignRecord(**fields)) + b"\n"  # type: ignore[arg-type]


def run_line(*, complete: bool = True) -> bytes:
    run = RunRecord(
        "r", 2, "2026-11-26T02:00:00.000Z", "2026-11-26T02:05:00.000Z", 300.0, 2, 2, 0, 8, 2, 0,
        complete=complete, exit_code=0 if complete else 1,
    )  # fmt: skip
    return msgspec.json.encode(run) + b"\n"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    write_campaign(path, ACCOUNT, UPGRADE, [
        ("pending-8d", "RequestPending", None, NOW - timedelta(days=8)),
        ("pending-9d", "RequestPending", None, NOW - timedelta(days=9)),
        ("pending-1d", "RequestPending", None, NOW - timedelta(days=1)),
        ("failed-3d", "UpgradeFailed", None, NOW - timedelta(days=3)),
    ])  # fmt: skip
    return path


class Numbers(HTMLParser):
    """Each `data-json` key of a page and the text it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002 - HTMLParser calls it so
        self._open = dict(attrs).get("data-json")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.found[self._open] = data
            self._open = None


def numbers(page: str) -> dict[str, str]:
    parser = Numbers()
    parser.feed(page)
    return parser.found


def summary_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    main(["summary", *args, "--format", "json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_the_page_replaces_the_old_one_whole_and_its_counts_are_summarys(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "night.jsonl"
    records.write_bytes(campaign_line(UPGRADE) + run_line())
    page = tmp_path / "report.html"
    page.write_text("yesterday's page")

    assert main(["report", str(records), "--state", str(state), "-o", str(page)]) == 0

    assert not [path for path in tmp_path.iterdir() if path.suffix == ".tmp"]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    summary = summary_json(capsys, str(records), "--state", str(state))
    found = numbers(html)
    assert found["devices.phases.pending"] == str(summary["devices"]["phases"]["pending"]) == "3"
    assert found["devices.total"] == "4"
    assert summary["rows"][0]["stuck"] == 2
    assert '<td class="n" data-f="stuck">2</td>' in html


def test_a_night_cut_short_with_a_failed_poll_is_drawn_as_one_that_needs_a_look(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "night.jsonl"
    failed = campaign_line(
        OTHER_UPGRADE, outcome="failed", error_kind="http_error", device_count=None,
        device_status_counts=None, device_phase_counts=None,
    )  # fmt: skip
    records.write_bytes(campaign_line(UPGRADE) + failed + b"not a record\n")  # no run line
    page = tmp_path / "report.html"

    assert main(["report", str(records), "--state", str(state), "-o", str(page)]) == 0

    html = page.read_text()
    assert "no run line: the run did not finish" in html
    assert "the night needs a look" in html
    assert "poll failed: http_error" in html
    assert numbers(html)["campaigns.failed"] == "1"
    # Failed polls come first, as in summary.
    summary = summary_json(capsys, str(records), "--state", str(state))
    assert summary["rows"][0]["upgrade_id"] == OTHER_UPGRADE
    assert html.index(f'"id">{OTHER_UPGRADE}<') < html.index(f'"id">{UPGRADE}<')


def test_dash_writes_the_page_on_stdout(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "night.jsonl"
    records.write_bytes(campaign_line(UPGRADE) + run_line())

    assert main(["report", str(records), "--state", str(state), "-o", "-"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>")
    assert out.endswith("</html>\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--limit", "-1"], "--limit: -1 is negative"),
        (["--nights", "0"], "--nights: 0 is not a number of nights"),
        (["--stuck-after", "soon"], "--stuck-after: not a duration"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    records = tmp_path / "night.jsonl"
    records.write_bytes(run_line())
    page = tmp_path / "report.html"

    assert main(["report", str(records), "--state", str(state), "-o", str(page), *args]) == 2

    err = capsys.readouterr().err
    assert err.startswith("fota-poller: ")
    assert expected in err
    assert err.count("\n") == 1
    assert not page.exists()


def test_no_state_database_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FOTA_POLLER_CONFIG", raising=False)
    records = tmp_path / "night.jsonl"
    records.write_bytes(run_line())
    config = tmp_path / "none.toml"
    config.write_text("")

    code = main(["report", str(records), "-o", str(tmp_path / "r.html"), "-c", str(config)])

    assert code == 2
    assert capsys.readouterr().err == (
        "fota-poller: report: no state database: give --state FILE.db (or state.path)\n"
    )


def test_records_or_a_state_that_cannot_be_read_are_one_line_and_exit_2(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    missing = tmp_path / "missing.jsonl"
    assert main(["report", str(missing), "--state", str(state), "-o", str(page)]) == 2
    assert "report: cannot read" in capsys.readouterr().err

    records = tmp_path / "night.jsonl"
    records.write_bytes(run_line())
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"not a database at all, but long enough to have a header" * 4)
    assert main(["report", str(records), "--state", str(bogus), "-o", str(page)]) == 2
    assert "bogus.db" in capsys.readouterr().err
    assert not page.exists()


def test_an_output_that_is_a_link_or_a_folder_is_refused_and_left_as_it_was(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "night.jsonl"
    records.write_bytes(campaign_line(UPGRADE) + run_line())
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "report.html"
    link.symlink_to(target)

    assert main(["report", str(records), "--state", str(state), "-o", str(link)]) == 74
    err = capsys.readouterr().err
    assert err.startswith(f"fota-poller: cannot write output {link}: ")
    assert "symbolic link" in err
    assert target.read_text() == "keep me"
    assert link.is_symlink()

    folder = tmp_path / "missing" / "report.html"
    assert main(["report", str(records), "--state", str(state), "-o", str(folder)]) == 74
    assert "No such file or directory" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize(
    ("stdout", "code", "said"),
    [
        ("gone", 141, ""),  # the reader quit before the page
        ("closed", 141, "fota-poller: cannot write output -: stdout is closed\n"),
        ("full", 74, "fota-poller: writing stdout: No space left on device\n"),
    ],
)
def test_a_page_on_stdout_nobody_can_take_is_its_exit_code_and_no_traceback(
    tmp_path: Path, state: Path, stdout: str, code: int, said: str
) -> None:
    records = tmp_path / "night.jsonl"
    records.write_bytes(campaign_line(UPGRADE) + run_line())
    command = [sys.executable, "-m", "fota_poller", "report", str(records), "--state", str(state)]
    command += ["-o", "-"]
    if stdout == "closed":
        done = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", *command], capture_output=True, check=False
        )
    elif stdout == "full":
        with Path("/dev/full").open("wb") as full:
            done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, check=False)
    else:
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, check=False)
        finally:
            os.close(write_end)

    assert (done.returncode, done.stderr.decode()) == (code, said)
