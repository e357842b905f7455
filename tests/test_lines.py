"""Lines split from bytes in bounded memory: every chunking gives the same lines.

Pushed (`LineSplitter`, the id lists) or pulled (`read_lines`, `summary`): one splitter, the
same lines; a line over the limit is one `LongLine`, never held whole.
"""

from __future__ import annotations

import io
import random
import tracemalloc

import pytest

from fota_poller.errors import InputFileError
from fota_poller.lines import MAX_LINE_BYTES, LineSplitter, LongLine, read_lines


def split(chunks: list[bytes], limit: int = MAX_LINE_BYTES) -> list[bytes | LongLine]:
    """Every line, one per item (blocks cut at their line ends), long lines as they come."""
    splitter = LineSplitter(limit)
    pieces = [piece for chunk in chunks for piece in splitter.feed(chunk)] + splitter.finish()
    out: list[bytes | LongLine] = []
    for piece in pieces:
        out.extend([piece] if isinstance(piece, LongLine) else piece.splitlines(keepends=True))
    return out


def chunked(data: bytes, seed: int) -> list[bytes]:
    generator = random.Random(seed)
    chunks, start = [], 0
    while start < len(data):
        size = generator.randint(1, 7)
        chunks.append(data[start : start + size])
        start += size
    return chunks


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_gives_the_lines_of_the_whole(seed: int) -> None:
    data = b"a,1\r\nbb,22\rccc,333\n\n\r\nlong line here\r\nx" + b"y" * 30 + b"\nlast"
    whole = split([data], limit=20)
    assert whole == [
        b"a,1\n",
        b"bb,22\n",
        b"ccc,333\n",
        b"\n",
        b"\n",
        b"long line here\n",
        LongLine(31),
        b"last",
    ]
    assert split(chunked(data, seed), limit=20) == whole


def test_a_line_of_exactly_the_limit_is_kept_and_one_byte_more_is_not() -> None:
    assert split([b"12345\n123456\n"], limit=5) == [b"12345\n", LongLine(6)]
    assert split([b"123", b"45\n1234", b"56\n"], limit=5) == [b"12345\n", LongLine(6)]


def test_a_crlf_cut_between_chunks_ends_one_line() -> None:
    assert split([b"a\r", b"\nb\r", b"\r\n"]) == [b"a\n", b"b\n", b"\n"]


def test_a_long_last_line_without_its_end_is_still_reported() -> None:
    assert split([b"ok\n", b"z" * 10, b"z" * 10], limit=8) == [b"ok\n", LongLine(20)]


def test_a_line_many_times_the_limit_is_never_held() -> None:
    # 40 MB through a 1 MB limit in 64 kB chunks: the splitter holds at most about the limit.
    chunk = b"q" * 65536
    splitter = LineSplitter(1024 * 1024)
    tracemalloc.start()
    try:
        for _ in range(40 * 16):
            assert splitter.feed(chunk) == []
        pieces = splitter.feed(b"q\nnext\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pieces == [LongLine(40 * 1024 * 1024 + 1), b"next\n"]
    assert peak < 3 * 1024 * 1024


def test_a_line_holding_nul_bytes_past_the_limit_ends_the_split() -> None:
    splitter = LineSplitter(8)
    assert splitter.feed(b"ok\n" + b"z" * 10) == [b"ok\n"]
    with pytest.raises(InputFileError, match="a line longer than 8 bytes holds NUL"):
        splitter.feed(b"z\0z")


def expected(data: bytes, limit: int) -> list[bytes | LongLine]:
    """What `read_lines` must give: each line whole, or its length past the limit."""
    lines = io.BytesIO(data).readlines()
    return [
        line if len(line.removesuffix(b"\n")) <= limit else LongLine(len(line.removesuffix(b"\n")))
        for line in lines
    ]


def test_pulled_lines_of_every_length_across_every_block_size_are_whole_or_long() -> None:
    rng = random.Random(18)
    for _ in range(2_000):
        lengths = [rng.choice((0, 1, 2, 5, 9, 10, 11, 30, 100)) for _ in range(rng.randrange(8))]
        data = b"".join(b"x" * length + b"\n" for length in lengths)
        if rng.random() < 0.3:  # a last line without its newline
            data += b"y" * rng.choice((1, 10, 50))
        limit, block = rng.choice((1, 5, 10, 64)), rng.choice((1, 3, 7, 10, 64, 4096))
        got = list(read_lines(io.BytesIO(data), limit, block))
        assert got == expected(data, limit), (data, limit, block)


def test_pulled_lines_end_with_lf_whatever_the_line_ends() -> None:
    data = b"a\r\nb\rc\n\r\nd"
    assert list(read_lines(io.BytesIO(data), block=3)) == [b"a\n", b"b\n", b"c\n", b"\n", b"d"]


def test_a_long_pulled_line_is_never_held_whole() -> None:
    stream = io.BytesIO(b"a\n" + b"z" * 1_000_000 + b"\nb\n")
    tracemalloc.start()
    try:
        lines = list(read_lines(stream, limit=1000, block=100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [b"a\n", LongLine(1_000_000), b"b\n"]
    assert peak < 20_000  # a few blocks and the limit's worth; the line is a megabyte


def test_an_endless_line_of_nul_bytes_ends_the_read() -> None:
    with open("/dev/zero", "rb", buffering=0) as zeros:  # noqa: PTH123 - a device
        lines = read_lines(zeros, limit=1 << 16, block=1 << 12)
        with pytest.raises(InputFileError, match="a line longer than 65536 bytes holds NUL"):
            next(lines)


def test_nul_bytes_in_a_short_line_are_only_a_line() -> None:
    assert list(read_lines(io.BytesIO(b"\0\0\nok\n"), limit=10, block=4)) == [
        b"\0\0\n",
        b"ok\n",
    ]
