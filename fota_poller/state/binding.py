"""How the state's values are bound into SQL: None and bools through an adapter of their own.

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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import cast

_as_none = cast("Callable[[None], None]", {}.get)
sqlite3.register_adapter(type(None), _as_none)
sqlite3.register_adapter(bool, int)
