"""How the state's values cross into SQL and back: None and bools in, text that is not UTF-8 out.

Python's sqlite3 binds an int, a float or a str as it is, but a None or a bool only after
its adaptation protocol has looked for an adapter and failed, which costs more than the
bind itself: `SELECT ?` takes 936 ns with None against 644 with an int, 711 with the
adapter below (bench/sqlite_binding.py). A device row binds two of them whenever a device
has no reason or no on-target status, which is most rows. Registered adapters make that a
dictionary lookup and a C call: None is bound as None (`{}.get` gives None for any value,
a C call where a lambda would be a Python one), a bool as the integer SQLite keeps for it
anyway: 100,000 new device rows, reason and on-target status unknown, take 136 ms of CPU
against 183 (the same bench). The nights of history bind neither (history_batch.py: NULL
in the SQL).

sqlite3's adapters are the process's, so importing this module (the package does, whatever
of it is imported) changes how every connection in the process binds None and bools; no
value bound changes, only what finding the way costs.

Back: sqlite3 decodes a TEXT value as UTF-8 and fails the whole query on one that is not (a
file edited by hand or by another program: `CAST(X'FF' AS TEXT)`). `lenient_text`, a
connection's text factory, reads such a value as none, as a blob where a status or a name was
written is read (schema.py, `stored_text`): unknown, never a refused file. It costs a Python
call per text value (300,000 rows of three texts: 212 ms against 164, by hand), so the
readers' connections use it (schema.py, read-only ones), and a run's store only when its
plain read of a campaign's devices met such a value (store.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import cast

_as_none = cast("Callable[[None], None]", {}.get)
sqlite3.register_adapter(type(None), _as_none)
sqlite3.register_adapter(bool, int)


def lenient_text(data: bytes) -> str | None:
    """A TEXT value as read from the state: its UTF-8, or None when it is not UTF-8."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None
