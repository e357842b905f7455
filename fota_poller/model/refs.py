"""What names one campaign to poll, and a line of input that names none (and why).

Shared by every layer: the id lists make them, the client asks for a `CampaignRef`, the
records carry both.
"""

from __future__ import annotations

import re
import uuid

import msgspec

ACCOUNT_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CampaignRef(msgspec.Struct, frozen=True):
    """One campaign to poll; `upgrade_id` in canonical lower-case dashed form."""

    account_name: str
    upgrade_id: str


class InvalidLine(msgspec.Struct, frozen=True):
    """An input line that makes no request but still gets a failed campaign record."""

    source: str
    line_number: int
    reason: str
    # Only values that passed validation: a record never echoes arbitrary input as an id.
    account_name: str | None = None
    upgrade_id: str | None = None

    @property
    def message(self) -> str:
        """Where the line is and what is wrong with it."""
        return f"{self.source}:{self.line_number}: {self.reason}"


_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_upgrade_id(text: str) -> str | None:
    """The lower-case dashed form of an upgrade id, or None when it is not a UUID.

    So `E3A8...` and `{e3a8...}` are one campaign.
    """
    if _CANONICAL_ID.fullmatch(text):
        return text  # most ids are written canonical: no round trip through uuid.UUID
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
