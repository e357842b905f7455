"""A config error worded as the operator gave the value: the key in the file, or the flag.

- `unknown_keys_message`: a config file's keys and tables that are no setting, the first
  with the closest real name (`did you mean poll.concurrency?`), and how many more.
- `file_value_message` / `flag_value_message`: a refused value, named by its key for the
  file's (`` `poll.rate`: must be a number >= 0, not -1 ``), by its flag for a flag's
  (`--rate: must be a number >= 0, not -1.0`).

Below `config.py`, which calls it: nothing here knows `Config`, only the Struct types given.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from fota_poller.config_sources import FLAGS, shown_value, struct_fields, struct_type
from fota_poller.text import EXCERPT_CHARS, bounded, excerpt

# How alike (difflib's ratio) a key must be to be offered, as for a misspelt flag
# (commands/options.py): `concurency` and `concurrency` are 0.95, `pol` and `poll` 0.86.
_CUTOFF: Final = 0.6
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
# msgspec's `Expected `float` >= 0.0 - at `$.poll.rate``: the reason, then the path.
_AT_PATH: Final = re.compile(r"^(?P<reason>.*) - at `\$\.?(?P<path>[^`]*)`$", re.DOTALL)
_BOUND: Final = re.compile(r"^Expected `(int|float)` (>=|>|<=|<) (\S+)$")
_PATTERN: Final = re.compile(r"^Expected `str` matching regex '(.*)'$")


def _all_keys(schema: type[msgspec.Struct], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key `schema` takes, tables and the keys in them: (`poll`,), (`poll`, `rate`)."""
    found: list[tuple[str, ...]] = []
    for name, kind in struct_fields(schema).items():
        found.append((*prefix, name))
        nested = struct_type(kind)
        if nested is not None:
            found += _all_keys(nested, (*prefix, name))
    return found


def unknown_keys(
    table: Mapping[str, object], schema: type[msgspec.Struct], prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """The keys of a decoded config file that `schema` does not take, in the file's order."""
    found: list[tuple[str, ...]] = []
    fields = struct_fields(schema)
    for name, value in table.items():
        if name not in fields:
            found.append((*prefix, name))
            continue
        nested = struct_type(fields[name])
        if nested is not None and isinstance(value, Mapping):
            found += unknown_keys(value, nested, (*prefix, name))
    return found


def unknown_keys_message(
    unknown: Sequence[tuple[str, ...]], table: Mapping[str, object], schema: type[msgspec.Struct]
) -> str:
    """`unknown key poll.concurency (did you mean poll.concurrency?)`: the first, and a count.

    One line of bounded length whatever the file holds: a key's control characters are
    escaped, a long key is cut, and 10,000 unknown keys are the first and `9,999 more`.
    """
    first = unknown[0]
    value: object = table
    for part in first:
        value = value[part] if isinstance(value, Mapping) else None
    kind = "table" if isinstance(value, Mapping) else "key"
    message = f"unknown {kind} {_shown_key(first, table=kind == 'table')}"
    suggestion = _closest(first, schema, table=kind == "table")
    if suggestion:
        shown = " or ".join(_shown_key(key, table=kind == "table") for key in suggestion)
        message += f" (did you mean {shown}?)"
    more = len(unknown) - 1
    if more:
        message += f"; and {more:,} more unknown key{'s' if more > 1 else ''}"
    return message


def _is_table(schema: type[msgspec.Struct], key: tuple[str, ...]) -> bool:
    kind: object = schema
    for part in key:
        struct = struct_type(kind)
        kind = None if struct is None else struct_fields(struct).get(part)
    return struct_type(kind) is not None


def _closest(
    key: tuple[str, ...], schema: type[msgspec.Struct], *, table: bool
) -> list[tuple[str, ...]]:
    """The real keys `key` most likely meant: a sibling alike, else those of that name elsewhere.

    `[poll] concurency` is `poll.concurrency`; `[poll] base_url`, a key in the wrong table,
    is `api.base_url`; a table is offered for a table, a key for a key. Empty when nothing is
    alike enough: no suggestion beats a wrong one.
    """
    *parent, name = key
    known = [k for k in _all_keys(schema) if _is_table(schema, k) == table]
    siblings = [k[-1] for k in known if list(k[:-1]) == parent]
    best = difflib.get_close_matches(name, siblings, n=1, cutoff=_CUTOFF)
    if best:
        return [(*parent, best[0])]
    elsewhere: dict[str, list[tuple[str, ...]]] = {}
    for other in known:
        elsewhere.setdefault(other[-1], []).append(other)
    best = difflib.get_close_matches(name, list(elsewhere), n=1, cutoff=_CUTOFF)
    return elsewhere[best[0]] if best else []


def _shown_key(key: tuple[str, ...], *, table: bool) -> str:
    """A key as TOML writes it, `poll.rate` or `[poll]`; an odd part quoted, escaped, cut."""
    parts = [part if _BARE_KEY.fullmatch(part) else excerpt(part) for part in key]
    dotted = bounded(".".join(parts), 4 * EXCERPT_CHARS)
    return f"[{dotted}]" if table else dotted


def _split(message: str) -> tuple[str, str, tuple[str, ...]]:
    """(reason, key, path) of msgspec's message; the key without a list index."""
    found = _AT_PATH.match(message)
    if found is None:
        return message, "", ()
    path = found["path"]
    key = re.sub(r"\[\d+\]", "", path)
    return found["reason"], key, tuple(re.findall(r"\[(\d+)\]", path))


def _reason(reason: str, value: object) -> str:
    """The reason as an operator reads it: `Expected `float` >= 0.0` is `must be a number >= 0`."""
    bound = _BOUND.match(reason)
    if bound is not None:
        kind = "an integer" if bound[1] == "int" else "a number"
        return f"must be {kind} {bound[2]} {float(bound[3]):g}, not {shown_value(value)}"
    pattern = _PATTERN.match(reason)
    if pattern is not None:
        return f"must match {pattern[1]}, not {shown_value(value)}"
    return reason


def _value_at(values: Mapping[str, object], key: str, indexes: tuple[str, ...]) -> object:
    value: object = values
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return _item(value, indexes)


def _item(value: object, indexes: tuple[str, ...]) -> object:
    """The list item a path's `[1]` names (`--status Queued,Bad$`: `Bad$`)."""
    for index in indexes:
        value = value[int(index)] if isinstance(value, list | tuple) else value
    return value


def file_value_message(message: str, table: Mapping[str, object]) -> str:
    """A value of the config file refused: ``poll.rate`: must be a number >= 0, not -1`."""
    reason, key, indexes = _split(message)
    if not key:
        return reason
    if "." not in key and reason.startswith(f"{key}."):
        return reason  # a section's own check (`api.base_url ...`) already names its key
    return f"`{key}`: {_reason(reason, _value_at(table, key, indexes))}"


def flag_value_message(message: str, given: Mapping[str, object]) -> str | None:
    """A flag's value refused, named by its flag: `--rate: must be a number >= 0, not -1.0`.

    `given` holds the values laid over the config by dotted key; None when the refused
    value is none of them.
    """
    reason, key, indexes = _split(message)
    for dotted, value in given.items():
        flag = FLAGS.get(dotted, dotted)
        if dotted == key:
            return f"{flag}: {_reason(reason, _item(value, indexes))}"
        if "." not in key and dotted.startswith(f"{key}.") and reason.startswith(dotted):
            return f"{flag}{reason.removeprefix(dotted)}"
    return None
