"""Input decoded whatever it holds: any exception of the decoder becomes one `InputDecodeError`.

msgspec raises more than `msgspec.DecodeError` on hostile input: `UnicodeDecodeError` for an
invalid UTF-8 byte inside a string, `UnicodeEncodeError` for a lone surrogate in a `str`,
`RecursionError` for deep nesting (how deep depends on the stack already in use, so about
1,000 levels inside a run's tasks), and a decode hook may raise anything. Every decode of
something from outside (a response body, a report page, a token answer, an id list's JSON
line, a records line, the config) goes through `decode`, so each caller has one error to
turn into its documented failure: a `decode` record, an auth failure, a discovery failure,
a bad line counted.

The bottom layer: it imports nothing of the package but `errors`, so every folder may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import msgspec

from fota_poller.errors import InputDecodeError

_Input = TypeVar("_Input", bytes, str)
_Decoded = TypeVar("_Decoded")

# The decoder's own message is short (msgspec names the JSON path, not the value); one of
# an exception nobody foresaw is cut here so a record or a log line stays one short line.
MAX_REASON_CHARS: Final = 200


def decode(read: Callable[[_Input], _Decoded], data: _Input) -> _Decoded:
    """`read(data)`, or `InputDecodeError` saying in one line why `data` could not be read.

    `read` is a decoder's `decode` (`msgspec.json.Decoder(T).decode`, or `msgspec.toml.decode`
    with its type bound); `InputDecodeError.invalid` tells a shape the data does not fit
    (`msgspec.ValidationError`) from data that is not JSON or TOML at all.
    """
    try:
        return read(data)
    except Exception as exc:  # noqa: BLE001 - any failure of the decoder is the input's fault
        invalid = isinstance(exc, msgspec.ValidationError)
        raise InputDecodeError(_reason(exc), invalid=invalid) from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        # msgspec names the string's own bytes, not the body's: the offset is in the string.
        byte = exc.object[exc.start : exc.start + 1].hex()
        return f"a string is not valid UTF-8: byte 0x{byte} at offset {exc.start} of it"
    if isinstance(exc, UnicodeEncodeError):
        return f"a lone surrogate U+{ord(exc.object[exc.start]):04X} at character {exc.start}"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "too large to read"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, msgspec.MsgspecError):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."
