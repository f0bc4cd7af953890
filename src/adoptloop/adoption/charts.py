"""Plotly figure specs for the adoption report: JSON-able dicts, one builder per chart.

The figures were computed and small-number-filtered by adoption.metrics; this module only
chooses how to draw them. Strings that reach Plotly's text rendering are escaped, since
Plotly reads a small HTML subset in labels and hover text. A builder returns None when it has
nothing to draw, and the report says so in words instead of showing an empty chart.
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from adoptloop.adoption.reportdata import (
    Cell,
    FollowThrough,
    FunnelStep,
    ManagerGroup,
    ProficiencyCurve,
)
from adoptloop.adoption.smallnumbers import Tier

Spec = dict[str, Any]

DIRECTIONAL_MARK = "\u2020"  # dagger: a percentage from 10-29 people
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
INK = "#1f2933"
MUTED = "#616e7c"
RULE = "#d9dee4"
HATCH = "#9aa5b1"
# Sequential single hue for shares (0..100 on every heatmap, so a colour means one value).
SHARE_SCALE = [[0.0, "#e3eef9"], [0.5, "#6baed6"], [1.0, "#08306b"]]
# Colour-blind-safe categories (Okabe-Ito, yellow left out: too light on white).
CATEGORY = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
STEPS = (
    ("trained", "Trained", "#c6dbef"),
    ("observed", "Observed in window", "#6baed6"),
    ("proficient", "Proficient in window", "#2171b5"),
    ("sustained", "Sustained", "#08306b"),
)
LENIENT = "#c05621"
STRICT = "#2b6cb0"
_NOTE_GAP = "\u2002"  # keeps a withheld row's note clear of the axis
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
    flagged: bool


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
        return CellView("missing", "–", "", "no data", flagged=False)
    size = f"n={cell.denominator}" if cell.denominator is not None else ""
    if cell.tier == Tier.SUPPRESSED or cell.numerator is None:
        return CellView(
            "suppressed",
            "n<5",
            "",
            "suppressed: fewer than 5 people in the cohort",
            flagged=False,
        )
    counts = f"{cell.numerator} of {cell.denominator} reps"
    if cell.tier == Tier.COUNTS_ONLY or cell.value is None:
        return CellView(
            "counts-only",
            f"{cell.numerator}/{cell.denominator}",
            size,
            f"{counts}; counts only (5–9 people), no percentage",
            flagged=False,
        )
    directional = cell.tier == Tier.DIRECTIONAL
    parts = [pct(cell.value), interval(cell.ci_low, cell.ci_high), counts]
    if directional:
        parts.append("directional (10–29 people)")
    if cell.flagged:
        parts.append("the interval excludes the overall figure")
    return CellView(
        "directional" if directional else "comparable",
        pct(cell.value, directional=directional),
        size,
        "; ".join(p for p in parts if p),
        flagged=cell.flagged,
    )


def _t(text: str) -> str:
    """Escape a plain string for Plotly's text rendering (it decodes &amp; &lt; &gt;)."""
    return html.escape(text, quote=False)


def _wrap(text: str, width: int = 16) -> str:
    """An escaped tick label broken onto lines of about `width` characters."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(_t(line) for line in lines) or _t(text)


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _grouped_percent_bars_layout(groups: int) -> Spec:
    """Horizontal grouped bars on a 0-100% axis, one band per group, legend on top."""
    return _layout(
        90 + 56 * groups,
        barmode="group",
        showlegend=True,
        legend=_legend(),
        margin={"l": 8, "r": 60, "t": 40, "b": 8},
        xaxis={
            "range": [0, 105],
            "ticksuffix": "%",
            "gridcolor": RULE,
            "zeroline": False,
            "automargin": True,
        },
        yaxis={"autorange": "reversed", "automargin": True, "fixedrange": True},
    )


def _layout(height: int, **extra: Any) -> Spec:
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


def _legend() -> Spec:
    return {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal"}


def _spec(data: list[Spec], layout: Spec) -> Spec:
    return {"data": data, "layout": layout, "config": CONFIG}


def _box(x: int, y: int, inset: float = 0.47) -> tuple[list[float | None], list[float | None]]:
    xs: list[float | None] = [x - inset, x + inset, x + inset, x - inset, x - inset, None]
    ys: list[float | None] = [y - inset, y - inset, y + inset, y + inset, y - inset, None]
    return xs, ys


def heatmap(chart_id: str, title: str, metric: str, cells: Sequence[Cell]) -> Chart | None:
    """Groups (rows) x capabilities (columns); withheld cells hatched or outlined, labelled."""
    if not cells:
        return None
    groups = _ordered(c.group for c in cells)
    capabilities = _ordered(c.capability for c in cells)
    grid = {(c.group, c.capability): c for c in cells}
    z: list[list[float | None]] = [[None] * len(capabilities) for _ in groups]
    hatch_x: list[float | None] = []
    hatch_y: list[float | None] = []
    counts_x: list[float | None] = []
    counts_y: list[float | None] = []
    label_x: list[int] = []
    label_y: list[int] = []
    labels: list[str] = []
    colours: list[str] = []
    hovers: list[str] = []
    shapes: list[Spec] = []
    for y, group in enumerate(groups):
        for x, capability in enumerate(capabilities):
            cell = grid.get((group, capability))
            view = cell_view(cell)
            value = _num(cell.value) if cell is not None and view.kind in _SHOWN else None
            z[y][x] = value
            if view.kind == "suppressed":
                xs, ys = _box(x, y)
                hatch_x += xs
                hatch_y += ys
            elif view.kind == "counts-only":
                xs, ys = _box(x, y)
                counts_x += xs
                counts_y += ys
            if view.flagged:
                shapes.append(_outline(x, y))
            label_x.append(x)
            label_y.append(y)
            size = f"<br><span style='font-size:11px'>{_t(view.size)}</span>" if view.size else ""
            labels.append(_t(view.figure) + size)
            colours.append("#ffffff" if value is not None and value > 55 else INK)
            hovers.append(
                f"<b>{_t(group)} · {_t(capability)}</b><br>{_t(metric)}: {_t(view.detail)}"
            )
    data: list[Spec] = [
        {
            "type": "heatmap",
            "x": list(range(len(capabilities))),
            "y": list(range(len(groups))),
            "z": z,
            "zmin": 0,
            "zmax": 100,
            "colorscale": SHARE_SCALE,
            "xgap": 3,
            "ygap": 3,
            "hoverinfo": "skip",
            "colorbar": {"ticksuffix": "%", "thickness": 12, "len": 0.9, "outlinewidth": 0},
        },
        {
            "type": "scatter",
            "x": hatch_x,
            "y": hatch_y,
            "mode": "lines",
            "fill": "toself",
            "fillcolor": "#f5f7fa",
            "fillpattern": {"shape": "/", "fgcolor": HATCH, "bgcolor": "#f5f7fa", "size": 8},
            "line": {"width": 0},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "x": counts_x,
            "y": counts_y,
            "mode": "lines",
            "fill": "toself",
            "fillcolor": "#ffffff",
            "line": {"width": 1, "color": HATCH, "dash": "dot"},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "x": label_x,
            "y": label_y,
            "mode": "text",
            "text": labels,
            "textfont": {"color": colours, "size": 13},
            "customdata": hovers,
            "hovertemplate": "%{customdata}<extra></extra>",
        },
    ]
    axis = {
        "showgrid": False,
        "zeroline": False,
        "fixedrange": True,
        "automargin": True,
        "ticks": "",
    }
    layout = _layout(
        96 + 52 * len(groups),
        xaxis={
            **axis,
            "side": "top",
            "tickmode": "array",
            "tickvals": list(range(len(capabilities))),
            "ticktext": [_wrap(c) for c in capabilities],
            "range": [-0.5, len(capabilities) - 0.5],
        },
        yaxis={
            **axis,
            "tickmode": "array",
            "tickvals": list(range(len(groups))),
            "ticktext": [_t(g) for g in groups],
            "range": [len(groups) - 0.5, -0.5],
        },
        shapes=shapes,
    )
    return Chart(chart_id, title, _heatmap_summary(metric, cells), _spec(data, layout))


_SHOWN = ("directional", "comparable")


def _outline(x: int, y: int) -> Spec:
    return {
        "type": "rect",
        "x0": x - 0.49,
        "x1": x + 0.49,
        "y0": y - 0.49,
        "y1": y + 0.49,
        "line": {"color": INK, "width": 2},
        "layer": "above",
    }


def _heatmap_summary(metric: str, cells: Sequence[Cell]) -> str:
    views = [(c, cell_view(c)) for c in cells]
    shown = [(c, v) for c, v in views if v.kind in _SHOWN and _num(c.value) is not None]
    kinds = [v.kind for _, v in views]
    withheld = (
        f"{kinds.count('suppressed')} suppressed (n<5), "
        f"{kinds.count('counts-only')} counts only, "
        f"{kinds.count('directional')} directional ({DIRECTIONAL_MARK})."
    )
    if not shown:
        return f"{metric}: no cell is large enough to show a percentage; {withheld}"
    low = min(shown, key=lambda cv: cv[0].value or 0.0)[0]
    high = max(shown, key=lambda cv: cv[0].value or 0.0)[0]
    return (
        f"{metric} across {len(cells)} cells: from {pct(low.value)} ({low.group}, "
        f"{low.capability}) to {pct(high.value)} ({high.group}, {high.capability}); "
        f"{withheld}"
    )


def funnel(chart_id: str, steps: Sequence[FunnelStep]) -> Chart | None:
    """Trained -> observed -> proficient -> sustained, grouped by capability."""
    if not steps:
        return None
    capabilities = [_wrap(s.capability, 22) for s in steps]
    data: list[Spec] = []
    for attr, name, colour in STEPS:
        counts = [int(getattr(s, attr)) for s in steps]
        shares = [
            f"{100 * n / s.trained:.0f}%" if s.trained else "–"
            for n, s in zip(counts, steps, strict=True)
        ]
        text = [
            str(n) if attr == "trained" else f"{n} · {share}"
            for n, share in zip(counts, shares, strict=True)
        ]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": name,
                "y": capabilities,
                "x": counts,
                "marker": {"color": colour},
                "text": text,
                "textposition": "outside",
                "cliponaxis": False,
                "customdata": shares,
                "hovertemplate": f"%{{y}}<br>{name}: %{{x}} (%{{customdata}} of trained)<extra></extra>",
            }
        )
    layout = _layout(
        90 + 92 * len(steps),
        barmode="group",
        bargap=0.25,
        showlegend=True,
        legend=_legend(),
        margin={"l": 8, "r": 60, "t": 40, "b": 8},
        xaxis={"title": {"text": "Reps"}, "gridcolor": RULE, "zeroline": False, "automargin": True},
        yaxis={"autorange": "reversed", "automargin": True, "fixedrange": True},
    )
    parts = []
    for s in steps:
        if s.trained:
            parts.append(
                f"{s.capability}: {s.trained} trained, {100 * s.observed / s.trained:.0f}% observed, "
                f"{100 * s.proficient / s.trained:.0f}% proficient, "
                f"{100 * s.sustained / s.trained:.0f}% sustained"
            )
        else:
            parts.append(f"{s.capability}: nobody trained yet")
    summary = "Share of trained reps at each step. " + "; ".join(parts) + "."
    return Chart(chart_id, "Adoption funnel by capability", summary, _spec(data, layout))


def proficiency(
    chart_id: str, curves: Sequence[ProficiencyCurve], window_days: int
) -> Chart | None:
    """Kaplan-Meier step curves; median (filled) and p75 (open) marked on each."""
    if not curves:
        return None
    data: list[Spec] = []
    longest = float(window_days)
    for i, curve in enumerate(curves):
        colour = CATEGORY[i % len(CATEGORY)]
        days = list(curve.days)
        shares = [round(100 * s, 2) for s in curve.proficient_share]
        if not days or days[0] > 0:
            days.insert(0, 0)
            shares.insert(0, 0.0)
        longest = max(longest, float(days[-1]))
        name = f"{_t(curve.capability)} (n={curve.reps})"
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": days,
                "y": shares,
                "name": name,
                "legendgroup": f"c{i}",
                "line": {"shape": "hv", "color": colour, "width": 2},
                "hovertemplate": "%{fullData.name}<br>day %{x}: %{y:.0f}% proficient<extra></extra>",
            }
        )
        for days_to, level, symbol, label in (
            (curve.median_days, 50, "diamond", "median"),
            (curve.p75_days, 75, "diamond-open", "75% proficient"),
        ):
            if _num(days_to) is None:
                continue
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [days_to],
                    "y": [level],
                    "name": name,
                    "legendgroup": f"c{i}",
                    "showlegend": False,
                    "marker": {
                        "symbol": symbol,
                        "size": 11,
                        "color": colour,
                        "line": {"width": 2, "color": colour},
                    },
                    "hovertemplate": f"%{{fullData.name}}<br>{label}: day %{{x:.0f}}<extra></extra>",
                }
            )
    guide = {"color": MUTED, "width": 1, "dash": "dot"}
    layout = _layout(
        420,
        showlegend=True,
        legend=_legend(),
        margin={"l": 8, "r": 8, "t": 40, "b": 8},
        xaxis={
            "title": {"text": "Days since training"},
            "range": [0, longest * 1.03],
            "gridcolor": RULE,
            "zeroline": False,
            "automargin": True,
        },
        yaxis={
            "title": {"text": "Proficient (%)"},
            "range": [0, 100],
            "ticksuffix": "%",
            "gridcolor": RULE,
            "zeroline": False,
            "automargin": True,
        },
        shapes=[
            {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 50, "y1": 50, "line": guide},
            {
                "type": "line",
                "yref": "paper",
                "x0": window_days,
                "x1": window_days,
                "y0": 0,
                "y1": 1,
                "line": guide,
            },
        ],
        annotations=[
            {
                "x": window_days,
                "y": 1,
                "yref": "paper",
                "text": f"end of adoption window ({window_days} d)",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 11, "color": MUTED},
            }
        ],
    )
    parts = []
    for c in curves:
        if _num(c.median_days) is None:
            parts.append(f"{c.capability}: median not reached ({c.reps} reps)")
        else:
            p75 = f", 75% by day {c.p75_days:.0f}" if _num(c.p75_days) is not None else ""
            parts.append(f"{c.capability}: median {c.median_days:.0f} days{p75} ({c.reps} reps)")
    summary = "Days from training to the first proficient rating. " + "; ".join(parts) + "."
    return Chart(chart_id, "Time to proficiency (Kaplan–Meier)", summary, _spec(data, layout))


def team_label(group: ManagerGroup) -> str:
    return f"{group.team} · {group.region}"


def ordered_teams(groups: Sequence[ManagerGroup]) -> list[ManagerGroup]:
    """By region, then territory: never by a figure, so the page ranks nobody."""
    return sorted(groups, key=lambda g: (g.region, g.team))


def withheld(tier: str, size: int | None) -> str:
    if tier == Tier.SUPPRESSED:
        return "n<5, suppressed"
    if tier == Tier.COUNTS_ONLY:
        return f"n={size}, counts only" if size is not None else "counts only"
    return "no data"


def _bars(
    labels: list[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    notes: Sequence[tuple[str, bool]],
) -> list[Spec]:
    """Horizontal grouped percentage bars; rows with no value get a grey note at zero."""
    data: list[Spec] = []
    for name, colour, values in series:
        shown = [_num(v) for v in values]
        text = [
            pct(v, directional=directional) if v is not None else ""
            for v, (_, directional) in zip(shown, notes, strict=True)
        ]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": name,
                "y": labels,
                "x": shown,
                "marker": {"color": colour},
                "text": text,
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": f"%{{y}}<br>{name}: %{{x:.0f}}%<extra></extra>",
            }
        )
    blank = [i for i, (note, _) in enumerate(notes) if note]
    if blank:
        data.append(
            {
                "type": "scatter",
                "mode": "text",
                "y": [labels[i] for i in blank],
                "x": [0 for _ in blank],
                "text": [_NOTE_GAP + _t(notes[i][0]) for i in blank],
                "textposition": "middle right",
                "textfont": {"color": MUTED, "size": 12},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    return data


def coaching(chart_id: str, groups: Sequence[ManagerGroup]) -> Chart | None:
    """Coaching coverage and report timeliness per manager group (team)."""
    teams = ordered_teams(groups)
    if not teams:
        return None
    labels = [_t(team_label(g)) for g in teams]
    notes = [
        (
            "" if g.coaching_coverage is not None else withheld(g.tier, g.eligible_reps),
            g.tier == Tier.DIRECTIONAL,
        )
        for g in teams
    ]
    data = _bars(
        labels,
        [
            ("Coaching coverage (90 d)", "#2171b5", [g.coaching_coverage for g in teams]),
            (
                "Reports within 5 business days",
                "#9ecae1",
                [g.submitted_within_5_business_days for g in teams],
            ),
        ],
        notes,
    )
    layout = _grouped_percent_bars_layout(len(teams))
    shown = [g for g in teams if _num(g.coaching_coverage) is not None]
    if shown:
        coverages = [g.coaching_coverage or 0.0 for g in shown]
        summary = (
            f"{len(teams)} teams; coaching coverage from {pct(min(coverages))} to "
            f"{pct(max(coverages))} where shown; {len(teams) - len(shown)} teams withheld by "
            "the small-number rules. Teams are listed by region and territory, not ranked."
        )
    else:
        summary = f"{len(teams)} teams, all withheld by the small-number rules."
    return Chart(
        chart_id, "Coaching coverage and report timeliness by team", summary, _spec(data, layout)
    )


def leniency(chart_id: str, groups: Sequence[ManagerGroup]) -> Chart | None:
    """Each team's rater leniency as a bar diverging from zero (the region's other raters)."""
    teams = ordered_teams(groups)
    if not teams:
        return None
    labels = [_t(team_label(g)) for g in teams]
    values = [_num(g.leniency) for g in teams]
    spread = max((abs(v) for v in values if v is not None), default=0.0) or 1.0
    bound = round(spread * 1.35, 2)
    tops = [pct(g.top_box_share) for g in teams]
    data: list[Spec] = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "x": values,
            "marker": {"color": [LENIENT if (v or 0) > 0 else STRICT for v in values]},
            "text": [f"{v:+.2f}" if v is not None else "" for v in values],
            "textposition": "outside",
            "cliponaxis": False,
            "customdata": tops,
            "hovertemplate": "%{y}<br>leniency %{x:+.2f} (scaled units)<br>top-box share %{customdata}<extra></extra>",
        }
    ]
    blank = [i for i, v in enumerate(values) if v is None]
    if blank:
        data.append(
            {
                "type": "scatter",
                "mode": "text",
                "y": [labels[i] for i in blank],
                "x": [0 for _ in blank],
                "text": [
                    _NOTE_GAP + _t(withheld(teams[i].tier, teams[i].eligible_reps)) for i in blank
                ],
                "textposition": "middle right",
                "textfont": {"color": MUTED, "size": 12},
                "hoverinfo": "skip",
            }
        )
    arrow = {
        "yref": "paper",
        "y": 1,
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 12, "color": MUTED},
    }
    layout = _layout(
        80 + 34 * len(teams),
        margin={"l": 8, "r": 40, "t": 32, "b": 8},
        xaxis={
            "range": [-bound, bound],
            "title": {"text": "Mean scaled rating minus the region's other raters"},
            "gridcolor": RULE,
            "zeroline": True,
            "zerolinecolor": INK,
            "zerolinewidth": 1,
            "automargin": True,
        },
        yaxis={"autorange": "reversed", "automargin": True, "fixedrange": True},
        annotations=[
            {**arrow, "x": -bound, "xanchor": "left", "text": "← rates lower than peers"},
            {**arrow, "x": bound, "xanchor": "right", "text": "rates higher than peers →"},
        ],
    )
    shown = [v for v in values if v is not None]
    summary = (
        f"Rater leniency for {len(shown)} of {len(teams)} teams, from {min(shown):+.2f} to "
        f"{max(shown):+.2f} scaled units; 0 means the manager rates like the other raters in "
        "the region."
        if shown
        else "No team is large enough to show rater leniency."
    )
    return Chart(chart_id, "Rater leniency by team", summary, _spec(data, layout))


def follow_through(chart_id: str, rows: Sequence[FollowThrough]) -> Chart | None:
    """Development actions completed and completed on time, per group."""
    if not rows:
        return None
    labels = [_t(r.group) for r in rows]
    notes = [
        (
            "" if r.share_completed is not None else withheld(r.tier, r.due),
            r.tier == Tier.DIRECTIONAL,
        )
        for r in rows
    ]
    data = _bars(
        labels,
        [
            ("Completed", "#2171b5", [r.share_completed for r in rows]),
            ("Completed on time", "#9ecae1", [r.share_on_time for r in rows]),
        ],
        notes,
    )
    layout = _grouped_percent_bars_layout(len(rows))
    counted = [r for r in rows if r.due is not None and r.completed is not None]
    due = sum(r.due or 0 for r in counted)
    done = sum(r.completed or 0 for r in counted)
    on_time = sum(r.on_time or 0 for r in counted if r.on_time is not None)
    summary = (
        f"Across the groups shown, {done} of {due} actions due were completed "
        f"({on_time} on time, within 7 days of the due date)."
        if due
        else "No development actions were due in the period, or every group is withheld."
    )
    return Chart(chart_id, "Development-action follow-through", summary, _spec(data, layout))
