"""How the page writes a value: text from the API escaped, counts with their JSON key."""

from __future__ import annotations

from html import escape
from typing import Final

# What the page shows for a value it does not have (an en dash, never a made-up 0).
DASH: Final = "\u2013"
# What the page says where the state database keeps no history (yet): never a made-up 0.
NO_HISTORY_NOTE: Final = (
    '<p class="note">No history yet: the state database holds no committed night to draw. '
    "It grows by one night per <code>poll --state</code> run.</p>"
)


def text(value: object) -> str:
    """`value` as HTML text or attribute value: escaped, quotes included; None as empty."""
    return "" if value is None else escape(str(value), quote=True)


def number(value: int | None, key: str = "") -> str:
    """A count as the page shows it (`1,234`; none: a dash), tagged with its JSON key if given."""
    shown = DASH if value is None else f"{value:,}"
    return f'<span data-json="{text(key)}">{shown}</span>' if key else shown
