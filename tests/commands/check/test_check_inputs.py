"""`check`'s `ids` and `discovery` steps: the night's id lists and discovery, read but not polled.

The real CLI against the simulator: usable and invalid lines counted with their numbers, a
list that cannot be read refused as the night refuses it (exit 2, before any request), a list
the night reads from a pipe left to the night (never consumed, never waited on), and one
first report page per account and status.
"""

import os

import pytest

from fota_poller.commands.check.id_lists import SHOWN_INVALID, count_lines
from fota_poller.errors import InputFileError
from fota_poller.ids.list_text import READ_CHUNK
from fota_poller.simulator import SimulatorAuthOptions

ACCOUNT = "0000123456-00001"
UPGRADE = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"
AUTH = SimulatorAuthOptions()  # the credentials run_check gives: the simulator's


async def test_a_good_list_is_counted_and_the_check_goes_on(catalog_ids, run_check):
    with catalog_ids.open("a", encoding="utf-8") as ids:
        ids.write("# a comment and a blank line are no ids\n\n")

    checked = await run_check("--ids", str(catalog_ids))

    assert checked.code == 0, checked.lines
    assert checked.step("ids") == [f"ok   ids         {catalog_ids}: 6 usable lines"]
    assert checked.lines[-1] == "ok   logout      session closed"
    # Read, never polled: the only requests are the token, the login and the logout.
    assert checked.reached == 3


async def test_invalid_lines_are_named_by_number_escaped_and_the_night_would_exit_1(
    tmp_path, run_check
):
    ids = tmp_path / "ids.csv"
    lines = [
        f"{ACCOUNT},{UPGRADE}",
        "not-an-id",  # line 2
        f"{ACCOUNT},{UPGRADE.upper()}",
        "",
        f"{ACCOUNT},\x1b[2Jforged\x07",  # line 5: an ESC must not clear the operator's screen
        UPGRADE,  # line 6: bare, and no account given
    ]
    ids.write_text("\n".join(lines) + "\n", encoding="utf-8")

    checked = await run_check("--ids", str(ids))

    assert checked.code == 1, checked.lines
    assert checked.step("ids") == [
        f"FAIL ids         {ids}: 2 usable lines, 3 invalid (each a failed campaign record)",
        f"FAIL ids         {ids}:2: upgradeId 'not-an-id' is not a UUID",
        f"FAIL ids         {ids}:5: upgradeId '\\x1b[2Jforged\\x07' is not a UUID",
        (
            f"FAIL ids         {ids}:6: bare upgradeId but no account: pass --account or set "
            "api.account"
        ),
    ]
    # A bad line does not stop the night, so it does not stop the preflight.
    assert checked.lines[-1] == "ok   logout      session closed"
    assert not any(line.startswith("ok   ids") for line in checked.lines)


async def test_a_secret_pasted_into_an_id_list_is_never_shown(tmp_path, run_check):
    ids = tmp_path / "ids.csv"
    ids.write_text(f"{ACCOUNT},{UPGRADE}\n{ACCOUNT},{AUTH.password}\n", encoding="utf-8")

    checked = await run_check("--ids", str(ids))

    assert checked.code == 1
    assert (
        checked.step("ids")[1] == f"FAIL ids         {ids}:2: upgradeId '<redacted>' is not a UUID"
    )
    assert AUTH.password not in "\n".join(checked.lines) + checked.stderr


async def test_the_account_flag_makes_bare_ids_usable(tmp_path, run_check):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{UPGRADE}\n", encoding="utf-8")

    checked = await run_check("--ids", str(ids), "--account", ACCOUNT)

    assert checked.code == 0, checked.lines
    assert checked.step("ids") == [f"ok   ids         {ids}: 1 usable line"]


async def test_a_list_with_no_id_in_it_is_said_so(tmp_path, run_check):
    ids = tmp_path / "ids.csv"
    ids.write_text("accountName,upgradeId\n# exported empty tonight\n\n", encoding="utf-8")

    checked = await run_check("--ids", str(ids))

    assert checked.code == 0, checked.lines  # as the night: nothing polled is no failure
    assert checked.step("ids") == [
        f"ok   ids         {ids}: no id in it (blank, comments, a header)"
    ]


async def test_only_the_first_invalid_lines_are_shown_then_a_count(tmp_path, run_check):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ACCOUNT},{UPGRADE}\n" + "junk\n" * 40, encoding="utf-8")

    checked = await run_check("--ids", str(ids))

    shown = checked.step("ids")
    assert shown[0].endswith(": 1 usable line, 40 invalid (each a failed campaign record)")
    assert [line.split(":")[1] for line in shown[1:-1]] == [str(n) for n in range(2, 7)]
    assert shown[-1] == f"FAIL ids         {ids}: {40 - SHOWN_INVALID} more invalid lines not shown"


async def test_lists_with_no_usable_line_are_refused_before_any_request(tmp_path, run_check):
    ids = tmp_path / "ids.txt"
    ids.write_text("junk\nmore junk\n", encoding="utf-8")

    checked = await run_check("--ids", str(ids))

    assert checked.code == 2
    assert checked.lines[-1] == (
        "FAIL ids         nothing to poll: no line of the id lists is usable (2 invalid)"
    )
    assert checked.reached == 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda _: None, "No such file or directory"),
        (lambda path: path.mkdir(), "Is a directory"),
    ],
    ids=["missing", "folder"],
)
async def test_an_id_list_that_cannot_be_read_is_exit_2_naming_it(
    tmp_path, run_check, make, reason
):
    ids = tmp_path / "ids.txt"
    make(ids)

    checked = await run_check("--ids", str(ids))

    assert checked.code == 2
    assert checked.lines[-1] == f"FAIL ids         cannot read id list {ids}: {reason}"
    assert checked.reached == 0


async def test_a_list_that_is_not_utf8_is_refused_as_the_night_refuses_it(tmp_path, run_check):
    ids = tmp_path / "ids.csv"
    ids.write_bytes(f"{ACCOUNT},{UPGRADE}\nCaf\xe9\n".encode("latin-1"))

    checked = await run_check("--ids", str(ids))

    assert checked.code == 2
    assert checked.lines[-1].startswith(f"FAIL ids         id list {ids} is not UTF-8: byte 0xe9")
    assert checked.reached == 0


async def test_a_fifo_or_stdin_is_left_to_the_night_never_read_nor_waited_on(tmp_path, run_check):
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)  # no writer: any read or blocking open would hang the check

    checked = await run_check("--ids", str(fifo), "--ids", "-", stdin=b"not read\n")

    assert checked.code == 0, checked.lines
    assert checked.step("ids") == [
        f"skip ids         {fifo}: a FIFO (named pipe), read at run time, not checked",
        "skip ids         - (stdin): read at run time, not checked",
    ]


def test_a_long_list_is_parsed_up_to_the_limit_and_the_rest_checked_for_its_encoding(tmp_path):
    ids = tmp_path / "ids.txt"
    good = f"{ACCOUNT},{UPGRADE}\n".encode()
    ids.write_bytes(good * 20_000 + b"junk\n" + good * 20_000)

    with ids.open("rb") as stream:
        count = count_lines(str(ids), stream, None, max_lines=100)

    # Parsed a read's worth (64 KB), never the 40,001 lines; the rest only decoded.
    assert 100 <= count.lines < 2_000
    assert count.usable == count.lines
    assert count.invalid == 0
    assert count.unparsed_bytes == ids.stat().st_size - READ_CHUNK

    ids.write_bytes(good * 20_000 + b"Caf\xe9\n")
    with ids.open("rb") as stream, pytest.raises(InputFileError, match="line 20001"):
        count_lines(str(ids), stream, None, max_lines=100)


# -- discovery -----------------------------------------------------------------------------


async def test_discovery_says_what_it_queries_and_fetches_one_first_page_each(run_check):
    checked = await run_check("--status", "InProgress, Queued", "--account", ACCOUNT)

    assert checked.code == 0, checked.lines
    discovery = checked.step("discovery")
    assert discovery[0] == (
        f"ok   discovery   statuses InProgress, Queued in account {ACCOUNT}, "
        "up to 10000 pages each (discover.max_pages)"
    )
    assert [line.split(":")[0] for line in discovery[1:]] == [
        f"ok   discovery   {ACCOUNT} InProgress",
        f"ok   discovery   {ACCOUNT} Queued",
    ]
    assert all("on the first page" in line for line in discovery[1:])
    # One page per account and status, however many follow (the simulator pages by 2).
    assert checked.report_pages == 2
    assert checked.lines[-1] == "ok   logout      session closed"


async def test_discovery_of_an_account_the_api_does_not_know_fails_with_exit_1(tmp_path, run_check):
    config = tmp_path / "config.toml"
    config.write_text(
        '[discover]\nstatuses = ["InProgress"]\naccounts = ["0000999999-00009"]\n',
        encoding="utf-8",
    )

    checked = await run_check("--config", str(config))

    assert checked.code == 1
    failed = checked.step("discovery")[-1]
    assert failed.startswith(
        "FAIL discovery   discovery of InProgress upgrades of account 0000999999-00009 "
        "failed at index 0: HTTP "
    )
    assert checked.report_pages == 0
    assert checked.lines[-1] == "ok   logout      session closed"


async def test_discovery_without_an_account_is_refused_before_any_request(run_check):
    checked = await run_check("--status", "InProgress")

    assert checked.code == 2
    assert checked.lines[-1] == (
        "FAIL discovery   discovery needs an account: set discover.accounts, api.account or "
        "--account"
    )
    assert checked.reached == 0


async def test_discovery_beside_lists_with_no_usable_line_is_not_nothing_to_poll(
    tmp_path, run_check
):
    ids = tmp_path / "ids.txt"
    ids.write_text("junk\n", encoding="utf-8")

    checked = await run_check("--ids", str(ids), "--status", "Queued", "--account", ACCOUNT)

    assert checked.code == 1
    assert "nothing to poll" not in "\n".join(checked.lines)
    assert checked.lines[-1] == "ok   logout      session closed"
