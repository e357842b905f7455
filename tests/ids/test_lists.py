"""Id lists: the three line forms, what is skipped, and what is refused."""

from __future__ import annotations

import codecs
import io
import sys
from pathlib import Path

import pytest
from helpers import ACCOUNT, UPGRADE

from fota_poller.errors import InputFileError
from fota_poller.ids.lists import (
    close_id_sources,
    open_id_sources,
    parse_line,
    parse_lines,
    read_refs,
    refuse_if_nothing_usable,
)
from fota_poller.model.refs import ACCOUNT_PATTERN, CampaignRef, InvalidLine, canonical_upgrade_id


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


# Issue 18: id lists as spreadsheets export them, their encodings, and lines too long to read.

REF = CampaignRef(ACCOUNT, UPGRADE)


async def read_bytes(tmp_path: Path, data: bytes, account: str | None = None) -> list[object]:
    path = tmp_path / "ids.csv"
    path.write_bytes(data)
    sources = open_id_sources([str(path)])
    try:
        return [item async for item in read_refs(sources, account)]
    finally:
        close_id_sources(sources)


@pytest.mark.parametrize(
    "text",
    [
        f'"{ACCOUNT}","{UPGRADE}"\n',
        f"{ACCOUNT},{UPGRADE},,\n,,,\n",
        f"{ACCOUNT};{UPGRADE}\n",
        f"{ACCOUNT}\t{UPGRADE}\r\n",
        f"Upgrade ID;Account_Name\n{UPGRADE};{ACCOUNT}\n",
        f'account name,notes,UPGRADE-ID\n{ACCOUNT},"a, b",{UPGRADE}\n',
        f"# comment; with, every\tdelimiter\n{ACCOUNT}\t{UPGRADE}\n",
        f"upgradeId\n{UPGRADE}\n",
        f"accountName,upgradeId\n,{UPGRADE}\n",
    ],
)
async def test_spreadsheet_layouts_give_the_campaign(tmp_path: Path, text: str) -> None:
    # The last two: a bare id and an empty account cell take the default account.
    assert await read_bytes(tmp_path, text.encode(), ACCOUNT) == [REF]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"accountName,upgradeId\n{ACCOUNT},{UPGRADE},surprise\n", "header's 2 fields"),
        (f'{ACCOUNT},"{UPGRADE}\n', "not a valid CSV line"),
        (f"{ACCOUNT};{UPGRADE};x\n", "got 3 fields"),
    ],
)
async def test_a_value_in_an_unnamed_column_or_a_broken_quote_is_an_invalid_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    [item] = await read_bytes(tmp_path, text.encode())
    assert isinstance(item, InvalidLine)
    assert reason in item.reason
    assert item.line_number == text.count("\n")


async def test_a_header_later_in_the_list_sets_the_columns_after_it(tmp_path: Path) -> None:
    # Two exports concatenated, the second with its columns the other way round.
    text = f"accountName,upgradeId\n{ACCOUNT},{UPGRADE}\nupgradeId,accountName\n{UPGRADE},0002\n"
    assert await read_bytes(tmp_path, text.encode()) == [REF, CampaignRef("0002", UPGRADE)]


@pytest.mark.parametrize("bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE])
async def test_a_utf16_byte_order_mark_reads_the_list_as_utf16(tmp_path: Path, bom: bytes) -> None:
    encoding = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
    # Past one read's chunk, so that a character is cut between two of them.
    text = f"accountName\tupgradeId\r\n# é ü ✓ 𝄞\r\n{ACCOUNT}\t{UPGRADE}\r\n" * 5000
    items = await read_bytes(tmp_path, bom + text.encode(encoding))
    assert items == [REF] * 5000


async def test_utf8_characters_cut_between_reads_are_not_an_error(tmp_path: Path) -> None:
    text = f"# café, naïve, ✓, 𝄞\n{ACCOUNT},{UPGRADE}\n" * 20_000
    assert await read_bytes(tmp_path, text.encode()) == [REF] * 20_000


def test_a_list_not_in_utf8_is_refused_naming_the_byte_its_line_and_the_likely_encoding(
    tmp_path: Path,
) -> None:
    # The bad byte well past the first chunks: its offset and line are the file's.
    good = f"{ACCOUNT},{UPGRADE}\n" * 40_000
    path = tmp_path / "ids.csv"
    path.write_bytes(good.encode() + "Café,x\n".encode("cp1252"))
    with pytest.raises(InputFileError) as refused:
        open_id_sources([str(path)])
    message = str(refused.value)
    assert f"byte 0xe9 at offset {len(good) + 3} (line 40001)" in message
    assert "cp1252" in message
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (f"{ACCOUNT},{UPGRADE}\n".encode("utf-16-le"), "UTF-16 without a byte order mark"),
        (codecs.BOM_UTF16_LE + "ok\n".encode("utf-16-le") + b"\x00\xd8a\x00", "not UTF-16"),
        (b"ok\n\xc3", r"byte 0xc3 at offset 3 \(line 2\)"),  # cut in the middle of a character
    ],
)
def test_nul_bytes_broken_utf16_and_a_cut_character_are_refused(
    tmp_path: Path, data: bytes, says: str
) -> None:
    path = tmp_path / "ids.csv"
    path.write_bytes(data)
    with pytest.raises(InputFileError, match=says):
        open_id_sources([str(path)])


async def test_a_pipe_not_in_utf8_stops_the_read_with_the_same_line() -> None:
    # A pipe cannot be read twice: it is checked as the run reads it.
    pipe = io.BufferedReader(io.BytesIO(f"{ACCOUNT},{UPGRADE}\n".encode() * 10 + b"\x92\n"))
    refs = read_refs([("<stdin>", pipe)], None)
    with pytest.raises(InputFileError, match=r"not UTF-8: byte 0x92 at offset 540 \(line 11\)"):
        [item async for item in refs]


async def test_a_line_over_the_limit_is_an_invalid_line_and_the_next_are_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ids.csv"
    path.write_bytes(f"{ACCOUNT},{UPGRADE}\n{'x' * 300_000}\n{ACCOUNT},{UPGRADE}\n".encode())
    sources = open_id_sources([str(path)])
    try:
        items = [item async for item in read_refs(sources, None, max_line_bytes=1024)]
    finally:
        close_id_sources(sources)
    first, long_line, last = items
    assert first == last == REF
    assert isinstance(long_line, InvalidLine)
    assert long_line.line_number == 2
    assert "line of 300000 bytes, over the limit of 1024" in long_line.reason


def test_lists_with_no_usable_line_are_refused_with_the_first_reason(tmp_path: Path) -> None:
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    paths[0].write_text("accountName,upgradeId\n# nothing yet\n")
    paths[1].write_text("bad-1\nbad-2\n")
    sources = open_id_sources([str(path) for path in paths])
    try:
        with pytest.raises(InputFileError) as refused:
            refuse_if_nothing_usable(sources, ACCOUNT)
    finally:
        close_id_sources(sources)
    assert str(refused.value) == (
        "nothing to poll: no line of the id lists is usable (2 invalid; "
        f"the first, {paths[1]}:1: upgradeId 'bad-1' is not a UUID)"
    )


async def test_a_usable_line_anywhere_lets_the_run_read_every_list_from_its_start(
    tmp_path: Path,
) -> None:
    paths = [tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "empty.csv"]
    paths[0].write_text("bad\n" * 3000)
    paths[1].write_text(f"bad\n{UPGRADE}\n")
    paths[2].write_text("")
    sources = open_id_sources([str(path) for path in paths])
    try:
        refuse_if_nothing_usable(sources, ACCOUNT)
        items = [item async for item in read_refs(sources, ACCOUNT)]
    finally:
        close_id_sources(sources)
    assert len(items) == 3002
    assert items[-1] == REF


def test_a_pipe_among_the_lists_leaves_the_verdict_to_the_run(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("bad\n")
    pipe = io.BufferedReader(io.BytesIO(b"bad\n"))
    with path.open("rb") as stream:
        refuse_if_nothing_usable([(str(path), stream), ("<stdin>", pipe)], None)
        assert stream.tell() == 0
    assert pipe.tell() == 0


def test_a_closed_stdin_as_an_id_list_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(InputFileError, match="stdin"):
        open_id_sources(["-"])
