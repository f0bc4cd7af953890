"""The adoption charts of the report: the group x capability heatmaps, the adoption funnel and
the time to proficiency (Kaplan-Meier). Shared pieces are in chartkit.py.
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

from collections.abc import Sequence

from adoptloop.adoption.report import chartkit as kit
from adoptloop.adoption.report.chartkit import (
    CATEGORY,
    DIRECTIONAL_MARK,
    HATCH,
    INK,
    MUTED,
    RULE,
    SHARE_SCALE,
    STEPS,
    Chart,
    Spec,
    cell_view,
    pct,
)
from adoptloop.adoption.report.data import Cell, FunnelStep, ProficiencyCurve


def heatmap(chart_id: str, title: str, metric: str, cells: Sequence[Cell]) -> Chart | None:
    """Groups (rows) x capabilities (columns); withheld cells hatched or outlined, labelled."""
    if not cells:
        return None
    groups = kit.ordered(c.group for c in cells)
    capabilities = kit.ordered(c.capability for c in cells)
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
            value = kit.finite(cell.value) if cell is not None and view.kind in _SHOWN else None
            z[y][x] = value
            if view.kind == "suppressed":
                xs, ys = kit.box(x, y)
                hatch_x += xs
                hatch_y += ys
            elif view.kind == "counts-only":
                xs, ys = kit.box(x, y)
                counts_x += xs
                counts_y += ys
            if view.flagged:
                shapes.append(_outline(x, y))
            label_x.append(x)
            label_y.append(y)
            size = (
                f"<br><span style='font-size:11px'>{kit.escape(view.size)}</span>"
                if view.size
                else ""
            )
            labels.append(kit.escape(view.figure) + size)
            colours.append("#ffffff" if value is not None and value > 55 else INK)
            hovers.append(
                f"<b>{kit.escape(group)} · {kit.escape(capability)}</b><br>{kit.escape(metric)}: {kit.escape(view.detail)}"
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
    layout = kit.base_layout(
        96 + 52 * len(groups),
        xaxis={
            **axis,
            "side": "top",
            "tickmode": "array",
            "tickvals": list(range(len(capabilities))),
            "ticktext": [kit.wrap(c) for c in capabilities],
            "range": [-0.5, len(capabilities) - 0.5],
        },
        yaxis={
            **axis,
            "tickmode": "array",
            "tickvals": list(range(len(groups))),
            "ticktext": [kit.escape(g) for g in groups],
            "range": [len(groups) - 0.5, -0.5],
        },
        shapes=shapes,
    )
    return Chart(chart_id, title, _heatmap_summary(metric, cells), kit.spec(data, layout))


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
    shown = [(c, v) for c, v in views if v.kind in _SHOWN and kit.finite(c.value) is not None]
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
    capabilities = [kit.wrap(s.capability, 22) for s in steps]
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
    layout = kit.base_layout(
        90 + 92 * len(steps),
        barmode="group",
        bargap=0.25,
        showlegend=True,
        legend=kit.legend(),
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
    return Chart(chart_id, "Adoption funnel by capability", summary, kit.spec(data, layout))


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
        name = f"{kit.escape(curve.capability)} (n={curve.reps})"
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
            if kit.finite(days_to) is None:
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
    layout = kit.base_layout(
        420,
        showlegend=True,
        legend=kit.legend(),
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
        if kit.finite(c.median_days) is None:
            parts.append(f"{c.capability}: median not reached ({c.reps} reps)")
        else:
            p75 = f", 75% by day {c.p75_days:.0f}" if kit.finite(c.p75_days) is not None else ""
            parts.append(f"{c.capability}: median {c.median_days:.0f} days{p75} ({c.reps} reps)")
    summary = "Days from training to the first proficient rating. " + "; ".join(parts) + "."
    return Chart(chart_id, "Time to proficiency (Kaplan–Meier)", summary, kit.spec(data, layout))
