"""Issue 20: a metrics file that cannot be written at the end of a good night exits 1, not 0.

The real CLI against the simulator, ids on a pipe: the metrics folder is usable when the run
starts (a folder refused then is exit 2 before any request), and is broken once the run has
logged `run.started`, before the last id arrives; so the failure is met where a night meets
it, at the end. The records stay whole (run line exit 0, every campaign), stderr has one
error line naming the file, and the process exits 1; a worse exit code is kept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from helpers import assert_calm, parse_output, token_environ, watched_poller


def break_folder(folder: Path) -> None:
    shutil.rmtree(folder)


def folder_becomes_a_file(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.write_text("not a folder\n", encoding="utf-8")


def target_becomes_a_directory(folder: Path) -> None:
    (folder / "poll.prom").unlink()
    (folder / "poll.prom").mkdir()


def target_becomes_a_symlink(folder: Path) -> None:
    (folder / "poll.prom").unlink()
    (folder / "poll.prom").symlink_to(folder.parent / "elsewhere.prom")


BREAKS = {
    "folder missing": break_folder,
    "folder is a file": folder_becomes_a_file,
    "target is a directory": target_becomes_a_directory,
    "target is a symlink": target_becomes_a_symlink,
}


def error_lines(log: bytes | bytearray) -> list[dict[str, object]]:
    events = [json.loads(line) for line in bytes(log).splitlines()]  # every line is JSON
    return [event for event in events if event["level"] == "error"]


async def poll_and_break(sim, tmp_path: Path, lines: bytes, breaks) -> tuple[int, bytes, bytes]:
    """Poll `lines` (given on stdin) with a metrics file that `breaks` once the run started."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    metrics = folder / "poll.prom"
    metrics.write_text("fota_poller_last_run_exit_code 0.0\n", encoding="utf-8")
    (tmp_path / "elsewhere.prom").write_text("kept\n", encoding="utf-8")
    args = ["poll", "--ids", "-", "--base-url", sim.base_url, "--rate", "0"]
    args += ["--metrics-file", str(metrics), "--output", str(tmp_path / "out.jsonl")]
    async with watched_poller(*args, env=token_environ(sim.options), stdin=subprocess.PIPE) as run:
        assert await run.wait_for("run.started")
        breaks(folder)
        stdin = run.process.stdin
        assert stdin is not None
        stdin.write(lines)
        await stdin.drain()
        stdin.close()
        code, stdout = await run.finish()
    assert stdout == b""
    return code, bytes(run.log), (tmp_path / "out.jsonl").read_bytes()


def id_lines(sim) -> bytes:
    return b"".join(f"{account},{upgrade}\n".encode() for account, upgrade in sim.catalog.ids())


@pytest.mark.parametrize("broken", list(BREAKS))
async def test_a_good_night_whose_metrics_file_cannot_be_written_exits_1(
    tmp_path, simulator, broken
) -> None:
    async with simulator(campaigns=4, devices_min=1, devices_max=3) as sim:
        code, log, records = await poll_and_break(sim, tmp_path, id_lines(sim), BREAKS[broken])

    assert code == 1, log.decode()[-2000:]
    assert_calm(log)
    [error] = error_lines(log)
    metrics = tmp_path / "metrics" / "poll.prom"
    assert (error["event"], error["path"], error["exit_code"]) == (
        "metrics.write_failed",
        str(metrics),
        1,
    )
    assert error["error"]
    # The records are the night's, whole: the run line says 0, every campaign was polled.
    output = parse_output(records)
    assert (output.run.exit_code, output.run.complete) == (0, True)
    assert output.run.campaigns_ok == len(output.campaigns) == 4
    # What was planted is left as it was, and no temporary file is left beside it.
    assert (tmp_path / "elsewhere.prom").read_text(encoding="utf-8") == "kept\n"
    if metrics.is_dir():
        assert list(metrics.iterdir()) == []
    if (tmp_path / "metrics").is_dir():
        assert [p.name for p in (tmp_path / "metrics").iterdir()] == ["poll.prom"]


async def test_a_failed_night_whose_metrics_file_cannot_be_written_keeps_its_exit_code(
    tmp_path, simulator
) -> None:
    # Every line on the pipe is no id: "nothing to poll", exit 2, known at the end of the run.
    async with simulator(campaigns=1) as sim:
        code, log, records = await poll_and_break(sim, tmp_path, b"not an id\n", break_folder)

    assert code == 2, log.decode()[-2000:]
    events = [error["event"] for error in error_lines(log)]
    assert events == ["input.nothing_to_poll", "metrics.write_failed"]
    assert error_lines(log)[-1]["exit_code"] == 2
    assert parse_output(records).run.exit_code == 2


async def test_a_full_disk_under_the_metrics_file_exits_1(tmp_path, simulator) -> None:
    # RLIMIT_FSIZE makes a write past 512 bytes fail (EFBIG, as ENOSPC would: the same
    # OSError path); the records go to stdout, a pipe, which the limit does not touch.
    metrics = tmp_path / "poll.prom"
    async with simulator(campaigns=3, devices_min=1, devices_max=3) as sim:
        ids = tmp_path / "ids.txt"
        ids.write_bytes(id_lines(sim))
        code = (
            "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512)); "
            "from fota_poller.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        done = await anyio.run_process(
            [sys.executable, "-c", code, "poll", "--ids", str(ids), "--base-url", sim.base_url,
             "--metrics-file", str(metrics)],
            env=token_environ(sim.options),
            check=False,
        )  # fmt: skip

    assert done.returncode == 1, done.stderr.decode()[-2000:]
    [error] = error_lines(done.stderr)
    assert (error["event"], error["path"]) == ("metrics.write_failed", str(metrics))
    assert error["error"] == "File too large"
    output = parse_output(done.stdout)
    assert (output.run.exit_code, output.run.campaigns_ok) == (0, 3)
    assert list(tmp_path.iterdir()) == [ids]  # no metrics file, no temporary file left
