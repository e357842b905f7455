"""The command line's contract: `python -m`, `--version` without any subcommand, the parser."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest
from helpers import clean_environ, modules_loaded_by, run_cli

from fota_poller.cli import build_parser


def test_python_dash_m_runs_the_cli() -> None:
    result = run_cli(["--version"])
    assert result.returncode == 0
    assert result.stdout.decode().startswith("fota-poller ")


def test_version_answers_as_the_parser_does_without_loading_any_subcommand() -> None:
    # main() answers `--version` before building the parser (start-up time): the answer must
    # be the parser's own, and nothing of a subcommand may be loaded for it.
    loaded, printed = modules_loaded_by("from fota_poller.cli import main; main(['--version'])")
    parser = build_parser()
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stdout(io.StringIO()) as out:
        parser.parse_args(["--version"])
    assert exited.value.code == 0
    assert printed == out.getvalue()
    assert "fota_poller.cli" in loaded
    heavy = {"msgspec", "fota_poller.config", "fota_poller.commands.poll", "aiohttp"}
    assert loaded & heavy == set()
    # Anything after --version goes through the parser, as before.
    assert run_cli(["--version", "--no-such-flag"]).returncode == 0


def test_the_console_script_exits_with_mains_code_its_answer_written_and_no_teardown() -> None:
    # `entry` ends the process at once (cli.py): the answer flushed, the exit code main's,
    # and nothing of the interpreter's teardown run (an atexit hook stands for it).
    hook = "import atexit, sys; atexit.register(lambda: sys.stderr.write('teardown'))\n"
    entry = "from fota_poller.cli import entry; sys.argv[1:] = {}; entry()"
    answered = subprocess.run(
        [sys.executable, "-c", hook + entry.format(["--version"])],
        capture_output=True,
        check=False,
    )
    assert answered.returncode == 0
    assert answered.stdout.decode().startswith("fota-poller ")
    assert b"teardown" not in answered.stderr
    # A run refused (no credentials): main's code, its one line written.
    refused = subprocess.run(
        [sys.executable, "-c", hook + entry.format(["poll", "--ids", "-"])],
        capture_output=True,
        check=False,
        input=b"",
        env=clean_environ(),
    )
    assert refused.returncode == 2
    assert b"missing credentials" in refused.stderr
    assert b"teardown" not in refused.stderr
    # A program calling main() gets its code back and keeps its teardown.
    kept = subprocess.run(
        [sys.executable, "-c", hook + "from fota_poller.cli import main; main(['--version'])"],
        capture_output=True,
        check=False,
    )
    assert kept.stderr == b"teardown"


def test_a_poll_without_a_metrics_file_loads_no_prometheus_client() -> None:
    # 13 ms of every start (observe/metrics.py): imported when a metrics file is written.
    loaded, _ = modules_loaded_by("import fota_poller.commands.poll.core")
    assert "fota_poller.observe.metrics" in loaded
    assert not {name for name in loaded if name.startswith("prometheus_client")}


def test_building_the_parser_loads_no_subcommands_work() -> None:
    # `poll --help` (and every parse) builds the whole parser: the options only, never the
    # modules that run a command, so every help and every start stays cheap.
    loaded, _ = modules_loaded_by("from fota_poller.cli import build_parser; build_parser()")
    assert "fota_poller.commands.summary" in loaded
    work = {
        "fota_poller.commands.poll.core",
        "fota_poller.commands.check.core",
        "fota_poller.commands.demo.core",
        "fota_poller.commands.state.core",
        "fota_poller.commands.summary.core",
        "fota_poller.commands.report.core",
        "fota_poller.report.page",
        "aiohttp",
        "anyio",
        "sqlite3",
        "structlog",
        "rich",
        "shtab",
    }
    assert loaded & work == set()


def test_a_command_starts_without_rich_or_tqdm_and_rich_still_draws_tables() -> None:
    # structlog would load rich (about 45 ms) and the bar tqdm (9 ms) on every start; a
    # command loads structlog with rich hidden, and the bar only on a terminal.
    code = (
        "from fota_poller.cli import main; main(['schema'])\n"
        "import sys; import fota_poller.commands.poll.core\n"
        "assert 'rich' not in sys.modules and 'tqdm' not in sys.modules, 'loaded'\n"
        "import structlog.dev, rich.table\n"
        "assert structlog.dev.rich is None and rich.table.Table"
    )
    loaded, printed = modules_loaded_by(code)
    assert "structlog" in loaded
    assert "rich.table" in loaded  # importable again once structlog is in
    assert printed.startswith("{")
