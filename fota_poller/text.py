r"""Text nobody validated (an input line, a server's value), made safe to quote or print.

`excerpt` quotes such text in a record or an error message: short, escaped, so a terminal
escape, a line separator or a megabyte-long line never reaches a record or a log raw.
`bounded` cuts a server's error code or message to `ERROR_TEXT_CHARS`, saying that it did
(`api.redact.Redactor.redact(text, limit=...)` redacts first, then calls it).
`escape_controls` makes a value safe to print on an operator's terminal: a value such as an
`error_code` or an account name can hold `ESC[2J`, which a terminal obeys (it clears the
screen, moves the cursor, retitles the window). C0 and C1 controls, DEL and the Unicode line
and paragraph separators are shown as `\xNN` / `\uNNNN` instead.
`escape_line_separators` does the same for the line separators of an encoded JSON line (every
record, every JSON answer), which line splitters would break.
"""

from __future__ import annotations

import re
from typing import Final

EXCERPT_CHARS: Final = 48
# An error code or message from a server, in a record or a log line: ThingSpace's are under
# a hundred characters; a 2 MB one must not be copied into every record and line.
ERROR_TEXT_CHARS: Final = 200
# A message of ours that quotes a server's text (an exception's, a log line's `error`, the
# CLI's error line, a `check` line): ours are under 300 characters.
MESSAGE_CHARS: Final = 1000


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` quoted, non-printable characters escaped, at most about `limit` characters shown."""
    shown: list[str] = []
    used = 0
    for position, char in enumerate(text):
        # isprintable() is False for controls (ESC), format characters (BOM, bidi overrides),
        # U+2028/U+2029 and unassigned code points: those are shown as \x1b, \ufeff, ...
        piece = char if char.isprintable() and char != "\\" else _escaped(char)
        if used + len(piece) > limit:
            return f"'{''.join(shown)}'... ({len(text) - position} more chars)"
        shown.append(piece)
        used += len(piece)
    return f"'{''.join(shown)}'"


def bounded(text: str, limit: int = ERROR_TEXT_CHARS, *, total: int | None = None) -> str:
    """`text` when at most `limit` characters, else its start and `…[cut, N chars]`.

    `total` is the length of the text `text` was made from, when that was longer (a window
    of it, redacted): the marker then says so, and gives that length. A text cut once
    already (a record's error code, logged) is left as it is: cut again, its marker would
    give the length of the cut text rather than the server's.
    """
    if already_cut(text, limit)[1]:
        return text
    whole = len(text) if total is None else total
    if len(text) <= limit and whole <= len(text):
        return text
    return f"{text[:limit]}…[cut, {whole} chars]"


_CUT_MARKER: Final = re.compile(r"…\[cut, \d+ chars\]\Z")


def already_cut(text: str, limit: int) -> tuple[str, str]:
    """(the start, the marker) of a text `bounded` cut to at most `limit`; else (text, "")."""
    marker = _CUT_MARKER.search(text, max(0, len(text) - 40))
    if marker is None or marker.start() > limit:
        return text, ""
    return text[: marker.start()], marker.group()


def _escaped(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"  # noqa: PLR2004 - one byte


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape; unchanged when it has none."""
    # search first: nearly every value is clean and needs no callback at all.
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape_one, text)


# U+2028 and U+2029 in UTF-8. Valid raw in JSON, and msgspec writes them raw, but line
# splitters (Python's splitlines(), some JavaScript) break lines there.
_LINE_SEPARATOR: Final = "\u2028".encode()
_PARAGRAPH_SEPARATOR: Final = "\u2029".encode()
_LEAD_BYTE: Final = b"\xe2"


def escape_line_separators(data: bytes) -> bytes:
    r"""`data` with U+2028 and U+2029 written as the JSON escapes `\u2028` and `\u2029`.

    In UTF-8 their bytes cannot be part of another character, and in our JSON lines they
    can only be inside strings, so a byte replace is exact. Both start with 0xE2, as only
    U+2000-U+2FFF do: the usual case is one memchr over the bytes (about 4 us for 100 device
    lines), where searching for the 3-byte sequences costs some 50 times more.
    """
    if _LEAD_BYTE not in data:
        return data
    if _LINE_SEPARATOR in data:
        data = data.replace(_LINE_SEPARATOR, b"\\u2028")
    if _PARAGRAPH_SEPARATOR in data:
        data = data.replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
    return data
