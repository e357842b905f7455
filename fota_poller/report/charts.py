"""The report's charts, drawn here as inline SVG: no script, no font, no image to fetch.

Each chart is a few `<path>` elements filled by the page's CSS classes (`s` succeeded, `f`
failed, `p` pending, `u` unknown), so a chart costs a few hundred bytes and a thousand of
them keep the page under a megabyte. Coordinates are whole numbers in the chart's own
viewBox, scaled by the browser. Every label is escaped here:
a campaign's names its upgrade id, text from the API.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape
from typing import Final, NamedTuple

# The phases stacked bottom up, and the CSS class that fills each.
STACK: Final = (("succeeded", "s"), ("failed", "f"), ("pending", "p"), ("unknown", "u"))
# A campaign's burn-up chart: one unit a night across, `_SPARK_HEIGHT` units for its devices.
_SPARK_HEIGHT: Final = 20
# The fleet's chart: its viewBox, and the room kept for the axis labels.
_FLEET_WIDTH: Final = 720
_FLEET_HEIGHT: Final = 200
_FLEET_LEFT: Final = 56
_FLEET_BOTTOM: Final = 22


class Column(NamedTuple):
    """One night (or one bar) of a stacked chart: its label and its devices by phase."""

    label: str
    succeeded: int
    failed: int
    pending: int
    unknown: int

    @property
    def total(self) -> int:
        """Every device of the night."""
        return self.succeeded + self.failed + self.pending + self.unknown


def phase_bar(column: Column, *, label: str) -> str:
    """Tonight's devices as one horizontal bar split by phase, 100 units wide."""
    total = column.total
    parts = []
    left = 0.0
    for (phase, css), count in zip(STACK, column[1:], strict=True):
        if not count:
            continue
        width = 1000 * count / total
        parts.append(
            f'<rect class="{css}" x="{left:.0f}" y="0" width="{width + 0.5:.0f}" height="24">'
            f"<title>{phase}: {count:,}</title></rect>"
        )
        left += width
    return (
        f'<svg class="bar" viewBox="0 0 1000 24" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )


def burn_up(columns: Sequence[Column]) -> str:
    """A campaign's nights as stacked areas: succeeded at the bottom, failed above it.

    Pending and unknown are the rest (the chart's background); one unit across per night,
    scaled by the browser. Hidden from screen readers: its row holds the numbers.
    """
    if not columns:
        return ""
    # One night is drawn as a band one unit wide, so it is still seen.
    points = list(columns) if len(columns) > 1 else [columns[0], columns[0]]
    width = len(points) - 1
    height = _SPARK_HEIGHT
    # Drawn as running sums, the larger first: failed's area reaches the bottom under
    # succeeded's, so each path is its top edge and two corners (half the bytes of bands).
    paths = []
    for css, share in (
        ("f", [(c.succeeded + c.failed) / c.total if c.total else 0.0 for c in points]),
        ("s", [c.succeeded / c.total if c.total else 0.0 for c in points]),
    ):
        ys = [height - round(y * height) for y in share]
        # Each night a relative step (`l1-3`: one across, three up): 4 bytes, not 7.
        steps = "".join(f"l1{'' if b < a else ' '}{b - a}" for a, b in itertools.pairwise(ys))
        paths.append(f'<path class="{css}" d="M0 {ys[0]}{steps}V{height}H0Z"/>')
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'aria-hidden="true">{"".join(paths)}</svg>'
    )


def fleet_bars(columns: Sequence[Column], *, label: str) -> str:
    """The fleet night by night as stacked bars.

    The most devices, and the first and last night's labels, are written on the axes.
    """
    if not columns:
        return ""
    most = max(column.total for column in columns) or 1
    plot_width = _FLEET_WIDTH - _FLEET_LEFT
    plot_height = _FLEET_HEIGHT - _FLEET_BOTTOM
    step = plot_width / len(columns)
    bar = max(step * 0.8, 1.0)
    paths: dict[str, list[str]] = {css: [] for _, css in STACK}
    for number, column in enumerate(columns):
        x = _FLEET_LEFT + number * step
        base = 0
        for (_, css), count in zip(STACK, column[1:], strict=True):
            if count:
                top = plot_height - (base + count) * plot_height / most
                height = count * plot_height / most
                paths[css].append(f"M{x:.1f} {top:.1f}h{bar:.1f}v{height:.1f}h{-bar:.1f}Z")
            base += count
    bars = "".join(f'<path class="{css}" d="{"".join(d)}"/>' for css, d in paths.items() if d)
    axis = (
        f'<text x="{_FLEET_LEFT - 6}" y="10" text-anchor="end">{most:,}</text>'
        f'<text x="{_FLEET_LEFT - 6}" y="{plot_height}" text-anchor="end">0</text>'
        f'<text x="{_FLEET_LEFT}" y="{_FLEET_HEIGHT - 4}">{escape(columns[0].label)}</text>'
        f'<text x="{_FLEET_WIDTH}" y="{_FLEET_HEIGHT - 4}" text-anchor="end">'
        f"{escape(columns[-1].label)}</text>"
        f'<path class="axis" d="M{_FLEET_LEFT} 0V{plot_height}H{_FLEET_WIDTH}"/>'
    )
    return (
        f'<svg class="fleet" viewBox="0 0 {_FLEET_WIDTH} {_FLEET_HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">{bars}{axis}</svg>'
    )
