"""Id lists: the three line forms, what is skipped, and what is refused."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from fota_poller.errors import InputFileError
from fota_poller.ids.lists import (
    ACCOUNT_PATTERN,
    CampaignRef,
    InvalidLine,
    canonical_upgrade_id,
    open_id_sources,
    parse_line,
    parse_lines,
    read_refs,
)

UPGRADE = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"


def parse(line: str, account: str | None = None) -> CampaignRef | InvalidLine | None:
    return parse_line(line, source="ids.txt", line_number=7, default_account=account)


@pytest.mark.parametrize(
    "line",
    [
        f"0000123456-00001,{UPGRADE}",
        f" 0000123456-00001 , {UPGRADE.upper()} ",
        f'{{"accountName": "0000123456-00001", "upgradeId": "{UPGRADE}"}}',
        f"0000123456-00001,{{{UPGRADE}}}",
    ],
)
def test_line_forms_give_the_same_campaign(line: str) -> None:
    assert parse(line) == CampaignRef("0000123456-00001", UPGRADE)


def test_a_bare_id_takes_the_default_account_with_its_leading_zeros() -> None:
    assert parse(UPGRADE, "0000123456-00001") == CampaignRef("0000123456-00001", UPGRADE)


@pytest.mark.parametrize("line", ["", "   ", "# comment", "accountName,upgradeId", "account,id"])
def test_blank_comment_and_header_lines_are_skipped(line: str) -> None:
    assert parse(line) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (UPGRADE, "no account"),
        ("garbage line", "not a UUID"),
        ("0001,not-a-uuid", "not a UUID"),
        (f"has space,{UPGRADE}", "accountName"),
        (f"{'9' * 65},{UPGRADE}", "accountName"),
        (f"../../etc,{UPGRADE}", "accountName"),
        ("a,b,c", "3 fields"),
        ("{nope", "JSON"),
        ('{"accountName": "0001"}', "no upgradeId"),
    ],
)
def test_unusable_lines_say_where_and_why(line: str, reason: str) -> None:
    result = parse(line)
    assert isinstance(result, InvalidLine)
    assert reason in result.reason
    assert result.message.startswith("ids.txt:7: ")


async def test_read_refs_numbers_lines_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    lines = [f"0001,{UPGRADE}"] * 1500 + ["bad"]
    path.write_text("\n".join(lines) + "\n")
    sources = open_id_sources([str(path)])
    items = [item async for item in read_refs(sources, None)]
    assert len(items) == 1501
    last = items[-1]
    assert isinstance(last, InvalidLine)
    assert last.line_number == 1501


def test_an_unreadable_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    readable = tmp_path / "ok.txt"
    readable.write_text("")
    with pytest.raises(InputFileError, match=r"missing\.txt"):
        open_id_sources([str(readable), str(tmp_path / "missing.txt")])


async def read_file(path: Path) -> list[CampaignRef | InvalidLine]:
    sources = open_id_sources([str(path)])
    return [item async for item in read_refs(sources, None)]


@pytest.mark.parametrize("header", ["", "accountName,upgradeId\n"])
async def test_a_byte_order_mark_at_the_start_of_a_file_is_skipped(
    tmp_path: Path, header: str
) -> None:
    # As a spreadsheet's "CSV UTF-8" export writes it: BOM, then the header or the first id.
    path = tmp_path / "ids.csv"
    text = f"{header}0000123456-00001,{UPGRADE}\n0000123456-00002,{UPGRADE}\n"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    assert await read_file(path) == [
        CampaignRef("0000123456-00001", UPGRADE),
        CampaignRef("0000123456-00002", UPGRADE),
    ]


HOSTILE_LINES = [
    # The header after a BOM that was not at the start of the file (two exports concatenated).
    "\ufeffaccountName,upgradeId",
    f"\ufeff0000123456-00001,{UPGRADE}",
    "\x1b[2J\x1b[31mred,not-a-uuid",
    f"0000123456-00001,\x1b]0;title\x07{'x' * 100_000}",
    f"acct\u2028ount,{UPGRADE}",
    f"{'a' * 100_000},{UPGRADE}",
    "z" * 100_000,
    '{"accountName": "\\u001b[2Jacct", "upgradeId": "\\u2029' + "y" * 5000 + '"}',
    '{"accountName": "ok-acct", "upgradeId": "\\u0000' + "q" * 5000 + '"}',
    '{"accountName": "' + "\\u202e" * 500 + '", "upgradeId": "' + UPGRADE + '"}',
]


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_an_invalid_line_echoes_its_input_only_as_a_short_escaped_excerpt(line: str) -> None:
    result = parse(line, "0000123456-00001")
    assert isinstance(result, InvalidLine)
    # The record's ids are validated values or null, never the raw input.
    assert result.account_name is None or ACCOUNT_PATTERN.fullmatch(result.account_name)
    assert result.upgrade_id is None or canonical_upgrade_id(result.upgrade_id) == result.upgrade_id
    message = result.message
    assert len(message) < 200
    assert message.isprintable(), message
    assert message.isascii() or "\ufeff" not in message


def test_a_good_account_is_kept_when_only_the_upgrade_id_is_bad() -> None:
    result = parse("0000123456-00001,\x1b[2Jnot-a-uuid")
    assert isinstance(result, InvalidLine)
    assert result.account_name == "0000123456-00001"
    assert result.upgrade_id is None
    assert "'\\x1b[2Jnot-a-uuid'" in result.reason


async def test_a_batch_of_lines_parses_as_each_line_does(tmp_path: Path) -> None:
    # Plain lines (the one-call path), then lines only the line-by-line path takes.
    plain = [f"0001,{UPGRADE}\n", f" \t0002 , {UPGRADE}\t\n", f"0003,{UPGRADE}"]
    odd = [
        "# a comment\n",
        "\n",
        "accountName,upgradeId\n",
        f"0004,{UPGRADE.upper()}\n",
        f"0005,{UPGRADE}\x0b\n",
        "bad\n",
        f'{{"accountName": "0006", "upgradeId": "{UPGRADE}"}}\n',
        f"0007,{UPGRADE}",
    ]
    for lines in (plain, plain[:2] + odd):
        expected = [
            parsed
            for number, line in enumerate(lines, start=11)
            if (
                parsed := parse_line(
                    line, source="ids.txt", line_number=number, default_account="9"
                )
            )
            is not None
        ]
        got = parse_lines(lines, source="ids.txt", first_line_number=11, default_account="9")
        assert got == expected
    assert len(got) == 7  # 2 plain, then the upper-case, \x0b, bad, JSON and last lines
