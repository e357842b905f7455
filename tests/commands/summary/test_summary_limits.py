"""`summary` on lines no run writes: longer than the limit, or one endless line of zeros.

A line longer than `MAX_LINE_BYTES` is a bad line, skipped a block at a time, never read
whole nor decoded (a 400 MB line once reached msgspec and crashed it); `/dev/zero` ends in
one clear line instead of a MemoryError.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import clean_environ, run_cli

from fota_poller.lines import MAX_LINE_BYTES

# Runs its arguments as a child and prints the child's peak RSS (KiB on Linux) on stderr.
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)
RUN = b'{"record":"run","run_id":"r1","complete":true,"exit_code":0}\n'


def campaign(number: int) -> bytes:
    return b'{"record":"campaign","outcome":"ok","upgrade_id":"u%d","device_count":1}\n' % number


def summary(path: Path) -> tuple[int, dict[str, object], list[str], float]:
    """Exit code, JSON document, stderr lines and peak RSS in MB of `summary --format json`."""
    command = [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "fota_poller", "summary"]
    done = subprocess.run(
        [*command, "--format", "json", str(path)],
        capture_output=True,
        env=clean_environ(),
        timeout=60,
        check=False,
    )
    *lines, peak = done.stderr.decode().splitlines()
    document = json.loads(done.stdout) if done.stdout else {}
    return done.returncode, document, lines, int(peak) / 1024


def test_a_line_over_the_limit_is_one_bad_line_never_held_whole(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(campaign(1) + campaign(2) + RUN)
    hostile = tmp_path / "hostile.jsonl"
    with hostile.open("wb") as out:
        out.write(campaign(1))
        # A campaign line six times the limit: held whole, it would cost 96 MB and more.
        out.write(b'{"record":"campaign","outcome":"ok","upgrade_id":"')
        for _ in range(6 * MAX_LINE_BYTES >> 20):
            out.write(b"x" * (1 << 20))
        out.write(b'"}\n')
        out.write(campaign(2) + RUN)

    _, _, _, baseline_mb = summary(good)
    code, document, stderr, peak_mb = summary(hostile)

    assert code == 1
    assert stderr == [
        (
            "fota-poller: 1 line(s) of 4 are no record (the first: line 2, 1 of them longer "
            "than 16 MB); they were skipped"
        )
    ]
    assert document["bad_lines"] == 1
    assert [row["upgrade_id"] for row in document["rows"]] == ["u1", "u2"]  # type: ignore[union-attr]
    # At most the limit's worth held (its start, in blocks) over a summary of a small night.
    assert peak_mb - baseline_mb < 40, (peak_mb, baseline_mb)


def test_summary_of_dev_zero_ends_with_one_line_and_bounded_memory() -> None:
    code, document, stderr, peak_mb = summary(Path("/dev/zero"))
    assert (code, document) == (2, {})
    assert stderr == [
        (
            "fota-poller: summary: cannot read /dev/zero: a line longer than 16 MB holds NUL "
            "bytes; not a records file"
        )
    ]
    assert peak_mb < 100


def test_a_long_line_on_stdin_is_skipped_too() -> None:
    data = campaign(1) + b"y" * (MAX_LINE_BYTES + 1) + b"\n" + RUN
    result = run_cli(["summary", "--format", "json", "-"], stdin=data)
    assert result.returncode == 1
    assert b"longer than 16 MB" in result.stderr
    assert json.loads(result.stdout)["bad_lines"] == 1
