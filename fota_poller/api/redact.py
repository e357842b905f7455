"""Keeping secrets in the process: one `Redactor` per run, applied to everything that leaves it.

The run owns one `Redactor` and hands it down: the log processor (it is a structlog
processor), the records' error fields and a 200 body's text (`output/campaign.py`,
`run/writer.py`), `check`'s lines and the CLI's error line all call `redact`. It replaces
(1) the configured secrets and the tokens obtained during the run (added as soon as they are
known), in the forms a server may echo them: as they are, URL-encoded, base64 (alone, at any
alignment inside a longer base64 text, and `base64(key:secret)` as Basic auth sends it);
(2) anything that looks like a `Bearer`/`Basic` credential; (3) the whole value of a key whose
name says it holds a secret, and a value that is a secret whole.

A secret shorter than `MIN_SECRET_CHARS` is redacted only where a whole value equals it: as
a substring it would mangle every line (a one-character token) and tell the reader what it
is. Each form is replaced with `str.replace`, longest first: linear in the text and in the
secret, whatever a token's size (a regex alternation costs ~100 bytes per secret character
to compile: 790 MB for an 8 MB token).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, quote_plus

import msgspec

from fota_poller.text import ERROR_TEXT_CHARS, bounded

if TYPE_CHECKING:
    from fota_poller.api.credentials import Credentials
    from fota_poller.errors import FotaPollerError

REDACTED: Final = "<redacted>"
# Shorter secrets are redacted only where a whole value equals one (see the module's text).
MIN_SECRET_CHARS: Final = 8

_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# What `mentions` looks for in a body: a credential scheme's name, in its two usual cases
# (a mixed-case one reaches the slow path through the secrets only).
_SCHEME_BYTES: Final = (b"earer", b"EARER", b"asic", b"ASIC")
_SECRET_KEYS: Final = frozenset(
    {
        "access_token",
        "app_key",
        "app_secret",
        "authorization",
        "bearer_token",
        "password",
        "session_token",
        "sessiontoken",
        "vz-m2m-token",
    }
)
# Log fields holding a server's error text: cut to `ERROR_TEXT_CHARS` like the records'.
_ERROR_TEXT_KEYS: Final = frozenset({"error_code", "error_message"})
_PLAIN = (int, float, bool, type(None))


def secret_forms(secret: str) -> set[str]:
    """The forms of `secret` a server may echo: itself, URL-encoded, base64 at each alignment.

    Base64 of a secret inside a longer text (`base64(key:secret)`) depends on where it starts
    modulo 3: the whole 3-byte groups from each of the three starts are the characters that
    appear whatever surrounds it. Forms shorter than `MIN_SECRET_CHARS` are left out.
    """
    raw = secret.encode("utf-8", errors="surrogatepass")
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    for start in range(3):
        whole_groups = raw[start : start + (len(raw) - start) // 3 * 3]
        core = base64.b64encode(whole_groups).decode("ascii")
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    padded = base64.b64encode(raw).decode("ascii")
    forms |= {padded, padded.rstrip("=")}
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class Redactor:
    """The run's one redaction step; `add()` more secrets as the run learns them (new tokens)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._whole: set[str] = set()  # every secret, for a value equal to one
        self._forms: list[str] = []  # every substring form, longest first
        self._known: set[str] = set()
        self._body_forms: tuple[bytes, ...] = ()  # the forms as a JSON body spells them
        self._longest = 0
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Redact these values from now on (empty strings are ignored)."""
        fresh = {secret for secret in secrets if secret} - self._whole
        if not fresh:
            return
        self._whole |= fresh
        long_enough = [secret for secret in fresh if len(secret) >= MIN_SECRET_CHARS]
        new_forms = {form for secret in long_enough for form in secret_forms(secret)}
        new_forms -= self._known
        if not new_forms:
            return
        self._known |= new_forms
        # Longest first, so a form that contains another is replaced whole. Sorting is
        # O(n log n) in the number of forms, not in their length.
        self._forms = sorted(self._known, key=len, reverse=True)
        self._longest = len(self._forms[0])
        body = set(self._body_forms)
        for form in new_forms:
            encoded = msgspec.json.encode(form)[1:-1]
            body |= {encoded, encoded.replace(b"/", b"\\/")}
        self._body_forms = tuple(body)

    def add_credentials(self, credentials: Credentials) -> None:
        """Every credential, and the pairs as Basic auth sends them (`base64(key:secret)`)."""
        self.add(*credentials.values())
        for first, second in (
            (credentials.app_key, credentials.app_secret),
            (credentials.username, credentials.password),
        ):
            if first is not None and second is not None:
                self.add(f"{first.reveal()}:{second.reveal()}")

    def redact(self, text: str, *, limit: int | None = None) -> str:
        """The text with every secret and credential replaced; then cut to `limit` characters.

        With a limit, only the part that can be shown is redacted (the limit plus the longest
        secret, so that no secret is cut in two before it is found).
        """
        windowed = limit is not None and len(text) > limit + self._longest
        window = text[: limit + self._longest] if limit is not None and windowed else text
        if window in self._whole:
            window = REDACTED
        for form in self._forms:
            if form in window:
                window = window.replace(form, REDACTED)
        window = _AUTH_SCHEME.sub(rf"\1 {REDACTED}", window)
        if limit is None:
            return window
        return bounded(window, limit, total=len(text) if windowed else None)

    def mentions(self, body: bytes) -> bool:
        """Whether `body` (raw JSON) may hold a secret or a credential: the quick check.

        False means nothing decoded from it needs redacting, so a large body that holds none
        costs one fast scan per form, not a `redact` per value.
        """
        return any(form in body for form in self._body_forms) or any(
            name in body for name in _SCHEME_BYTES
        )

    def redact_bytes(self, lines: bytes) -> bytes:
        """JSON lines (encoded by msgspec) with every secret's form replaced, as bytes."""
        if not self.mentions(lines):
            return lines
        text = lines.decode("utf-8", errors="surrogateescape")
        for form in self._forms:
            escaped = msgspec.json.encode(form)[1:-1].decode("utf-8", errors="surrogateescape")
            if escaped in text:
                text = text.replace(escaped, REDACTED)
        text = _AUTH_SCHEME.sub(rf"\1 {REDACTED}", text)
        return text.encode("utf-8", errors="surrogateescape")

    def __call__(
        self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Redact one event in place (structlog's processor signature)."""
        del logger, method_name  # part of the processor signature, not needed
        for key, value in event_dict.items():
            event_dict[key] = self._value(key, value)
        return event_dict

    def _value(self, key: object, value: object) -> object:
        if isinstance(key, str) and key.lower() in _SECRET_KEYS and value is not None:
            return REDACTED
        if isinstance(value, str):
            limit = ERROR_TEXT_CHARS if key in _ERROR_TEXT_KEYS else None
            return self.redact(value, limit=limit)
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, dict):
            return {self._key(k): self._value(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(None, item) for item in value]
        # Anything else would be rendered through its repr: redact that text instead.
        return self.redact(repr(value))

    def _key(self, key: object) -> object:
        # A dict's keys can be server text too: the counts by status.
        return self.redact(key) if isinstance(key, str) else key


def redacted_error(error: FotaPollerError, redactor: Redactor) -> FotaPollerError:
    """`error`, its message redacted, for the CLI's one line (its type and exit code kept)."""
    error.args = (redactor.redact(str(error)),)
    return error
