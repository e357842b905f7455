"""Keeping secrets out of the logs: a structlog processor that redacts every event.

It replaces (1) the known secret values, including tokens obtained during the run,
(2) anything that looks like a `Bearer`/`Basic` credential, and (3) the whole value of a
key whose name says it holds a secret. It runs last before rendering, so it also sees
formatted exception text.

Not on a request's path: `fota_poller.observe.logs` installs it; the credentials and every
token `token_requests` obtains are added to it as soon as they are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from typing import Any, Final

REDACTED: Final = "<redacted>"

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
_PLAIN = (int, float, bool, type(None))


class Redactor:
    """A structlog processor; `add()` more secret values as the run learns them (new tokens)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Redact these values from now on (empty strings are ignored)."""
        fresh = {secret for secret in secrets if secret} - self._secrets
        if not fresh:
            return
        self._secrets |= fresh
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(secret) for secret in ordered))

    def redact(self, text: str) -> str:
        """The text with every secret and credential-looking token replaced."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
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
            return self.redact(value)
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, dict):
            return {k: self._value(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(None, item) for item in value]
        # Anything else would be rendered through its repr: redact that text instead.
        return self.redact(repr(value))
