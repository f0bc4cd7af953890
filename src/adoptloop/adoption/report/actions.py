"""Where to act and where it works: the region x capability cells that differ from the org.

The rule (also in docs/adoption.md and the report's "How to read this"):

1. Only rows with a cohort of 10 or more are judged (the small-number rule: 10-29 directional).
   The org's value is the capability's "(all)" row; a group without a region is not judged.
2. A cell needs action when its adoption (cohort) Wilson 95% interval sits entirely below the
   org's adoption (cohort) for that capability; it works when the interval sits entirely above
   and, when uplift is available (the `adoptloop[uplift]` extra), the capability's uplift
   interval (adoption/uplift.py, org-wide) sits above zero too: high adoption of a capability
   training did not move is not a success case (DESIGN.md "What training caused"). Without
   the extra, adoption alone decides and the report says so.
3. What to do next for a cell that needs action. Adoption (cohort) is observation coverage
   times adoption among the observed, so the shortfall comes from one factor or the other:
   - coverage gap: the cell's coverage, relative to the org's, is further below than its
     adoption among the observed: reps are not being observed;
   - follow-through gap: otherwise (observed but not proficient), when the row's development
     actions were done less often than the org's: actions agreed in coaching are not done;
   - adoption gap: otherwise: reps are observed but not rated proficient.
Individual reps are never named or ranked: a cell is a region and a capability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adoptloop.adoption.metrics import ALL, MetricsRow
from adoptloop.adoption.report.data import Opportunity
from adoptloop.adoption.smallnumbers import tier, wilson
from adoptloop.store.metrics import NO_GROUP

GAPS = {
    "coverage": "Coverage gap",
    "follow-through": "Follow-through gap",
    "adoption": "Adoption gap",
}


def _share(numerator: int | None, denominator: int | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def _ratio(value: float | None, org: float | None) -> float:
    """How far `value` is from the org's, as a fraction of the org's (1 = like the org)."""
    if value is None or not org:
        return 1.0
    return value / org


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def opportunities(
    rows: Sequence[MetricsRow],
    names: Mapping[str, str],
    uplift_above_zero: Mapping[str, bool] | None = None,
) -> tuple[list[Opportunity], list[Opportunity]]:
    """(where to act, where it works) from the by-region rows, in capability then region order.
    `uplift_above_zero`: capability id -> whether its uplift interval sits above zero (a
    capability with no shown estimate is absent: False); None when uplift is unavailable."""
    org = {r.capability: r for r in rows if r.group == ALL}
    act: list[Opportunity] = []
    works: list[Opportunity] = []
    for row in rows:
        whole = org.get(row.capability)
        if (
            row.group in (ALL, NO_GROUP)
            or whole is None
            or not whole.cohort
            or not tier(row.cohort).shows_estimates
        ):
            continue
        org_rate = whole.adopted / whole.cohort
        low, high = wilson(row.adopted, row.cohort)
        if high < org_rate:
            act.append(_opportunity(row, whole, names, (low, high), below=True))
        elif low > org_rate and (
            uplift_above_zero is None or uplift_above_zero.get(row.capability, False)
        ):
            works.append(_opportunity(row, whole, names, (low, high), below=False))
    return act, works


def _opportunity(
    row: MetricsRow,
    org: MetricsRow,
    names: Mapping[str, str],
    interval: tuple[float, float],
    *,
    below: bool,
) -> Opportunity:
    name = names.get(row.capability, row.capability)
    coverage, org_coverage = row.observed / row.cohort, org.observed / org.cohort
    proficient, org_proficient = (
        _share(row.adopted, row.observed),
        _share(org.adopted, org.observed),
    )
    actions, org_actions = (
        _share(row.actions_on_time, row.actions_due),
        _share(org.actions_on_time, org.actions_due),
    )
    gap = ""
    if below:
        gap = _gap(coverage, org_coverage, proficient, org_proficient, actions, org_actions)
    return Opportunity(
        group=row.group,
        capability=name,
        tier=tier(row.cohort).value,
        adopted=row.adopted,
        cohort=row.cohort,
        adoption=round(100 * row.adopted / row.cohort, 1),
        ci_low=round(100 * interval[0], 1),
        ci_high=round(100 * interval[1], 1),
        org_adoption=round(100 * org.adopted / org.cohort, 1),
        coverage=round(100 * coverage, 1),
        org_coverage=round(100 * org_coverage, 1),
        adoption_observed=_pct(proficient),
        org_adoption_observed=_pct(org_proficient),
        follow_through=_pct(actions),
        org_follow_through=_pct(org_actions),
        gap=gap,
        next_step=_next_step(gap, row, name),
    )


def _gap(
    coverage: float,
    org_coverage: float,
    proficient: float | None,
    org_proficient: float | None,
    actions: float | None,
    org_actions: float | None,
) -> str:
    if _ratio(coverage, org_coverage) < _ratio(proficient or 0.0, org_proficient):
        return "coverage"
    if actions is not None and org_actions is not None and actions < org_actions:
        return "follow-through"
    return "adoption"


def _next_step(gap: str, row: MetricsRow, capability: str) -> str:
    group = row.group
    if gap == "coverage":
        unseen = row.cohort - row.observed
        return (
            f"Observe first: {unseen} of {row.cohort} reps trained on {capability} were not "
            f"rated on it in their window. Ask {group}'s managers to plan ride-alongs that rate "
            f"{capability} for the reps whose window is open."
        )
    if gap == "follow-through":
        due, done = row.actions_due or 0, row.actions_on_time or 0
        return (
            f"Follow through: {due - done} of {due} development actions due in {group} were "
            "not done. Review the open actions in the next coaching visits before adding "
            "training."
        )
    if gap == "adoption":
        return (
            f"Coach the skill: {row.observed} reps were observed on {capability} but "
            f"{row.adopted} rated proficient. Plan targeted coaching (or a refresher) on "
            f"{capability} in {group}, then observe again."
        )
    return (
        f"Ask {group}'s managers what they do on {capability}: coverage, coaching and "
        "follow-through here are a practice others can copy."
    )
