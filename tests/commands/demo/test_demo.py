"""`fota-poller demo` end to end, as `make demo` runs it (smaller)."""

from __future__ import annotations

from pathlib import Path

from helpers import parse_output, run_cli


def test_demo_writes_every_campaign_and_a_complete_run(tmp_path: Path) -> None:
    output = tmp_path / "demo.jsonl"
    result = run_cli(["demo", "--campaigns", "25", "--output", str(output)])
    assert result.returncode == 0, result.stderr.decode()
    records = parse_output(output.read_bytes())
    assert len(records.campaigns) == 25
    assert all(c.outcome == "ok" for c in records.campaigns)
    assert len(records.devices) == records.run.devices_total > 0
    assert records.run.complete is True
    summary = result.stderr.decode()
    assert "25 ok, 0 failed" in summary
    assert result.stdout == b""
