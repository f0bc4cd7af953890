"""The coaching charts of the report, one band per first-line manager's team: coaching
coverage and report timeliness, and rater leniency. Teams are listed by region and territory,
never ranked. Shared pieces are in chartkit.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from adoptloop.adoption.report import chartkit as kit
from adoptloop.adoption.report.chartkit import (
    INK,
    LENIENT,
    MUTED,
    RULE,
    STRICT,
    Chart,
    Spec,
    pct,
    withheld,
)
from adoptloop.adoption.report.data import ManagerGroup
from adoptloop.adoption.smallnumbers import Tier


def team_label(group: ManagerGroup) -> str:
    """ "<manager> · team <territory> · <region>" (the manager as adoption.report names them)."""
    parts = (group.manager, group.team, group.region)
    return " · ".join(p for p in parts if p)


def ordered_teams(groups: Sequence[ManagerGroup]) -> list[ManagerGroup]:
    """By region, then territory: never by a figure, so the page ranks nobody."""
    return sorted(groups, key=lambda g: (g.region, g.team))


def _bars(
    labels: list[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    notes: Sequence[tuple[str, bool]],
) -> list[Spec]:
    """Horizontal grouped percentage bars; rows with no value get a grey note at zero."""
    data: list[Spec] = []
    for name, colour, values in series:
        shown = [kit.finite(v) for v in values]
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
                "text": [kit.NOTE_GAP + kit.escape(notes[i][0]) for i in blank],
                "textposition": "middle right",
                "textfont": {"color": MUTED, "size": 12},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    return data


def _grouped_percent_bars_layout(groups: int) -> Spec:
    """Horizontal grouped bars on a 0-100% axis, one band per group, legend on top."""
    return kit.base_layout(
        90 + 56 * groups,
        barmode="group",
        showlegend=True,
        legend=kit.legend(),
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


def coaching(chart_id: str, groups: Sequence[ManagerGroup]) -> Chart | None:
    """Coaching coverage and report timeliness per manager group (team)."""
    teams = ordered_teams(groups)
    if not teams:
        return None
    labels = [kit.escape(team_label(g)) for g in teams]
    notes = [
        (
            "" if g.coaching_coverage is not None else _withheld_team(g),
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
    shown = [g for g in teams if kit.finite(g.coaching_coverage) is not None]
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
        chart_id, "Coaching coverage and report timeliness by team", summary, kit.spec(data, layout)
    )


def _withheld_team(group: ManagerGroup) -> str:
    """Why a team has no bar; a counts-only team still shows its counts."""
    note = withheld(group.tier, group.eligible_reps)
    if group.tier == Tier.COUNTS_ONLY and group.coached is not None:
        note += f": {group.coached} of {group.eligible_reps} coached"
    return note


def leniency(chart_id: str, groups: Sequence[ManagerGroup]) -> Chart | None:
    """Each team's rater leniency as a bar diverging from zero (the region's other raters)."""
    teams = ordered_teams(groups)
    if not teams:
        return None
    labels = [kit.escape(team_label(g)) for g in teams]
    values = [kit.finite(g.leniency) for g in teams]
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
                    kit.NOTE_GAP + kit.escape(withheld(teams[i].tier, teams[i].eligible_reps))
                    for i in blank
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
    layout = kit.base_layout(
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
        else "No team (and its region's other teams) is large enough to show rater leniency: "
        "it needs 10 eligible reps."
    )
    return Chart(chart_id, "Rater leniency by team", summary, kit.spec(data, layout))
