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

from fota_poller.text import ERROR_TEXT_CHARS, MESSAGE_CHARS, already_cut, bounded

if TYPE_CHECKING:
    from fota_poller.api.credentials import Credentials
    from fota_poller.errors import FotaPollerError

REDACTED: Final = "<redacted>"
# Shorter secrets are redacted only where a whole value equals one (see the module's text).
MIN_SECRET_CHARS: Final = 8

_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
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
# Log fields holding a server's error text, cut like the records' (`error_code` and
# `error_message`), or a message of ours quoting one (`error`). A traceback is left whole.
_CUT_AT: Final = {
    "error_code": ERROR_TEXT_CHARS,
    "error_message": ERROR_TEXT_CHARS,
    "error": MESSAGE_CHARS,
}
_PLAIN = (int, float, bool, type(None))
# `redact` remembers the answers for values up to this long, this many at a time.
_SEEN_CHARS: Final = 256
_SEEN_VALUES: Final = 4096
# `changed_among` remembers this many values it found clean (most of a night's texts).
_CLEAN_VALUES: Final = 65_536


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
        self._exact: set[str] = set()  # the secrets and their forms, for whole values
        self._longest = 0
        # Short values already redacted (statuses, firmware names, log words): most repeat,
        # and a lookup costs a fraction of a pass over every form. Emptied when it fills.
        self._seen: dict[str, str] = {}
        # Values redaction leaves as they are: `changed_among` skips them in one set
        # difference. Emptied when a secret is added (it could be in one of them).
        self._clean: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Redact these values from now on (empty strings are ignored)."""
        fresh = {secret for secret in secrets if secret} - self._whole
        if not fresh:
            return
        self._whole |= fresh
        self._seen = {}
        self._clean = set()
        long_enough = [secret for secret in fresh if len(secret) >= MIN_SECRET_CHARS]
        new_forms = {form for secret in long_enough for form in secret_forms(secret)}
        new_forms -= self._exact
        self._exact |= fresh | new_forms
        if not new_forms:
            return
        # Longest first, so a form that contains another is replaced whole. Sorting is
        # O(n log n) in the number of forms, not in their length.
        self._forms = sorted(new_forms.union(self._forms), key=len, reverse=True)
        self._longest = len(self._forms[0])

    @property
    def longest(self) -> int:
        """The length of the longest form redacted as a substring (0: none yet)."""
        return self._longest

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
        if limit is None and len(text) <= _SEEN_CHARS:
            shown = self._seen.get(text)
            if shown is None:
                if len(self._seen) >= _SEEN_VALUES:
                    self._seen = {}
                shown = self._seen[text] = self._redacted(text)
            return shown
        if limit is not None:
            start, marker = already_cut(text, limit)
            if marker:  # cut before (a record's text, logged): its start is what is shown
                return self.redact(start) + marker
        windowed = limit is not None and len(text) > limit + self._longest
        window = text[: limit + self._longest] if limit is not None and windowed else text
        window = self._redacted(window)
        if limit is None:
            return window
        # The marker gives the length the text had, before the redaction changed it.
        cut = windowed or len(window) > limit
        return bounded(window, limit, total=len(text) if cut else None)

    def changed_among(self, texts: set[str]) -> dict[str, str]:
        """Of `texts`, those redaction changes, each with its redacted form.

        For a body's many short values (statuses, reasons, names, dates): the ones already
        found clean are left out in one set difference, so a night's repeated values cost
        no call each; a value found clean is remembered (`_CLEAN_VALUES` at most at once).
        """
        changed: dict[str, str] = {}
        fresh = texts - self._clean
        if not fresh:
            return changed
        if len(self._clean) + len(fresh) > _CLEAN_VALUES:
            self._clean = set()
        for text in fresh:
            shown = self.redact(text)
            if shown == text:
                self._clean.add(text)
            else:
                changed[text] = shown
        return changed

    def secrets_among(self, values: Iterable[str | None]) -> set[str]:
        """The values that are a secret or one of its forms, whole: a set lookup each.

        For the many short values of a body (device ids) that cannot each pay for `redact`.
        """
        return self._exact.intersection(values)

    def _redacted(self, text: str) -> str:
        if text in self._whole:
            return REDACTED
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        # Searched first: `sub` parses its replacement's `\1` on every call, found or not.
        if _AUTH_SCHEME.search(text) is None:
            return text
        return _AUTH_SCHEME.sub(rf"\1 {REDACTED}", text)

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
            return self.redact(value, limit=_CUT_AT.get(key) if isinstance(key, str) else None)
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
    """`error`, its message redacted and cut, for the CLI's one line (type and exit code kept)."""
    error.args = (redactor.redact(str(error), limit=MESSAGE_CHARS),)
    return error
