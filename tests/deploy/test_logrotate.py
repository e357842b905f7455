"""deploy/logrotate/fota-poller, read and run by logrotate itself on a temporary log folder.

Only the log's folder and the `su` user and group change (`installed`): the folder to one
under tmp, the user and group to this process's, since the service user need not exist here.
logrotate refuses a config file others can write and a log folder a non-root group or others
can write, so both get the modes an install gives them.
"""

from __future__ import annotations

import grp
import gzip
import os
import pwd
import subprocess
from collections.abc import Callable
from pathlib import Path

from deploy_files import DEPLOY

LOGROTATE_FILE = DEPLOY / "logrotate" / "fota-poller"


def installed(root: Path) -> tuple[Path, Path]:
    """The logrotate file, with its log folder moved under `root`: (config, log file)."""
    folder = root / "log"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    text = LOGROTATE_FILE.read_text(encoding="utf-8")
    text = text.replace("/var/log/fota-poller", str(folder))
    text = text.replace("su fota-poller adm", f"su {user} {group}")
    config = root / "fota-poller.logrotate"
    config.write_text(text)
    config.chmod(0o644)
    return config, folder / "poller.log"


def logrotate(tool: Callable[[str], str], root: Path, config: Path, *flags: str) -> tuple[int, str]:
    """`logrotate FLAGS -s STATE CONFIG`: its exit code and everything it printed."""
    result = subprocess.run(
        [tool("logrotate"), *flags, "-s", str(root / "logrotate.state"), str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_logrotate_reads_the_file_without_an_error(tool, tmp_path):
    config, log = installed(tmp_path)
    log.write_text('{"event": "run.finished"}\n')

    # -d -f: what a rotation would do, without doing it. An unknown directive is an
    # "error:" line with exit 0, so the words are what the test reads.
    code, output = logrotate(tool, tmp_path, config, "-d", "-f")
    assert code == 0, output
    assert "error" not in output.lower(), output
    assert f"copying {log} to {log}.1\ntruncating {log}\n" in output, output
    assert "log->rotateCount is 30" in output, output
    assert log.read_text() == '{"event": "run.finished"}\n'


def test_a_forced_rotation_keeps_the_old_lines_and_a_run_still_appending_writes_on(tool, tmp_path):
    config, log = installed(tmp_path)
    log.write_text("night 1\n")
    # A run in progress: its shell opened the log with 2>> before the rotation.
    with log.open("a") as running:
        code, output = logrotate(tool, tmp_path, config, "-f")
        assert code == 0, output
        running.write("night 1, after the rotation\n")
    assert (log.with_name("poller.log.1")).read_text() == "night 1\n"
    # Truncated in place: the run's lines land at the start, with no hole before them.
    assert log.read_text() == "night 1, after the rotation\n"

    code, output = logrotate(tool, tmp_path, config, "-f")
    assert code == 0, output
    assert sorted(path.name for path in log.parent.iterdir()) == [
        "poller.log",
        "poller.log.1",
        "poller.log.2.gz",
    ]
    assert gzip.decompress(log.with_name("poller.log.2.gz").read_bytes()) == b"night 1\n"
    assert log.with_name("poller.log.1").read_text() == "night 1, after the rotation\n"
