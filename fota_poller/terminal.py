r"""Text from outside (server answers, id files) made safe to print on an operator's terminal.

A value such as an `error_code` or an account name can hold `ESC[2J`, which a terminal obeys:
it clears the screen, moves the cursor, retitles the window. C0 and C1 controls, DEL and the
Unicode line and paragraph separators are shown as `\xNN` / `\uNNNN` instead.
"""

from __future__ import annotations

import re
from typing import Final

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
