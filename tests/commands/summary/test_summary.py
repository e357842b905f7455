"""`fota-poller summary` on a real night: the 300-campaign demo's records, and its worst nights."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from helpers import PollOutput, clean_environ, parse_output, run_cli, run_on_a_terminal

from fota_poller.cli import main
from fota_poller.model.records import CampaignRecord
from fota_poller.summary.render import CSV_COLUMNS


def worst_first(campaign: CampaignRecord) -> tuple[float, int, int, str, str]:
    """The default order: failed share among campaigns of 20 devices or more, then count."""
    phases = campaign.device_phase_counts or {}
    account, upgrade = campaign.account_name or "", campaign.upgrade_id or ""
    failed, devices = phases.get("failed", 0), campaign.device_count or 0
    share = failed / devices if devices >= 20 else 0.0
    return (-share, -failed, -phases.get("pending", 0), account, upgrade)


HOSTILE = "\x1b[2J[bold]Pwned\u2028"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's records: 300 campaigns polled from the simulator through the real poll path."""
    path = tmp_path_factory.mktemp("night") / "demo.jsonl"
    result = run_cli(["demo", "--campaigns", "300", "--output", str(path)], timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return path


@pytest.fixture(scope="module")
def records(night: Path) -> PollOutput:
    return parse_output(night.read_bytes())


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["summary", *args])
    out, err = capsys.readouterr()
    return code, out, err


def with_lines(night: Path, target: Path, *extra: bytes, keep_run: bool = True) -> Path:
    """The night with `extra` lines before its run line (or instead of it)."""
    lines = night.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join([*lines[:-1], *extra, *(lines[-1:] if keep_run else [])]))
    return target


def failed_campaign(run_id: str, **changes: object) -> bytes:
    fields: dict[str, object] = dict.fromkeys(CampaignRecord.__struct_fields__)
    fields.update(run_id=run_id, outcome="failed", attempts=3, error_kind="timeout")
    fields.update(
        account_name="0000123456-00001", upgrade_id="0" * 8 + "-0000-4000-8000-" + "0" * 12
    )
    fields.update(changes)
    return msgspec.json.encode(CampaignRecord(**fields)) + b"\n"  # type: ignore[arg-type]


def test_json_when_piped_gives_every_campaign_worst_first_and_the_totals_of_the_records(
    capsys: pytest.CaptureFixture[str], night: Path, records: PollOutput
) -> None:
    code, out, err = summary(capsys, str(night))
    assert (code, err) == (0, "")
    document = json.loads(out)
    campaigns = records.campaigns
    assert len(document["rows"]) == len(campaigns) == 300
    assert {r["upgrade_id"] for r in document["rows"]} == {c.upgrade_id for c in campaigns}
    by_id = {campaign.upgrade_id: campaign for campaign in campaigns}
    assert [row["upgrade_id"] for row in document["rows"]] == [
        c.upgrade_id for c in sorted(campaigns, key=worst_first)
    ]
    assert document["rows"][0]["failed"] > 0
    assert worst_first(by_id[document["rows"][0]["upgrade_id"]])[0] < 0  # a share, not a count
    phases: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for campaign in campaigns:
        phases.update(campaign.device_phase_counts or {})
        statuses.update(campaign.device_status_counts or {})
    assert document["devices"]["total"] == records.run.devices_total == len(records.devices)
    assert {k: v for k, v in document["devices"]["phases"].items() if v} == dict(phases)
    under = Counter(
        {s: n for group in document["devices"]["statuses"].values() for s, n in group.items()}
    )
    assert under == statuses
    assert document["run"]["finished"]
    assert document["run"]["complete"]
    assert document["run"]["run_id"] == records.run.run_id


def test_csv_is_a_header_and_one_row_per_campaign(
    capsys: pytest.CaptureFixture[str], night: Path, records: PollOutput
) -> None:
    code, out, _ = summary(capsys, str(night), "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0
    assert tuple(rows[0]) == CSV_COLUMNS
    by_id = {c.upgrade_id: c for c in records.campaigns}
    assert len(rows) - 1 == len(by_id) == 300
    for row in map(dict, (zip(CSV_COLUMNS, r, strict=True) for r in rows[1:])):
        campaign = by_id[row["upgrade_id"]]
        assert int(row["failed"]) == (campaign.device_phase_counts or {}).get("failed", 0)
        assert int(row["devices"]) == campaign.device_count


def test_markdown_is_a_table_of_the_worst_fifty_then_the_totals(
    capsys: pytest.CaptureFixture[str], night: Path
) -> None:
    code, out, _ = summary(capsys, str(night), "--format", "markdown")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("| account | upgrade |")
    assert lines[1] == "|" + "---|" * lines[0].count(" | ") + "---|"
    table = lines[2 : lines.index("")]
    assert len(table) == 50
    assert all(line.count(" | ") == lines[0].count(" | ") for line in table)
    assert "- campaigns: 300 (0 failed to poll)" in lines


def test_on_a_pty_it_prints_the_table_worst_first(night: Path, records: PollOutput) -> None:
    env = {**clean_environ(), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.pop("COLUMNS", None)
    argv = [sys.executable, "-m", "fota_poller", "summary", str(night)]
    code, out = run_on_a_terminal(argv, env, stderr=False, rows=50, columns=160)
    text = out.decode()
    assert code == 0, text
    assert "campaigns of account 0000123456-00001, worst failed share first (50 of 300" in text
    worst = min(records.campaigns, key=worst_first)
    assert worst.upgrade_id is not None
    header = text.index("upgrade ")
    first_row = text[header:].splitlines()[2]  # the header, its rule, then the worst
    assert first_row.startswith(worst.upgrade_id[:8] + " ")
    assert "devices by phase" in text
    assert f"run {records.run.run_id}: complete" in text
    assert not text.lstrip().startswith("{")  # not the JSON a pipe gets


def test_failed_only_keeps_failed_polls_first_then_campaigns_with_failed_devices(
    capsys: pytest.CaptureFixture[str], night: Path, records: PollOutput, tmp_path: Path
) -> None:
    path = with_lines(night, tmp_path / "n.jsonl", failed_campaign(records.run.run_id))
    code, out, _ = summary(capsys, str(path), "--failed-only")
    document = json.loads(out)
    expected = {
        c.upgrade_id for c in records.campaigns if (c.device_phase_counts or {}).get("failed")
    }
    assert code == 1  # a campaign's poll failed
    assert document["rows"][0]["outcome"] == "failed"
    assert document["rows"][0]["error_kind"] == "timeout"
    assert {r["upgrade_id"] for r in document["rows"][1:]} == expected
    assert document["campaigns"]["failed_by_error_kind"] == {"timeout": 1}
    assert all(r["failed"] > 0 for r in document["rows"][1:])


def test_a_good_night_with_no_failed_device_lists_nothing_with_failed_only(
    capsys: pytest.CaptureFixture[str], night: Path, tmp_path: Path
) -> None:
    run_line = night.read_bytes().splitlines()[-1]
    path = tmp_path / "only-run.jsonl"
    path.write_bytes(run_line + b"\n")
    code, out, _ = summary(capsys, str(path), "--failed-only", "--format", "csv")
    assert code == 0
    assert out.splitlines() == [",".join(CSV_COLUMNS)]


@pytest.mark.parametrize("form", ["table", "markdown", "json"])
def test_a_hostile_status_never_reaches_the_terminal_raw(
    capsys: pytest.CaptureFixture[str], records: PollOutput, night: Path, tmp_path: Path, form: str
) -> None:
    line = failed_campaign(
        records.run.run_id, outcome="ok", error_kind=None, campaign_status=HOSTILE,
        device_count=2, device_status_counts={HOSTILE: 2}, device_phase_counts={"unknown": 2},
    )  # fmt: skip
    path = with_lines(night, tmp_path / "n.jsonl", line)
    code, out, _ = summary(capsys, str(path), "--format", form, "--limit", "0")
    assert code == 0
    assert "\x1b" not in out
    assert "\u2028" not in out
    if form != "json":
        assert "\\x1b[2J[bold]Pwned\\u2028" in out
    else:
        assert HOSTILE in json.loads(out)["devices"]["statuses"]["unknown"]


def test_csv_quotes_a_hostile_value_and_gives_it_back_whole(
    capsys: pytest.CaptureFixture[str], records: PollOutput, night: Path, tmp_path: Path
) -> None:
    status = 'a,"b"\nc'
    path = with_lines(
        night, tmp_path / "n.jsonl", failed_campaign(records.run.run_id, campaign_status=status)
    )
    _, out, _ = summary(capsys, str(path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 301
    assert rows[0]["campaign_status"] == status


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_a_spreadsheet_would_run_as_a_formula_start_with_a_quote(
    capsys: pytest.CaptureFixture[str], records: PollOutput, night: Path, tmp_path: Path, start: str
) -> None:
    status = f'{start}HYPERLINK("http://x","y")'
    hostile = failed_campaign(
        records.run.run_id, campaign_status=status, account_name="@SUM(1+1)", attempts=2
    )
    path = with_lines(night, tmp_path / "n.jsonl", hostile)
    _, out, _ = summary(capsys, str(path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    row = next(r for r in rows if r["account_name"].endswith("1+1)"))
    assert (row["campaign_status"], row["account_name"]) == (f"'{status}", "'@SUM(1+1)")
    # Counts are numbers, never prefixed; every other cell starts with what it was.
    assert all(r["devices"].lstrip("-").isdigit() or r["devices"] == "" for r in rows)
    assert not any(r["campaign_status"].startswith("'") for r in rows if r is not row)


def test_a_truncated_night_has_no_run_line_and_exits_1(
    capsys: pytest.CaptureFixture[str], night: Path, tmp_path: Path
) -> None:
    data = night.read_bytes()
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[: len(data) // 2])
    code, out, err = summary(capsys, str(path))
    document = json.loads(out)
    assert code == 1
    assert document["exit_code"] == 1
    assert document["run"] == {"finished": False}
    assert 0 < document["campaigns"]["total"] < 300
    assert "Traceback" not in err


def test_bad_lines_are_counted_in_one_stderr_line_not_a_traceback(
    night: Path, records: PollOutput, tmp_path: Path
) -> None:
    path = with_lines(
        night, tmp_path / "n.jsonl", b"not json\n", b'{"record":"campaign","run_id":\n'
    )
    result = run_cli(["summary", str(path)])
    err = result.stderr.decode()
    assert result.returncode == 1
    assert err.count("\n") == 1
    assert "2 line(s)" in err
    assert "Traceback" not in err
    document = json.loads(result.stdout)
    assert document["bad_lines"] == 2
    assert len(document["rows"]) == 300


def test_dash_reads_stdin(night: Path) -> None:
    from_stdin = run_cli(["summary", "-"], stdin=night.read_bytes())
    from_file = run_cli(["summary", str(night)])
    assert from_stdin.returncode == from_file.returncode == 0
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)


def test_an_unreadable_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(["summary", str(tmp_path / "missing.jsonl")])
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1
    assert "missing.jsonl" in result.stderr.decode()
    result = run_cli(["summary", str(tmp_path)])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr.decode()


def test_a_schema_1_night_gets_its_phases_from_the_statuses(
    capsys: pytest.CaptureFixture[str], night: Path, tmp_path: Path
) -> None:
    version_1 = []
    for line in night.read_bytes().splitlines():
        record = json.loads(line)
        if record["record"] == "campaign":
            for key in ("device_phase_counts", "devices_new", "devices_changed", "devices_gone"):
                del record[key]
        version_1.append(json.dumps(record).encode())
    path = tmp_path / "v1.jsonl"
    path.write_bytes(b"\n".join(version_1) + b"\n")
    _, out_1, _ = summary(capsys, str(path))
    _, out_2, _ = summary(capsys, str(night))
    assert json.loads(out_1)["devices"] == json.loads(out_2)["devices"]
    assert json.loads(out_1)["devices"]["phases"]["failed"] > 0


def test_a_bad_stuck_after_is_one_line_exit_2(night: Path) -> None:
    result = run_cli(["summary", str(night), "--stuck-after", "a week"])
    assert result.returncode == 2
    assert "--stuck-after" in result.stderr.decode()


def test_run_record_is_what_the_json_reports(
    capsys: pytest.CaptureFixture[str], night: Path, records: PollOutput
) -> None:
    _, out, _ = summary(capsys, str(night))
    run = json.loads(out)["run"]
    assert run.pop("finished") is True
    assert run == {key: getattr(records.run, key) for key in run}
    assert set(run) >= {"run_id", "complete", "exit_code", "campaigns_failed", "devices_total"}


def test_a_limit_over_many_campaigns_keeps_exactly_the_worst_of_the_full_sort(
    capsys: pytest.CaptureFixture[str], night: Path, tmp_path: Path
) -> None:
    # 6,000 campaigns: past the point where the kept rows are pruned to the worst (4,096).
    campaigns = [json.loads(line) for line in night.read_bytes().splitlines()[:-1]]
    campaigns = [c for c in campaigns if c["record"] == "campaign"]
    path = tmp_path / "many.jsonl"
    with path.open("w") as out:
        for number in range(6000):
            record = dict(campaigns[number % len(campaigns)])
            record["upgrade_id"] = f"{number:08x}-0000-4000-8000-000000000000"
            out.write(json.dumps(record) + "\n")
        out.write(night.read_text().splitlines()[-1] + "\n")
    _, every, _ = summary(capsys, str(path), "--limit", "0")
    _, worst, _ = summary(capsys, str(path), "--limit", "7")
    assert len(json.loads(every)["rows"]) == 6000
    assert json.loads(worst)["rows"] == json.loads(every)["rows"][:7]
    assert json.loads(worst)["campaigns"]["total"] == 6000
