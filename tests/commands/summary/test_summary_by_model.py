"""`summary --by model` and the late successes, from campaign lines this test writes itself.

The lines carry what `poll --inventory` writes (schema 3: `inventory`, `devices_on_target`,
`devices_late`, `devices_not_in_inventory`, `device_models`); the truth each test compares
with is computed here from the lines it wrote, never from `summary`'s own code.
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from helpers import clean_environ

from fota_poller.cli import main
from fota_poller.summary.by_model import MODEL_COLUMNS
from fota_poller.summary.models import MAX_MODELS
from fota_poller.summary.render import CSV_COLUMNS

PHASES = ("succeeded", "failed", "pending", "unknown")
MODELS = ("Model-A", "Model-B", "Model-C", "Model-F")  # Model-F fails far more often
HOSTILE = "\x1b[2J[bold]Pwned\u2028"
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)


def campaign(
    number: int,
    models: dict[str, dict[str, int]] | None,
    *,
    inventory: str | None = "ok",
    missing: dict[str, int] | None = None,
    schema: int = 3,
) -> dict[str, object]:
    """A campaign line: its phases are its models' plus `missing` (devices in no inventory)."""
    phases: Counter[str] = Counter(dict.fromkeys(PHASES, 0))
    for counts in (models or {}).values():
        phases.update({phase: counts.get(phase, 0) for phase in PHASES})
    phases.update(missing or {})
    line: dict[str, object] = {
        "record": "campaign",
        "run_id": "run-1",
        "outcome": "ok",
        "account_name": "0000123456-00001",
        "upgrade_id": f"u{number:05d}",
        "campaign_status": "CampaignEnded",
        "firmware_to": "FW-02",
        "campaign_ended": True,
        "device_count": sum(phases.values()),
        "device_status_counts": {"UpgradeSuccess": phases["succeeded"]},
    }
    if schema >= 2:
        line["device_phase_counts"] = dict(phases)
        line.update(devices_new=None, devices_changed=None, devices_gone=None)
    if schema >= 3:
        known = models is not None
        line.update(
            inventory=inventory,
            devices_on_target=sum(m["on_target"] for m in models.values()) if known else None,
            devices_late=sum(m.get("late", 0) for m in models.values()) if known else None,
            devices_not_in_inventory=sum((missing or {}).values()) if known else None,
            device_models=models,
        )
    return line


def write_night(path: Path, campaigns: list[dict[str, object]], *, schema: int = 3) -> Path:
    """The night's JSONL: campaign lines, a device line after each (skipped unread), the run."""
    device = b'{"record":"device","device_id":"1","model":"Model-A"}\n'
    run = {"record": "run", "run_id": "run-1", "complete": True, "exit_code": 0}
    run["schema_version"] = schema
    with path.open("wb") as out:
        for line in campaigns:
            out.write(msgspec.json.encode(line) + b"\n" + device)
        out.write(msgspec.json.encode(run) + b"\n")
    return path


def model_counts(draw: random.Random, model: str, *, late: bool = True) -> dict[str, int]:
    devices = draw.randint(1, 30)
    failed = draw.randint(0, devices // (2 if model == "Model-F" else 8))
    pending = draw.randint(0, devices - failed)
    unknown = draw.randint(0, devices - failed - pending)
    succeeded = devices - failed - pending - unknown
    late_count = draw.randint(0, pending)
    counts = {"succeeded": succeeded, "failed": failed, "pending": pending, "unknown": unknown}
    counts["on_target"] = succeeded + late_count
    if late:
        counts["late"] = late_count
    return counts


def random_night(seed: int, campaigns: int = 40) -> list[dict[str, object]]:
    draw = random.Random(seed)
    lines = []
    for number in range(campaigns):
        models = {m: model_counts(draw, m) for m in draw.sample(MODELS, draw.randint(1, 4))}
        missing = {"pending": draw.randint(0, 3), "failed": draw.randint(0, 1)}
        lines.append(campaign(number, models, missing=missing))
    return lines


def truth(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every model's row, worst failed share first, as the issue defines them."""
    totals: dict[str, Counter[str]] = {}
    for line in lines:
        models = line.get("device_models")
        assert models is None or isinstance(models, dict)
        for name, counts in (models or {}).items():
            totals.setdefault(name, Counter()).update(counts)
    rows = []
    for name, counts in totals.items():
        devices = sum(counts[phase] for phase in PHASES)
        rows.append({
            "model": name, "inventory": "ok", "devices": devices,
            "failed_share": round(counts["failed"] / devices, 4) if devices else None,
            **{phase: counts[phase] for phase in PHASES},
            "on_target": counts["on_target"], "late": counts["late"],
        })  # fmt: skip
    return sorted(rows, key=lambda r: (-r["failed"] / r["devices"], -r["failed"], r["model"]))


def group_row(inventory: str, phases: Counter[str]) -> dict[str, object]:
    devices = sum(phases[phase] for phase in PHASES)
    return {
        "model": None, "inventory": inventory, "devices": devices,
        "failed_share": round(phases["failed"] / devices, 4) if devices else None,
        **{phase: phases[phase] for phase in PHASES}, "on_target": None, "late": None,
    }  # fmt: skip


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["summary", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_rows_equal_the_truth_worst_first_then_the_devices_in_no_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = random_night(7)
    path = write_night(tmp_path / "night.jsonl", lines)
    code, out, err = summary(capsys, str(path), "--by", "model", "--format", "json")
    document = json.loads(out)
    missing: Counter[str] = Counter()
    for line in lines:
        phases = line["device_phase_counts"]
        assert isinstance(phases, dict)
        missing.update(phases)
        for counts in line["device_models"].values():  # type: ignore[union-attr]
            missing.subtract({phase: counts[phase] for phase in PHASES})
    assert (code, err) == (0, "")
    assert document["rows"] == [*truth(lines), group_row("missing", missing)]
    assert document["rows"][0]["model"] == "Model-F"
    assert sum(row["devices"] for row in document["rows"]) == document["devices"]["total"]
    assert document["models"] == {
        "total": 4, "shown": 4, "folded": False,
        "campaigns_with_models": 40, "campaigns_without_models": 0,
    }  # fmt: skip


def test_csv_markdown_and_the_table_give_the_same_rows_in_the_same_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = random_night(8)
    path = write_night(tmp_path / "night.jsonl", lines)
    expected = [(r["model"], r["devices"], r["failed"], r["late"]) for r in truth(lines)]

    _, out, _ = summary(capsys, str(path), "--by", "model", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == MODEL_COLUMNS
    got = [(r["model"], int(r["devices"]), int(r["failed"]), int(r["late"])) for r in rows[:4]]
    assert got == expected
    assert rows[4]["model"] == ""
    assert rows[4]["inventory"] == "missing"

    _, out, _ = summary(capsys, str(path), "--by", "model", "--format", "markdown")
    table = [line.split(" | ") for line in out.splitlines()[2:6]]
    assert [(c[0][2:], int(c[1]), int(c[4]), int(c[8][:-2])) for c in table] == expected
    assert out.splitlines()[6].startswith("| (not in the device list) |")
    assert "- models: 4 of 4 shown" in out.splitlines()

    _, out, _ = summary(capsys, str(path), "--by", "model", "--format", "table")
    assert "models, worst failed share first (4 of 4 shown)" in out
    table = [line.split() for line in out.splitlines() if line.strip().startswith("Model-")]
    assert [(c[0], int(c[1]), int(c[4]), int(c[8])) for c in table] == expected
    assert "(not in the device list)" in out


def test_late_successes_per_campaign_and_in_the_totals_of_the_default_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = random_night(9, campaigns=12)
    path = write_night(tmp_path / "night.jsonl", lines)
    late = {line["upgrade_id"]: line["devices_late"] for line in lines}
    total_late = sum(v for v in late.values() if isinstance(v, int))
    assert total_late > 0

    _, out, _ = summary(capsys, str(path), "--format", "json")
    document = json.loads(out)
    assert {row["upgrade_id"]: row["devices_late"] for row in document["rows"]} == late
    assert document["devices"]["late"] == total_late
    assert document["devices"]["on_target"] == sum(
        line["devices_on_target"]
        for line in lines  # type: ignore[misc]
    )
    assert document["campaigns"]["inventory_failed"] == 0

    _, out, _ = summary(capsys, str(path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row["upgrade_id"]: int(row["devices_late"]) for row in rows} == late

    _, out, _ = summary(capsys, str(path), "--format", "markdown")
    assert out.splitlines()[0].endswith("| ended | late |")
    assert any(line.startswith(f"- late successes: {total_late} ") for line in out.splitlines())

    _, out, _ = summary(capsys, str(path), "--format", "table")
    assert f"late successes: {total_late} " in out
    assert " late" in next(line for line in out.splitlines() if "upgrade" in line)


@pytest.mark.parametrize("schema", [1, 2])
def test_an_old_night_reads_as_before_and_by_model_is_one_row_without_inventory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema: int
) -> None:
    lines = [campaign(n, None, inventory=None, missing={"succeeded": 5, "failed": n}, schema=schema)
             for n in range(6)]  # fmt: skip
    path = write_night(tmp_path / "night.jsonl", lines, schema=schema)

    _, out, _ = summary(capsys, str(path), "--format", "json")
    document = json.loads(out)
    assert tuple(document["rows"][0]) == CSV_COLUMNS
    assert set(document["devices"]) == {"total", "phases", "statuses"}
    assert "inventory_failed" not in document["campaigns"]
    _, out, _ = summary(capsys, str(path), "--format", "csv")
    assert out.splitlines()[0] == ",".join(CSV_COLUMNS)
    _, out, _ = summary(capsys, str(path), "--format", "markdown")
    assert "late" not in out
    _, out, _ = summary(capsys, str(path), "--format", "table")
    assert "late" not in out

    code, out, _ = summary(capsys, str(path), "--by", "model", "--format", "json")
    document = json.loads(out)
    assert code == 0
    if schema == 1:  # the phases come from the statuses: every device succeeded
        assert document["rows"] == [group_row("off", Counter(succeeded=30))]
    else:
        assert document["rows"] == [group_row("off", Counter(succeeded=30, failed=15))]
    assert document["models"]["campaigns_without_models"] == 6


def test_a_failed_inventory_is_its_own_row_a_footer_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = random_night(10, campaigns=6)
    lines += [campaign(100 + n, None, inventory="failed", missing={"failed": 2, "pending": 1})
              for n in range(3)]  # fmt: skip
    path = write_night(tmp_path / "night.jsonl", lines)
    code, out, _ = summary(capsys, str(path), "--by", "model", "--format", "json")
    document = json.loads(out)
    assert code == 1  # the run exited 1 for it: the night needs a look
    assert document["rows"][-1] == group_row("failed", Counter(failed=6, pending=3))
    assert [r["model"] for r in document["rows"][:4]] == [r["model"] for r in truth(lines)]
    assert document["campaigns"]["inventory_failed"] == 3

    code, out, _ = summary(capsys, str(path), "--format", "markdown")
    assert code == 1
    assert "- inventory failed for 3 campaign(s)" in out.splitlines()
    _, out, _ = summary(capsys, str(path), "--by", "model", "--format", "table")
    assert "(inventory failed)" in out
    assert "campaigns without device models: 3" in out


def test_a_model_without_late_counts_has_late_null_not_a_guess(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    draw = random.Random(11)
    lines = [
        campaign(0, {"Model-A": model_counts(draw, "Model-A", late=False)}),
        campaign(1, {"Model-A": model_counts(draw, "Model-A"), "Model-B": model_counts(draw, "B")}),
    ]
    path = write_night(tmp_path / "night.jsonl", lines)
    _, out, _ = summary(capsys, str(path), "--by", "model", "--format", "json")
    late = {row["model"]: row["late"] for row in json.loads(out)["rows"]}
    assert late == {"Model-A": None, "Model-B": lines[1]["device_models"]["Model-B"]["late"]}  # type: ignore[index]


def test_failed_only_and_limit_choose_among_the_models(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [
        campaign(0, {"good": {"succeeded": 9, "on_target": 9, "late": 0},
                     "bad": {"failed": 3, "succeeded": 1, "on_target": 1, "late": 0},
                     "worse": {"failed": 3, "on_target": 0, "late": 0}}),
    ]  # fmt: skip
    path = write_night(tmp_path / "night.jsonl", lines)
    _, out, _ = summary(capsys, str(path), "--by", "model", "--failed-only", "--format", "json")
    assert [row["model"] for row in json.loads(out)["rows"]] == ["worse", "bad"]
    _, out, _ = summary(capsys, str(path), "--by", "model", "--limit", "1", "--format", "json")
    document = json.loads(out)
    assert [row["model"] for row in document["rows"]] == ["worse"]
    assert (document["models"]["shown"], document["models"]["total"]) == (1, 3)


def test_by_model_with_state_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_night(tmp_path / "night.jsonl", random_night(12, campaigns=2))
    code, out, err = summary(capsys, str(path), "--by", "model", "--state", str(tmp_path / "s"))
    assert (code, out) == (2, "")
    assert err == (
        "fota-poller: summary: --by model does not take --state (stuck is per campaign)\n"
    )


@pytest.mark.parametrize("form", ["table", "markdown", "csv", "json"])
def test_a_hostile_model_name_is_escaped_on_a_terminal_and_quoted_in_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, form: str
) -> None:
    formula = '=HYPERLINK("http://x")'
    hostile = {"failed": 2, "on_target": 0, "late": 0}
    lines = [campaign(0, {HOSTILE: hostile, formula: {**hostile, "failed": 1, "pending": 1}})]
    path = write_night(tmp_path / "night.jsonl", lines)
    code, out, _ = summary(capsys, str(path), "--by", "model", "--format", form)
    assert code == 0
    if form != "csv":  # CSV gives a value back whole, quoted (as for a campaign status)
        assert "\x1b" not in out
        assert "\u2028" not in out
    if form in ("table", "markdown"):
        assert "\\x1b[2J[bold]Pwned\\u2028" in out
    elif form == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [row["model"] for row in rows] == [HOSTILE, "'" + formula]
    else:
        assert [row["model"] for row in json.loads(out)["rows"]] == [HOSTILE, formula]


def test_a_night_of_100000_distinct_models_stays_bounded(tmp_path: Path) -> None:
    # 500 campaigns of 200 models each, every name new: past MAX_MODELS they share one row.
    lines = []
    for number in range(500):
        models = {f"M{number:03d}-{n:03d}": {"failed": n % 3, "succeeded": 1, "on_target": 1,
                                            "late": 0} for n in range(200)}  # fmt: skip
        lines.append(campaign(number, models))
    path = write_night(tmp_path / "night.jsonl", lines)
    small = write_night(tmp_path / "small.jsonl", lines[:1])
    command = [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "fota_poller", "summary"]

    def run(night: Path) -> tuple[dict[str, object], float]:
        done = subprocess.run(
            [*command, "--by", "model", "--format", "json", str(night)],
            capture_output=True, env=clean_environ(), timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout), int(done.stderr.decode().split()[-1]) / 1024

    document, peak_mb = run(path)
    _, baseline_mb = run(small)
    rows = document["rows"]
    assert isinstance(rows, list)
    models, others = rows[:-1], rows[-1]
    assert len(models) == MAX_MODELS
    assert document["models"] == {
        "total": MAX_MODELS, "shown": MAX_MODELS, "folded": True,
        "campaigns_with_models": 500, "campaigns_without_models": 0,
    }  # fmt: skip
    # The first MAX_MODELS names seen are the models; every later one is in `others`.
    assert {row["model"] for row in models} == {
        f"M{n // 200:03d}-{n % 200:03d}" for n in range(MAX_MODELS)
    }
    folded = 100_000 - MAX_MODELS
    assert others["inventory"] == "others"
    assert others["devices"] == sum(1 + n % 3 for n in range(200)) * folded // 200
    assert sum(row["devices"] for row in rows) == document["devices"]["total"]  # type: ignore[index]
    assert models[0]["failed_share"] == round(2 / 3, 4)
    assert peak_mb - baseline_mb < 40, (peak_mb, baseline_mb)


def test_a_model_name_longer_than_the_cut_is_kept_short(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    name = "X" * 100_000
    path = write_night(
        tmp_path / "night.jsonl", [campaign(0, {name: {"failed": 1, "on_target": 0}})]
    )
    _, out, _ = summary(capsys, str(path), "--by", "model", "--format", "json")
    (row,) = json.loads(out)["rows"]
    assert row["model"] == "X" * 200 + "…[cut]"
    assert row["failed"] == 1
