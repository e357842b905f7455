"""Short, escaped excerpts of text nobody validated (an input line, a server's value).

A record or an error message quotes such text only through `excerpt`, so a terminal
escape, a line separator or a megabyte-long line never reaches a record or a log raw.
"""

from __future__ import annotations

from typing import Final

EXCERPT_CHARS: Final = 48


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


def _escaped(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")
