"""What the report's charts share: the palette, a chart's shape, how a cell reads, Plotly helpers.

The charts themselves are in adoption_charts.py (funnel, time to proficiency) and
coaching_charts.py (coaching, leniency): JSON-able Plotly specs for the basic bundle (scatter and
bar traces), one builder per chart; the group x capability grids are HTML tables (tables.py). The figures were computed and small-number-filtered by adoption.metrics; the charts
only choose how to draw them. Strings that reach Plotly's text rendering are escaped here,
since Plotly reads a small HTML subset in labels and hover text. A builder returns None when
it has nothing to draw, and the report says so in words instead of showing an empty chart.
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from adoptloop.adoption.report.data import Cell
from adoptloop.adoption.smallnumbers import Tier

Spec = dict[str, Any]

DIRECTIONAL_MARK = "\u2020"  # dagger: a percentage from 10-29 people
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
INK = "#1f2933"
MUTED = "#616e7c"
RULE = "#d9dee4"
# Sequential single hue for shares (0..100 on every heatmap, so a colour means one value).
SHARE_SCALE: tuple[tuple[float, str], ...] = ((0.0, "#e3eef9"), (0.5, "#6baed6"), (1.0, "#08306b"))
# Colour-blind-safe categories (Okabe-Ito, yellow left out: too light on white).
CATEGORY = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
STEPS = (
    ("trained", "Trained", "#c6dbef"),
    ("observed", "Observed in window", "#6baed6"),
    ("proficient", "Adopted (proficient in window)", "#2171b5"),
    ("sustained", "Sustained", "#08306b"),
)
LENIENT = "#c05621"
STRICT = "#2b6cb0"
NOTE_GAP = "\u2002"  # keeps a withheld row's note clear of the axis
CONFIG: Spec = {"displayModeBar": False, "responsive": True, "displaylogo": False}


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of the report: its element id, caption, textual summary and Plotly spec."""

    id: str
    title: str
    summary: str
    spec: Spec  # {"data": [...], "layout": {...}, "config": {...}}


@dataclass(frozen=True, slots=True)
class CellView:
    """How one small-number-filtered cell reads, in plain (unescaped) text."""

    kind: str  # missing | suppressed | counts-only | directional | comparable
    figure: str  # "42%†", "3/7", "n<5", "–"
    size: str  # "n=24", or "" when the size itself is withheld
    detail: str  # the full reading, with the reason when a figure is withheld
    versus_org: str  # "below" / "above": the whole interval is below / above the org's value


def pct(value: float | None, *, directional: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.0f}%" + (DIRECTIONAL_MARK if directional else "")


def interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"95% CI {low:.0f}–{high:.0f}%"


def cell_view(cell: Cell | None) -> CellView:
    if cell is None:
        return CellView("missing", "–", "", "no data", versus_org="")
    size = f"n={cell.denominator}" if cell.denominator is not None else ""
    if cell.tier == Tier.SUPPRESSED or cell.numerator is None:
        return CellView(
            "suppressed",
            "n<5",
            "",
            "suppressed: fewer than 5 people in the cohort",
            versus_org="",
        )
    if not cell.denominator:
        return CellView("missing", "–", "", "nothing to count", versus_org="")
    counts = f"{cell.numerator} of {cell.denominator}"
    if cell.tier == Tier.COUNTS_ONLY or cell.value is None:
        return CellView(
            "counts-only",
            f"{cell.numerator}/{cell.denominator}",
            size,
            f"{counts}; counts only (5–9 people), no percentage",
            versus_org="",
        )
    directional = cell.tier == Tier.DIRECTIONAL
    parts = [pct(cell.value), interval(cell.ci_low, cell.ci_high), counts]
    if directional:
        parts.append("directional (10–29 people)")
    if cell.versus_org:
        parts.append(f"the whole interval is {cell.versus_org} the org's figure")
    return CellView(
        "directional" if directional else "comparable",
        pct(cell.value, directional=directional),
        size,
        "; ".join(p for p in parts if p),
        versus_org=cell.versus_org,
    )


def share_colour(value: float) -> str:
    """The SHARE_SCALE colour of a percentage (0..100), as #rrggbb."""
    at = min(1.0, max(0.0, value / 100))
    for (low, start), (high, end) in pairwise(SHARE_SCALE):
        if at <= high:
            f = (at - low) / (high - low)
            a, b = _rgb(start), _rgb(end)
            return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))
    return SHARE_SCALE[-1][1]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def escape(text: str) -> str:
    """Escape a plain string for Plotly's text rendering (it decodes &amp; &lt; &gt;)."""
    return html.escape(text, quote=False)


def wrap(text: str, width: int = 16) -> str:
    """An escaped tick label broken onto lines of about `width` characters."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(escape(line) for line in lines) or escape(text)


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def base_layout(height: int, **extra: Any) -> Spec:
    layout: Spec = {
        "height": height,
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "font": {"family": FONT, "color": INK, "size": 13},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": {"family": FONT, "size": 12}, "align": "left"},
        "showlegend": False,
    }
    layout.update(extra)
    return layout


def legend() -> Spec:
    return {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal"}


def spec(data: list[Spec], layout: Spec) -> Spec:
    return {"data": data, "layout": layout, "config": CONFIG}


def withheld(tier: str, size: int | None) -> str:
    if tier == Tier.SUPPRESSED:
        return "n<5, suppressed"
    if tier == Tier.COUNTS_ONLY:
        return f"n={size}, counts only" if size is not None else "counts only"
    return "no data"
