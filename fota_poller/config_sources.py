"""Where each config value came from: a flag, the config file, or the default.

- `FLAGS`: the flag that sets each key, for every command that has one (`poll`, `check`).
- `config_table`: the config file read, bounded, as TOML's table; `file_keys` the keys in it.
- `value_sources`: for each key of the effective config, its `Source`, which
  `fota-poller check` prints (`poll.rate = 10.0 (default)`).

Below `config.py`, which calls it: nothing here knows `Config`, only the Struct types given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from fota_poller.decoding import decode
from fota_poller.errors import ConfigError, InputDecodeError
from fota_poller.regular_files import read_followed
from fota_poller.text import bounded, escape_controls

# The one list of which flag sets which key: `poll --rate` lays its value over `poll.rate`.
# `check` has three of them under the same names. A test holds this list, poll's and check's
# options and docs/configuration.md's reference equal.
FLAGS: Final[Mapping[str, str]] = {
    "api.base_url": "--base-url",
    "api.account": "--account",
    "poll.concurrency": "--concurrency",
    "poll.rate": "--rate",
    "poll.timeout_s": "--timeout",
    "poll.deadline": "--deadline",
    "poll.max_attempts": "--max-attempts",
    "poll.lock_file": "--lock-file",
    "inventory.enabled": "--inventory",
    "output.path": "--output",
    "output.metrics_file": "--metrics-file",
    "output.emit": "--emit",
    "log.level": "--log-level",
    "log.format": "--log-format",
    "discover.statuses": "--status",
    "state.path": "--state",
}

# A config is a few kB; a file over this is no config (and is not read whole).
MAX_CONFIG_BYTES: Final = 1 << 20
_VALUE_CHARS: Final = 200


def config_table(path: Path) -> dict[str, Any]:
    """The config file at `path` as TOML's table; a `ConfigError` naming the file if it is none."""
    raw = _config_bytes(path)
    try:
        table: dict[str, Any] = decode(msgspec.toml.decode, _toml_text(path, raw))
    except InputDecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML: {exc.reason}") from None
    return table


def _config_bytes(path: Path) -> bytes:
    # Any path $FOTA_POLLER_CONFIG names: a FIFO or /dev/zero is refused, never read.
    try:
        raw = read_followed(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path}: over {MAX_CONFIG_BYTES >> 20} MB, no config file")
    return raw


def _toml_text(path: Path, raw: bytes) -> str:
    """The file as text: UTF-8 as TOML requires, naming the first byte that is not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config {path}: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"(line {line}); save the file as UTF-8"
        ) from None
    # A leading byte order mark is valid UTF-8 and editors on Windows write one; tomllib
    # (under msgspec.toml) rejects it as "Invalid statement (at line 1, column 1)".
    return text.removeprefix("\ufeff")


def struct_type(kind: object) -> type[msgspec.Struct] | None:
    """`kind` when it is a Struct type (a table of the config), else None."""
    return kind if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else None


def struct_fields(schema: type[msgspec.Struct]) -> dict[str, object]:
    """The keys `schema` takes, as a TOML file spells them, and their types."""
    return {field.encode_name: field.type for field in msgspec.structs.fields(schema)}


def file_keys(table: Mapping[str, object], schema: type[msgspec.Struct]) -> frozenset[str]:
    """The dotted keys of the settings a decoded config file sets: `poll.rate`, not `poll`."""
    found: set[str] = set()
    fields = struct_fields(schema)
    for name, value in table.items():
        nested = struct_type(fields.get(name))
        if nested is not None and isinstance(value, Mapping):
            found |= {f"{name}.{key}" for key in file_keys(value, nested)}
        elif name in fields:
            found.add(name)
    return frozenset(found)


def shown_value(value: object) -> str:
    """A config value as TOML writes it (`10.0`, `"http://..."`, `["Queued"]`), escaped, cut."""
    if value is None:
        return "unset"
    text = msgspec.json.encode(value).decode()
    return bounded(escape_controls(text), _VALUE_CHARS)


class Source(msgspec.Struct, frozen=True):
    """Where one value came from: `flag --rate`, `env THINGSPACE_APP_KEY`, `file ...`, `default`.

    `via` names what chose the file, when that was not `--config`: `$FOTA_POLLER_CONFIG`.
    """

    kind: Literal["flag", "env", "file", "default"]
    name: str = ""
    via: str = ""

    def __str__(self) -> str:
        shown = f"{self.kind} {self.name}" if self.name else self.kind
        return f"{shown} via {self.via}" if self.via else shown


class ValueSource(msgspec.Struct, frozen=True):
    """One key of the effective config, its value (as the config encodes it) and its source."""

    key: str
    value: object
    source: Source


def value_sources(
    values: Mapping[str, Mapping[str, object]],
    *,
    flags: Mapping[str, str],
    file: Path | None,
    file_keys: frozenset[str],
    via: str = "",
) -> list[ValueSource]:
    """Each key of `values` (the effective config, as builtins) and where its value came from.

    A flag wins over the file, the file over the default. `flags` maps each key a flag set
    to that flag; `file_keys` are the keys the file sets; `via` is what named the file
    (`$FOTA_POLLER_CONFIG`), empty for `--config` and the file in /etc.
    """
    found: list[ValueSource] = []
    for section, settings in values.items():
        for name, value in settings.items():
            key = f"{section}.{name}"
            if key in flags:
                source = Source("flag", flags[key])
            elif key in file_keys and file is not None:
                source = Source("file", str(file), via)
            else:
                source = Source("default")
            found.append(ValueSource(key, value, source))
    return found
