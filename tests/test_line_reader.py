"""Lines read in bounded memory: a line over the limit is one `LONG_LINE`, never held whole."""

from __future__ import annotations

import io
import random
import tracemalloc

import pytest

from fota_poller.errors import InputFileError
from fota_poller.line_reader import LONG_LINE, read_lines


def expected(data: bytes, max_bytes: int) -> list[bytes]:
    """What the reader must give: each line whole, or LONG_LINE past the limit."""
    lines = io.BytesIO(data).readlines()
    return [line if len(line) <= max_bytes else LONG_LINE for line in lines]


def test_lines_of_every_length_across_every_block_size_are_whole_or_long() -> None:
    rng = random.Random(18)
    for _ in range(2_000):
        lengths = [rng.choice((0, 1, 2, 5, 9, 10, 11, 30, 100)) for _ in range(rng.randrange(8))]
        data = b"".join(b"x" * length + b"\n" for length in lengths)
        if rng.random() < 0.3:  # a last line without its newline
            data += b"y" * rng.choice((1, 10, 50))
        max_bytes, block = rng.choice((1, 5, 10, 64)), rng.choice((1, 3, 7, 10, 64, 4096))
        got = list(read_lines(io.BytesIO(data), max_bytes, block))
        assert got == expected(data, max_bytes), (data, max_bytes, block)
        assert sum(line is LONG_LINE for line in got) == sum(
            line == LONG_LINE for line in expected(data, max_bytes)
        )


def test_a_long_line_is_never_held_whole() -> None:
    stream = io.BytesIO(b"a\n" + b"z" * 1_000_000 + b"\nb\n")
    tracemalloc.start()
    try:
        lines = list(read_lines(stream, max_bytes=1000, block=100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [b"a\n", LONG_LINE, b"b\n"]
    assert peak < 20_000  # a few blocks and the limit's worth; the line is a megabyte


def test_an_endless_line_of_nul_bytes_ends_the_read() -> None:
    with open("/dev/zero", "rb", buffering=0) as zeros:  # noqa: PTH123 - a device
        lines = read_lines(zeros, max_bytes=1 << 16, block=1 << 12)
        with pytest.raises(InputFileError, match="a line longer than 65536 bytes holds NUL"):
            next(lines)


def test_nul_bytes_in_a_short_line_are_only_a_line() -> None:
    assert list(read_lines(io.BytesIO(b"\0\0\nok\n"), max_bytes=10, block=4)) == [
        b"\0\0\n",
        b"ok\n",
    ]
