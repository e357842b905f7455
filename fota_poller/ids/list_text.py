"""An id list's bytes turned into text: its encoding found and checked, its lines split.

A UTF-16 byte order mark (a spreadsheet's "Unicode Text") means UTF-16, a UTF-8 one (its
"CSV UTF-8") is dropped; anything else must be UTF-8. The first byte that does not fit ends
the read with one line naming its offset, its line and the encoding it most likely is in. A
NUL byte is refused too: no id list holds one, and a UTF-16 file without its mark is half NULs.
Lines are split by `fota_poller.lines` (a line over the limit is never held whole).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterator
from typing import IO, Final, NamedTuple, cast

from fota_poller.errors import InputFileError
from fota_poller.lines import MAX_LINE_BYTES, LineSplitter, LongLine

# Bytes read from the file at a time: a thread hop per chunk (about 1,300 usual lines).
READ_CHUNK: Final = 64 * 1024
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LONGEST_BOM: Final = 3
_Decode = Callable[[bytes, str, bool], tuple[str, int]]
_DECODERS: Final[dict[str, _Decode]] = {
    "utf-8": codecs.utf_8_decode,
    "utf-16-le": codecs.utf_16_le_decode,
    "utf-16-be": codecs.utf_16_be_decode,
}


class TextBlock(NamedTuple):
    """Whole lines of a list (each ending with LF, but perhaps the list's last), numbered."""

    text: str
    first_line: int


class TooLong(NamedTuple):
    """A line dropped unread for its length (bytes, as UTF-8)."""

    line_number: int
    length: int


class ListDecoder:
    """One list's bytes in, checked UTF-8 out; `InputFileError` at the first byte that is not."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._encoding: str | None = None  # known once the first bytes are seen
        self._head = b""  # the first bytes, held until a byte order mark can be told
        self._pending = b""  # the start of a character cut by the end of a chunk
        self._offset = 0  # where `_pending` starts in the file
        self._lines = 0  # line ends before `_offset`

    def feed(self, data: bytes, *, final: bool = False) -> bytes:
        """The UTF-8 text of `data` (and of what earlier chunks left pending)."""
        if self._encoding is None:
            data = self._head + data
            if len(data) < _LONGEST_BOM and not final:
                self._head = data
                return b""
            self._head = b""
            bom, self._encoding = next(
                ((bom, name) for bom, name in _BOMS if data.startswith(bom)), (b"", "utf-8")
            )
            data = data[len(bom) :]
            self._offset = len(bom)
        return self._checked(self._encoding, self._pending + data, final=final)

    def _checked(self, encoding: str, chunk: bytes, *, final: bool) -> bytes:
        decode = _DECODERS[encoding]
        try:
            text, used = decode(chunk, "strict", final)
        except UnicodeDecodeError as exc:
            raise self._refusal(encoding, chunk, exc.start) from None
        if "\x00" in text:
            nul = text.index("\x00")
            start = (
                chunk.index(b"\x00")
                if encoding == "utf-8"
                else len(text[:nul].encode(encoding, "surrogatepass"))
            )
            raise self._refusal(encoding, chunk, start)
        self._pending = chunk[used:]
        self._offset += used
        self._lines += text.count("\n")
        # UTF-8 passes as it came (only what is whole); UTF-16 is written out as UTF-8.
        return chunk[:used] if encoding == "utf-8" else text.encode()

    def _refusal(self, encoding: str, chunk: bytes, start: int) -> InputFileError:
        before = _DECODERS[encoding](chunk[:start], "replace", True)[0]  # noqa: FBT003 - final
        line = self._lines + before.count("\n") + 1
        where = f"byte 0x{chunk[start]:02x} at offset {self._offset + start} (line {line})"
        if encoding != "utf-8":
            return InputFileError(
                f"id list {self._name} starts with a UTF-16 byte order mark but is not UTF-16: "
                f"{where}; save it again as UTF-8"
            )
        return InputFileError(
            f"id list {self._name} is not UTF-8: {where}; {_likely(chunk[start])}"
        )


def _likely(byte: int) -> str:
    """What a byte that is not UTF-8 says about the file, and what to do."""
    if byte == 0:
        return "it looks like UTF-16 without a byte order mark: save it as UTF-8"
    shown = bytes([byte]).decode("cp1252", "replace")
    char = f" ({shown!r} there)" if shown.isprintable() and shown != "\ufffd" else ""
    return (
        f"it looks like cp1252/latin-1{char}, a spreadsheet's plain CSV on Windows: "
        'save it as UTF-8 ("CSV UTF-8")'
    )


class ListText:
    """One id list read a chunk at a time: its text in blocks of whole lines, numbered."""

    def __init__(self, name: str, stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._stream = stream
        self._decoder = ListDecoder(name)
        self._splitter = LineSplitter(max_line_bytes)
        self._lines = 0  # lines handed on so far
        self._ended = False

    @property
    def ended(self) -> bool:
        """True once the list's end (or its cut) was taken in: nothing more comes out."""
        return self._ended

    @property
    def lines(self) -> int:
        """Lines handed on so far."""
        return self._lines

    def read(self) -> list[TextBlock | TooLong] | None:
        """What the next chunks complete (an empty list at most once); None after the end.

        Blocks until the stream gives bytes: a regular file's read, in a worker thread.
        """
        while not self._ended:
            pieces = self.take(_read_some(self._stream, READ_CHUNK))
            if pieces or self._ended:
                return pieces
        return None

    def take(self, data: bytes) -> list[TextBlock | TooLong]:
        """The lines `data` completes; `b""` is the list's end, which hands on its last line.

        For a reader that gets the bytes itself (a pipe read in the event loop, pipe_reader.py).
        """
        if data:
            pieces = self._splitter.feed(self._decoder.feed(data))
        else:
            self._ended = True
            pieces = self._splitter.feed(self._decoder.feed(b"", final=True))
            pieces += self._splitter.finish()
        return [self._numbered(piece) for piece in _blocks(pieces)]

    def cut(self) -> bool:
        """Take no more: the list is given up where it is; True if a line was left unfinished.

        A line still arriving may be cut anywhere, so it is not handed on as an id.
        """
        self._ended = True
        return self._splitter.holding

    def validate_rest(self, chunk: int = 1024 * 1024) -> None:
        """Read the rest only to check its encoding, in bounded memory; no lines come out."""
        while data := _read_some(self._stream, chunk):
            self._decoder.feed(data)
        self._decoder.feed(b"", final=True)
        self._ended = True

    def _numbered(self, piece: bytes | LongLine) -> TextBlock | TooLong:
        first = self._lines + 1
        if isinstance(piece, LongLine):
            self._lines += 1
            return TooLong(first, piece.length)
        # Already checked, whole characters only: "replace" never has anything to replace.
        text = piece.decode("utf-8", "replace")
        self._lines += text.count("\n") + (not text.endswith("\n"))
        return TextBlock(text, first)


def _blocks(lines: list[bytes | LongLine]) -> Iterator[bytes | LongLine]:
    """The lines joined into blocks between the long ones: one text to decode per block."""
    start = 0
    for index, line in enumerate(lines):
        if isinstance(line, LongLine):
            if index > start:
                yield b"".join(cast("list[bytes]", lines[start:index]))
            yield line
            start = index + 1
    if start < len(lines):
        yield b"".join(cast("list[bytes]", lines[start:]))


def _read_some(stream: IO[bytes], size: int) -> bytes:
    """Up to `size` bytes: what a pipe has now (at least one), or a file's next `size`."""
    if isinstance(stream, io.BufferedIOBase):
        return stream.read1(size)
    return stream.read(size)
