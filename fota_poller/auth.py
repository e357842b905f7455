"""How requests are authenticated: the two ThingSpace tokens, kept out of every repr and log."""

from __future__ import annotations

import os
from collections.abc import Mapping

from fota_poller.errors import MissingCredentialsError

BEARER_TOKEN_ENV = "THINGSPACE_BEARER_TOKEN"  # noqa: S105 - a variable name, not a secret
SESSION_TOKEN_ENV = "THINGSPACE_SESSION_TOKEN"  # noqa: S105 - a variable name, not a secret


class StaticTokens:
    """Pre-issued Bearer and VZ-M2M session tokens, sent unchanged with every request."""

    def __init__(self, bearer_token: str, session_token: str) -> None:
        self._headers = {
            "Authorization": f"Bearer {bearer_token}",
            "VZ-M2M-Token": session_token,
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> StaticTokens:
        """Read both tokens from the environment, or say which variables are missing."""
        missing = [name for name in (BEARER_TOKEN_ENV, SESSION_TOKEN_ENV) if not environ.get(name)]
        if missing:
            raise MissingCredentialsError(
                f"missing credentials: set {' and '.join(missing)} in the environment"
            )
        return cls(environ[BEARER_TOKEN_ENV], environ[SESSION_TOKEN_ENV])

    def headers(self) -> Mapping[str, str]:
        """The auth headers for one request (the same mapping every time: no per-request build)."""
        return self._headers

    def __repr__(self) -> str:
        return "StaticTokens(<redacted>)"
