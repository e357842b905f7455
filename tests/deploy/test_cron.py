"""deploy/cron/fota-poller, its lines run as Debian's cron runs them, night after night.

Not under the cron daemon itself: /etc/cron.d is the machine's, and a one-minute schedule
would make the suite wait minutes. Instead the test does what cron (3.0pl1, do_command.c)
does with a cron.d line, to the letter: the file's `NAME=value` lines over cron's own
environment (SHELL=/bin/sh, PATH=/usr/bin:/bin, HOME, LOGNAME), the user field, the command cut
at its first unescaped `%` (what follows is the job's stdin, each further `%` a newline; `\\%`
becomes `%` and `\\\\` becomes `\\`), then `$SHELL -c COMMAND` with no terminal, in its own
session, stdin empty, in HOME, and what it writes to stdout or stderr is the mail cron sends.
The same file, under the real daemon (`cron -f -L 15`, a one-minute schedule), is how it was
tried by hand once (docs/operations.md, "Scheduling it").

Only paths change: the production prefixes are mapped to a temporary folder (`PATHS`), the
config's base URL to the simulator, and a `date` earlier in PATH says which night it is.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
from pathlib import Path

import anyio
from deploy_files import AUTH, DEPLOY, install_config, to_tmp, write_credentials
from helpers import metrics_exit_code

CRON_FILE = DEPLOY / "cron" / "fota-poller"
ENVIRONMENT_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


class CronJob:
    """One line of a cron.d file: its schedule, its user, and its command as written."""

    def __init__(self, line: str) -> None:
        *schedule, self.user, self.command = line.split(None, 6)
        self.schedule = " ".join(schedule)


def read_cron_file(text: str) -> tuple[dict[str, str], list[CronJob]]:
    """The `NAME=value` lines (quotes stripped, as cron's load_env does) and the jobs."""
    environment: dict[str, str] = {}
    jobs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assignment = ENVIRONMENT_LINE.fullmatch(line)
        if assignment is not None and not line.lstrip()[0].isdigit():
            value = assignment.group(2).strip()
            if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            environment[assignment.group(1)] = value
        else:
            jobs.append(CronJob(line))
    return environment, jobs


def cron_command(command: str) -> tuple[str, bytes]:
    """What cron hands the shell, and the job's stdin, from a line's command field."""
    shell: list[str] = []
    escaped = False
    for index, char in enumerate(command):
        if escaped:
            # `\%` and `\\` lose their backslash; any other `\x` is kept whole.
            shell[-1:] = [char] if char in "%\\" else ["\\", char]
            escaped = False
        elif char == "\\":
            shell.append(char)
            escaped = True
        elif char == "%":
            return "".join(shell), stdin_of(command[index + 1 :])
        else:
            shell.append(char)
    return "".join(shell), b""


def stdin_of(text: str) -> bytes:
    """The text after the first `%`: each unescaped `%` a newline, and a newline at the end."""
    lines = re.sub(r"(?<!\\)%", "\n", text).replace("\\%", "%")
    return (lines if lines.endswith("\n") else lines + "\n").encode()


def install(root: Path, base_url: str) -> tuple[dict[str, str], list[CronJob]]:
    """The cron file, the config and the credentials installed under `root`, as the docs say."""
    install_config(root, base_url, "home", "bin")
    write_credentials(root / "etc" / "credentials")
    return read_cron_file(to_tmp(CRON_FILE.read_text(encoding="utf-8"), root))


def cron_environment(root: Path, file_environment: dict[str, str]) -> dict[str, str]:
    """The environment cron gives a job: its defaults, the file's lines over them, and a
    PATH whose `date` says the night of the file `night` in `root` (see `run_night`)."""
    environment = {
        "SHELL": "/bin/sh",
        "PATH": "/usr/bin:/bin",
        "HOME": str(root / "home"),
        "LOGNAME": "fota-poller",
    } | file_environment
    environment["PATH"] = f"{root / 'bin'}:{environment['PATH']}"
    return environment


async def run_night(
    root: Path, job: CronJob, environment: dict[str, str], night: str
) -> tuple[int, str]:
    """`job` run as cron runs it at 02:15 UTC on `night` (YYYY-MM-DD): its status, its mail."""
    date = root / "bin" / "date"
    date.write_text(f'#!/bin/sh\nexec {shutil.which("date")} -d "{night} 02:15 UTC" "$@"\n')
    date.chmod(0o755)
    command, stdin = cron_command(job.command)
    result = await anyio.run_process(
        [environment["SHELL"], "-c", command],
        input=stdin,
        env=cron_environment(root, environment),
        cwd=root / "home",
        start_new_session=True,
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).decode()


def log_events(root: Path) -> list[dict[str, object]]:
    """Every line of the log file the cron line appends to, each one JSON."""
    lines = (root / "log" / "poller.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_the_cron_file_is_what_debian_cron_reads():
    environment, jobs = read_cron_file(CRON_FILE.read_text(encoding="utf-8"))
    # run-parts rules for /etc/cron.d: a name of letters, digits, "_" and "-" only.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", CRON_FILE.name)
    assert CRON_FILE.read_text().endswith("\n")
    assert environment["SHELL"] == "/bin/sh"
    assert "/usr/bin" in environment["PATH"].split(":")
    assert [job.user for job in jobs] == ["fota-poller", "fota-poller"]
    assert [job.schedule for job in jobs] == ["15 2 * * *", "45 3 * * *"]
    # No stdin part: a % left unescaped would cut the command there.
    assert [cron_command(job.command)[1] for job in jobs] == [b"", b""]


def test_cron_percent_handling_is_do_commands():
    assert cron_command(r"date +\%F") == ("date +%F", b"")
    assert cron_command(r"echo a\\b \n") == (r"echo a\b \n", b"")
    assert cron_command("mail -s hi joe%Joe,%%Where?%") == ("mail -s hi joe", b"Joe,\n\nWhere?\n")


async def test_two_nights_then_a_night_the_lock_is_held(simulator, tmp_path):
    async with simulator(auth=AUTH, campaigns=6, devices_max=5) as sim:
        environment, (poll, _) = install(tmp_path, sim.base_url)
        first = await run_night(tmp_path, poll, environment, "2026-12-05")
        second = await run_night(tmp_path, poll, environment, "2026-12-06")
        metrics = tmp_path / "textfile" / "fota_poller.prom"
        after_good_nights = metrics_exit_code(metrics)
        # Someone's run by hand still holds the lock on the third night.
        with (tmp_path / "state" / "poll.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            third = await run_night(tmp_path, poll, environment, "2026-12-07")

    runs = tmp_path / "state" / "runs"
    assert first == second == (0, ""), (first, second)
    assert sorted(path.name for path in runs.iterdir()) == ["2026-12-05.jsonl", "2026-12-06.jsonl"]
    for night in ("2026-12-05", "2026-12-06"):
        run = json.loads((runs / f"{night}.jsonl").read_bytes().splitlines()[-1])
        assert (run["record"], run["complete"], run["campaigns_failed"]) == ("run", True, 0)
        # Device ids: not for every user of the host.
        assert stat.S_IMODE((runs / f"{night}.jsonl").stat().st_mode) == 0o640
    assert after_good_nights == 0
    # Counts only, and node_exporter (another user) reads it: 0644 under the same umask.
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o644
    # The failed night: exit 75 in the metrics file, one line in cron's mail, and the JSON
    # line that says why in the log, after both nights' lines.
    assert third == (
        0,
        "fota-poller poll exited 75: see " + str(tmp_path / "log" / "poller.log") + "\n",
    )
    assert metrics_exit_code(metrics) == 75
    events = log_events(tmp_path)
    assert [e["event"] for e in events].count("run.finished") == 2
    assert (events[-1]["event"], events[-1]["exit_code"]) == ("run.refused", 75)
    assert len({e["run_id"] for e in events}) == 3


async def test_a_night_with_a_rejected_password_is_exit_3_in_the_metrics_and_the_mail(
    simulator, tmp_path
):
    async with simulator(auth=AUTH, campaigns=2, devices_max=3) as sim:
        environment, (poll, _) = install(tmp_path, sim.base_url)
        (tmp_path / "etc" / "credentials" / "thingspace-password").write_text("wrong\n")
        status, mail = await run_night(tmp_path, poll, environment, "2026-12-05")
        logins = sim.auth.stats.login_requests

    assert (status, mail.split(":")[0]) == (0, "fota-poller poll exited 3")
    assert mail.count("\n") == 1
    assert metrics_exit_code(tmp_path / "textfile" / "fota_poller.prom") == 3
    assert logins == 1
    assert "wrong" not in (tmp_path / "log" / "poller.log").read_text()
    # The night's file says so too: every campaign failed "auth", the run not complete.
    records = (tmp_path / "state" / "runs" / "2026-12-05.jsonl").read_bytes().splitlines()
    run = json.loads(records[-1])
    assert (run["record"], run["complete"], run["campaigns_ok"]) == ("run", False, 0)


async def test_the_cleanup_line_keeps_30_days_of_records(tmp_path):
    environment, (_, cleanup) = install(tmp_path, "http://127.0.0.1:9")
    runs = tmp_path / "state" / "runs"
    for name, days in (("2026-10-01.jsonl", 40), ("2026-11-30.jsonl", 7), ("notes.txt", 40)):
        (runs / name).write_text("{}\n")
        mtime = (runs / name).stat().st_mtime - days * 86400
        os.utime(runs / name, (mtime, mtime))

    assert await run_night(tmp_path, cleanup, environment, "2026-12-07") == (0, "")
    assert sorted(path.name for path in runs.iterdir()) == ["2026-11-30.jsonl", "notes.txt"]
