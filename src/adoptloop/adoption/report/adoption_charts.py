"""The adoption charts of the report: the adoption funnel and the time to proficiency
(Kaplan-Meier, with the number at risk under the curves). Shared pieces are in chartkit.py; the
group x capability heatmaps are HTML tables (tables.py).
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

from collections.abc import Sequence

from adoptloop.adoption.report import chartkit as kit
from adoptloop.adoption.report.chartkit import (
    CATEGORY,
    MUTED,
    RULE,
    STEPS,
    Chart,
    Spec,
)
from adoptloop.adoption.report.data import FunnelStep, ProficiencyCurve
from adoptloop.adoption.smallnumbers import Tier


def funnel(chart_id: str, steps: Sequence[FunnelStep]) -> Chart | None:
    """Trained -> observed -> proficient -> sustained, grouped by capability."""
    if not steps:
        return None
    capabilities = [kit.wrap(s.capability, 22) for s in steps]
    data: list[Spec] = []
    for attr, name, colour in STEPS:
        counts = [int(getattr(s, attr)) for s in steps]
        shares = [
            f"{100 * n / s.trained:.0f}%" if s.trained and s.tier != Tier.COUNTS_ONLY else "–"
            for n, s in zip(counts, steps, strict=True)
        ]
        text = [
            str(n) if attr == "trained" or share == "–" else f"{n} · {share}"
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
        if s.tier == Tier.COUNTS_ONLY:
            parts.append(
                f"{s.capability}: {s.trained} trained, {s.observed} observed, "
                f"{s.proficient} adopted, {s.sustained} sustained (counts only: 5–9 reps)"
            )
        elif s.trained:
            parts.append(
                f"{s.capability}: {s.trained} trained, {100 * s.observed / s.trained:.0f}% observed, "
                f"{100 * s.proficient / s.trained:.0f}% adopted, "
                f"{100 * s.sustained / s.trained:.0f}% sustained, {s.regressed} regressed"
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
    ticks = sorted({day for c in curves for day, _ in c.at_risk})
    risk = _at_risk_annotations(curves)
    layout = kit.base_layout(
        420 + _RISK_ROW * (len(curves) + 2),
        showlegend=True,
        legend=kit.legend(),
        margin={"l": 150, "r": 8, "t": 40, "b": 40 + _RISK_ROW * (len(curves) + 1)},
        xaxis={
            "title": {"text": "Days since training"},
            "tickmode": "array" if ticks else "auto",
            "tickvals": ticks,
            "range": [-2, longest * 1.03],
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
            },
            *risk,
        ],
    )
    parts = []
    for c in curves:
        if kit.finite(c.median_days) is None:
            parts.append(f"{c.capability}: median not reached ({c.reps} reps)")
        else:
            p75 = f", 75% by day {c.p75_days:.0f}" if kit.finite(c.p75_days) is not None else ""
            parts.append(f"{c.capability}: median {c.median_days:.0f} days{p75} ({c.reps} reps)")
    summary = (
        "Days from training to the first proficient rating. "
        + "; ".join(parts)
        + ". Under the chart: the number of reps still at risk (not yet proficient and still "
        "followed) on each tick day; <5 where fewer than 5."
    )
    return Chart(chart_id, "Time to proficiency (Kaplan–Meier)", summary, kit.spec(data, layout))


_RISK_ROW = 20  # pixels per row of at-risk counts under the time-to-proficiency chart


def _at_risk_annotations(curves: Sequence[ProficiencyCurve]) -> list[Spec]:
    """The number at risk under the x axis: a heading, then one row per curve, each count
    under its tick day, in the curve's colour."""
    if not any(c.at_risk for c in curves):
        return []
    below = {"yref": "paper", "y": 0, "yanchor": "top", "showarrow": False}
    out: list[Spec] = [
        {
            **below,
            "xref": "paper",
            "x": 0,
            "xanchor": "right",
            "yshift": -44,
            "text": "<b>Number at risk</b>",
            "font": {"size": 11, "color": MUTED},
        }
    ]
    for i, curve in enumerate(curves):
        colour = CATEGORY[i % len(CATEGORY)]
        shift = -44 - _RISK_ROW * (i + 1)
        out.append(
            {
                **below,
                "xref": "paper",
                "x": 0,
                "xanchor": "right",
                "yshift": shift,
                "xshift": -6,
                "text": kit.escape(_short(curve.capability)),
                "font": {"size": 11, "color": colour},
            }
        )
        out += [
            {
                **below,
                "x": day,
                "yshift": shift,
                "text": str(n) if n is not None else "&lt;5",
                "font": {"size": 11, "color": colour},
            }
            for day, n in curve.at_risk
        ]
    return out


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"
