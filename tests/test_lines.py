"""Lines split from bytes in bounded memory: every chunking gives the same lines."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from fota_poller.lines import MAX_LINE_BYTES, LineSplitter, LongLine


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
