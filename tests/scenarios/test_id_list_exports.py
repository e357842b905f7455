"""Issue 18, acceptance 8: id lists as spreadsheets export them, through the real CLI.

Each list is written as a spreadsheet (or a text editor on Windows) would write it; the run
polls exactly the simulator's campaigns, or says in one line why it cannot (exit 2), before
any request.
"""

from __future__ import annotations

import codecs
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from helpers import credentials_environ, parse_output, poll_cli

from fota_poller.simulator import RunningSimulator, SimulatorAuthOptions, SimulatorOptions
from fota_poller.simulator import run_simulator as start_simulator

AUTH = SimulatorAuthOptions()
Ids = list[tuple[str, str]]


def lines(rows: list[str], end: str = "\n") -> str:
    return "".join(row + end for row in rows)


EXPORTS: dict[str, Callable[[Ids], bytes]] = {
    "quoted": lambda ids: lines([f'"{a}","{u}"' for a, u in ids]).encode(),
    "empty_extra_columns": lambda ids: lines([f"{a},{u},," for a, u in ids] + [",,,"]).encode(),
    "semicolons_with_header": lambda ids: lines(
        ["accountName;upgradeId", *(f"{a};{u}" for a, u in ids)]
    ).encode(),
    "tabs": lambda ids: lines([f"{a}\t{u.upper()}" for a, u in ids]).encode(),
    "utf16_le_unicode_text": lambda ids: (
        codecs.BOM_UTF16_LE
        + lines(["accountName\tupgradeId", *(f"{a}\t{u}" for a, u in ids)], "\r\n").encode(
            "utf-16-le"
        )
    ),
    "utf16_be": lambda ids: (
        codecs.BOM_UTF16_BE + lines([f"{a}\t{u}" for a, u in ids]).encode("utf-16-be")
    ),
    "utf8_bom_header": lambda ids: (
        codecs.BOM_UTF8 + lines(["accountName,upgradeId", *(f"{a},{u}" for a, u in ids)]).encode()
    ),
    "crlf": lambda ids: lines([f"{a},{u}" for a, u in ids], "\r\n").encode(),
    "cr_only": lambda ids: lines([f"{a},{u}" for a, u in ids], "\r").encode(),
    "header_in_another_order": lambda ids: lines(
        ["upgradeId,accountName", *(f"{u},{a}" for a, u in ids)]
    ).encode(),
    "named_columns_quoted_semicolons": lambda ids: lines(
        [
            '"Notes";"Upgrade ID";"Account Name"',
            *(f'"nightly; group {i}";"{u}";"{a}"' for i, (a, u) in enumerate(ids)),
        ],
        "\r\n",
    ).encode(),
}

REFUSALS: dict[str, tuple[Callable[[Ids], bytes], str]] = {
    "cp1252": (
        lambda ids: lines(
            ["accountName,upgradeId,Remarque", *(f"{a},{u},Mise à jour" for a, u in ids)]
        ).encode("cp1252"),
        "cp1252",
    ),
    "utf16_without_bom": (
        lambda ids: lines([f"{a},{u}" for a, u in ids]).encode("utf-16-le"),
        "UTF-16 without a byte order mark",
    ),
    "no_usable_line": (
        lambda ids: lines(["accountName,upgradeId", *(f"{a},{u[:8]}" for a, u in ids)]).encode(),
        "nothing to poll",
    ),
}


def catalog_options() -> SimulatorOptions:
    return SimulatorOptions(campaigns=7, devices_min=1, devices_max=3, seed=18)


async def poll(sim: RunningSimulator, ids: Path) -> subprocess.CompletedProcess[bytes]:
    return await poll_cli(sim, ids, "--rate", "0", env=credentials_environ(AUTH))


@pytest.mark.parametrize("export", sorted(EXPORTS))
async def test_an_exported_list_polls_exactly_its_campaigns(tmp_path: Path, export: str) -> None:
    async with start_simulator(catalog_options()) as sim:
        expected = sorted(sim.catalog.ids())
        ids = tmp_path / "ids.csv"
        ids.write_bytes(EXPORTS[export](expected))
        result = await poll(sim, ids)

    assert result.returncode == 0, result.stderr.decode()[-2000:]
    output = parse_output(result.stdout)
    polled = sorted((c.account_name, c.upgrade_id) for c in output.campaigns)
    assert polled == expected
    assert {c.outcome for c in output.campaigns} == {"ok"}
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
async def test_an_unusable_list_is_one_line_and_exit_2_before_any_request(
    tmp_path: Path, refusal: str
) -> None:
    write, says = REFUSALS[refusal]
    async with start_simulator(catalog_options()) as sim:
        ids = tmp_path / "ids.csv"
        ids.write_bytes(write(sorted(sim.catalog.ids())))
        result = await poll(sim, ids)
        assert sim.auth is not None
        auth = sim.auth.stats

    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert says in line
    assert str(ids) in line
    assert result.stdout == b""
    assert sim.stats.requests_total == 0
    assert auth.token_requests == auth.login_requests == 0


async def test_a_piped_list_without_a_usable_line_is_exit_2_in_bounded_lines() -> None:
    # A pipe is read once, by the run: its thousand invalid lines get their records, and the
    # verdict (nothing to poll) comes at the end, with the failures logged in a few lines.
    async with start_simulator(SimulatorOptions(campaigns=3, devices_max=3)) as sim:
        command = [sys.executable, "-m", "fota_poller", "poll", "--ids", "-"]
        command += ["--base-url", sim.base_url, "--log-format", "json"]
        stdin = lines([f"0000123456-00001,not-an-id-{i}" for i in range(1000)]).encode()
        result = await anyio.run_process(
            command, input=stdin, env=credentials_environ(AUTH), check=False
        )
        assert sim.auth is not None
        logins = sim.auth.stats.login_requests

    assert result.returncode == 2
    output = parse_output(result.stdout)
    assert len(output.campaigns) == 1000
    assert {c.error_kind for c in output.campaigns} == {"invalid_input"}
    assert output.run.exit_code == 2
    stderr = result.stderr.decode()
    assert stderr.count("input.nothing_to_poll") == 1
    assert len(stderr.splitlines()) < 20
    assert sim.stats.requests_total == logins == 0


async def test_stdin_redirected_from_a_cp1252_file_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    # `--ids - < list.csv`: stdin is the file itself, checked whole as a named file is.
    ids = tmp_path / "ids.csv"
    async with start_simulator(catalog_options()) as sim:
        good = lines([f"{a},{u}" for a, u in sim.catalog.ids()])
        ids.write_bytes(good.encode() + "0000123456-00001,Réseau\n".encode("cp1252"))
        command = [sys.executable, "-m", "fota_poller", "poll", "--ids", "-"]
        with ids.open("rb") as stdin:
            result = await anyio.run_process(
                [*command, "--base-url", sim.base_url],
                stdin=stdin,
                env=credentials_environ(AUTH),
                check=False,
            )

    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert f"id list <stdin> is not UTF-8: byte 0xe9 at offset {len(good) + 18}" in line
    assert sim.stats.requests_total == 0


async def test_a_utf16_list_on_a_pipe_polls_its_campaigns() -> None:
    async with start_simulator(catalog_options()) as sim:
        expected = sorted(sim.catalog.ids())
        command = [sys.executable, "-m", "fota_poller", "poll", "--ids", "-"]
        result = await anyio.run_process(
            [*command, "--base-url", sim.base_url, "--rate", "0"],
            input=EXPORTS["utf16_le_unicode_text"](expected),
            env=credentials_environ(AUTH),
            check=False,
        )

    assert result.returncode == 0, result.stderr.decode()[-2000:]
    output = parse_output(result.stdout)
    assert sorted((c.account_name, c.upgrade_id) for c in output.campaigns) == expected
