"""Adoption metrics by group and capability, aggregated in SQL over the rep x capability rows.

Columns (stable; documented in the README):

| column | meaning |
|---|---|
| group, capability | the group (region, team, manager, module, or "(all)") and capability id |
| eligible | field reps in the group employed for at least half the window (coaching metrics) |
| trained | reps trained on the capability by the as-of date D |
| cohort | trained reps whose adoption window closed by D (the denominator of the rates) |
| observed, adopted | cohort reps rated / rated proficient inside their window |
| sustained, regressed | trained reps whose state on D is sustained / regressed |
| adoption_observed (+ _ci_low/_ci_high) | adopted / observed, percent, Wilson 95% interval |
| adoption_cohort | adopted / cohort, percent — read beside observation_coverage |
| observation_coverage | observed / cohort, percent |
| median_days_to_proficiency, p75_... | Kaplan-Meier over every trained rep, censored at D |
| coaching_coverage | eligible reps with >= 1 submitted visit in (D - 90 d, D], percent |
| action_follow_through | actions due in (D - 90 d, D] completed by D / due, percent |
| suppressed, directional, tier, flagged | small-number rules (cohort < 5 / 10-29 / ...); flagged: the adoption interval excludes the overall value |

Choices (documented here and in the README): a team is the `team` of the rep's HR row at window
close, or without one the first-line manager's team (the rep's manager at window close); `--by
module` groups by the module whose completion started the clock; coaching coverage and
follow-through are capability-independent and repeated on each capability row of a group; a
rep's coaching and actions belong to their group on D.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any, Literal, TextIO

from adoptloop.adoption.kaplan_meier import kaplan_meier
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.roles import FIELD_ROLE, MANAGER_ROLE
from adoptloop.store import metrics as store
from adoptloop.store.metrics import NO_GROUP, TEAM_KEY, FieldPerson, GroupColumn, RowSource

if TYPE_CHECKING:
    from sqlalchemy import Connection

By = Literal["region", "team", "manager", "module", "capability"]
ALL = "(all)"
COACHING_DAYS = 90
# The store keeps canonical roles (the `roles:` map is applied at pull): only `rep` is a field
# role, `manager` a first-line manager.
FIELD_ROLES = (FIELD_ROLE,)

COLUMNS = (
    "group",
    "capability",
    "eligible",
    "trained",
    "observed",
    "adopted",
    "sustained",
    "regressed",
    "adoption_observed",
    "adoption_observed_ci_low",
    "adoption_observed_ci_high",
    "adoption_cohort",
    "observation_coverage",
    "median_days_to_proficiency",
    "p75_days_to_proficiency",
    "coaching_coverage",
    "action_follow_through",
    "suppressed",
    "directional",
    "cohort",
    "tier",
    "flagged",
)


@dataclass
class MetricsRow:
    group: str
    capability: str
    trained: int = 0
    cohort: int = 0
    observed: int = 0
    adopted: int = 0
    sustained: int = 0
    regressed: int = 0
    cohort_sustained: int = 0  # cohort reps whose state on D is sustained (the funnel's last step)
    median_days: float | None = None
    p75_days: float | None = None
    eligible: int | None = None
    coached: int | None = None
    actions_due: int | None = None
    actions_done: int | None = None
    flagged: bool = False

    @property
    def tier(self) -> Tier:
        return tier(self.cohort)

    @property
    def shows_rates(self) -> bool:
        return self.tier in (Tier.DIRECTIONAL, Tier.COMPARABLE)

    def interval(self) -> tuple[float, float] | None:
        return wilson(self.adopted, self.observed) if self.observed and self.shows_rates else None

    def record(self) -> dict[str, Any]:
        suppressed = self.tier is Tier.SUPPRESSED

        def count(value: int | None) -> int | None:
            return None if suppressed else value

        def pct(num: int | None, den: int | None, *, gated: bool = True) -> float | None:
            if (gated and not self.shows_rates) or not den or num is None:
                return None
            return round(100 * num / den, 1)

        interval = self.interval()
        coaching_ok = self.eligible is not None and tier(self.eligible) in (
            Tier.DIRECTIONAL,
            Tier.COMPARABLE,
        )
        actions_ok = self.actions_due is not None and tier(self.actions_due) in (
            Tier.DIRECTIONAL,
            Tier.COMPARABLE,
        )
        return {
            "group": self.group,
            "capability": self.capability,
            "eligible": self.eligible
            if self.eligible is None or tier(self.eligible) is not Tier.SUPPRESSED
            else None,
            "trained": count(self.trained),
            "observed": count(self.observed),
            "adopted": count(self.adopted),
            "sustained": count(self.sustained),
            "regressed": count(self.regressed),
            "adoption_observed": pct(self.adopted, self.observed),
            "adoption_observed_ci_low": round(100 * interval[0], 1) if interval else None,
            "adoption_observed_ci_high": round(100 * interval[1], 1) if interval else None,
            "adoption_cohort": pct(self.adopted, self.cohort),
            "observation_coverage": pct(self.observed, self.cohort),
            "median_days_to_proficiency": self.median_days if self.shows_rates else None,
            "p75_days_to_proficiency": self.p75_days if self.shows_rates else None,
            "coaching_coverage": pct(self.coached, self.eligible, gated=False)
            if coaching_ok
            else None,
            "action_follow_through": pct(self.actions_done, self.actions_due, gated=False)
            if actions_ok
            else None,
            "suppressed": suppressed,
            "directional": self.tier is Tier.DIRECTIONAL,
            "cohort": count(self.cohort),
            "tier": self.tier.value,
            "flagged": self.flagged,
        }


_GROUP_COLUMN: dict[str, GroupColumn] = {
    "region": "region",
    "team": "team",
    "manager": "manager_hr_id",
    "module": "trained_module",
}


def adoption_metrics(
    conn: Connection,
    source: RowSource,
    capabilities: CapabilityMap,
    as_of: date,
    by: By = "region",
    *,
    field_roles: Sequence[str] = FIELD_ROLES,
) -> list[MetricsRow]:
    """Rows per (group, capability) plus an '(all)' row per capability."""
    column = _GROUP_COLUMN.get(by)  # None: by capability, only the '(all)' rows
    rows: dict[tuple[str, str], MetricsRow] = {}
    for grouping in (column, None) if column is not None else (None,):
        for counts in store.group_counts(conn, source, grouping):
            if counts.capability_id not in capabilities.capabilities:
                continue
            g = ALL if counts.group is None else counts.group
            rows[(g, counts.capability_id)] = MetricsRow(
                g,
                counts.capability_id,
                counts.trained,
                counts.cohort,
                counts.observed,
                counts.adopted,
                counts.sustained,
                counts.regressed,
                cohort_sustained=counts.cohort_sustained,
            )
    _time_to_proficiency(conn, source, column, rows, as_of)
    if column is not None:
        _time_to_proficiency(conn, source, None, rows, as_of)
    if by in ("region", "team", "manager"):
        attach: Literal["region", "team", "manager"] = by
        coaching = coaching_coverage(conn, as_of, attach, field_roles=field_roles)
        actions = follow_through(conn, as_of, attach)
        for (g, _cap), row in rows.items():
            row.eligible, row.coached = coaching.get(g, (0, 0))
            row.actions_due, row.actions_done, _ = actions.get(g, (0, 0, 0))
    _flag_groups(rows)
    if by == "team":
        labels = team_labels(conn, as_of, {g for g, _cap in rows if g not in (ALL, NO_GROUP)})
        for row in rows.values():
            row.group = labels.get(row.group, row.group) if row.group != ALL else ALL
    order = {c.id: i for i, c in enumerate(capabilities.spec.capabilities)}
    return sorted(rows.values(), key=lambda r: (order[r.capability], r.group == ALL, r.group))


def team_labels(conn: Connection, as_of: date, managers: Iterable[str] = ()) -> dict[str, str]:
    """A team is the HR row's own team (its key `store.TEAM_KEY` + name, labelled by the
    name), or else a first-line manager's reps, named by the manager's territory, never by
    name or HR id: each of `managers` without a territory on record on D (or without an HR
    row at all, e.g. erased) is "team without territory #n", numbered in HR-id order."""
    rows = store.territories_on(conn, as_of)
    labels = {hr_id: f"team {territory}" for hr_id, territory in rows if territory}
    labels.update({k: k.removeprefix(TEAM_KEY) for k in managers if k.startswith(TEAM_KEY)})
    unnamed = sorted(set(managers) - set(labels))
    labels.update({m: f"team without territory #{i}" for i, m in enumerate(unnamed, 1)})
    return labels


def _time_to_proficiency(
    conn: Connection,
    source: RowSource,
    grouping: GroupColumn | None,
    rows: Mapping[tuple[str, str], MetricsRow],
    as_of: date,
) -> None:
    """Kaplan-Meier median and p75 days per row, over every trained rep, censored at D."""
    current: tuple[str, str] | None = None
    batch: list[tuple[int, bool]] = []

    def flush() -> None:
        if current is not None and current in rows:
            curve = kaplan_meier(batch)
            rows[current].median_days = curve.quantile(0.5)
            rows[current].p75_days = curve.quantile(0.75)

    for group, cap, trained_at, days in store.proficiency_times(conn, source, grouping):
        key = (ALL if group is None else group, cap)
        if key != current:
            flush()
            current, batch = key, []
        batch.append((days, True) if days is not None else ((as_of - trained_at).days, False))
    flush()


def _flag_groups(rows: Mapping[tuple[str, str], MetricsRow]) -> None:
    """A group is flagged only when its adoption interval excludes the overall value."""
    for (g, cap), row in rows.items():
        overall = rows.get((ALL, cap))
        interval = row.interval()
        if g == ALL or overall is None or interval is None or not overall.observed:
            continue
        value = overall.adopted / overall.observed
        row.flagged = not interval[0] <= value <= interval[1]


# --- coaching and follow-through (capability-independent) --------------------------------------


def _eligible(person: FieldPerson, as_of: date, window_days: int) -> bool:
    start = as_of - timedelta(days=window_days)
    begin = max(start, person.hire_date) if person.hire_date else start
    end = min(as_of, person.termination_date) if person.termination_date else as_of
    return (end - begin).days >= window_days / 2


def coaching_coverage(
    conn: Connection,
    as_of: date,
    attach: Literal["region", "team", "manager"],
    *,
    field_roles: Sequence[str] = FIELD_ROLES,
    window_days: int = COACHING_DAYS,
) -> dict[str, tuple[int, int]]:
    """group -> (eligible reps, those with >= 1 submitted visit in (D - 90 d, D])."""
    coached = store.visited_people(conn, as_of - timedelta(days=window_days), as_of)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for person in store.people_in_roles_on(conn, as_of, field_roles):
        if not _eligible(person, as_of, window_days):
            continue
        key = {"region": person.region, "team": person.team_key}.get(
            attach, person.manager_hr_id
        ) or NO_GROUP
        for g in (key, ALL):
            out[g][0] += 1
            out[g][1] += person.hr_id in coached
    return {g: (v[0], v[1]) for g, v in out.items()}


def follow_through(
    conn: Connection,
    as_of: date,
    attach: Literal["region", "team", "manager"],
    *,
    days: int = COACHING_DAYS,
) -> dict[str, tuple[int, int, int]]:
    """group -> (actions due in (D - 90 d, D], completed by D, completed by due + 7 d)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for due, done, region, manager, team in store.due_actions(
        conn, as_of - timedelta(days=days), as_of
    ):
        key = {"region": region, "team": team}.get(attach, manager) or NO_GROUP
        for g in (key, ALL):
            out[g][0] += 1
            if done is not None and done <= as_of:
                out[g][1] += 1
                out[g][2] += done <= due + timedelta(days=7)
    return {g: (v[0], v[1], v[2]) for g, v in out.items()}


# --- coaching quality (DESIGN.md's coaching rows) --------------------------------------------------

TOP_BOX = 1.0  # a scaled rating at the top of its scale


def business_days_between(start: date, end: date) -> int:
    """Weekdays after `start` up to and including `end` (0 when end <= start)."""
    weeks, rest = divmod(max(0, (end - start).days), 7)
    first = start.weekday()
    return weeks * 5 + sum((first + i) % 7 < 5 for i in range(1, rest + 1))


@dataclass
class RaterStats:
    manager_hr_id: str
    region: str
    reports: int = 0
    submission_days: list[int] = field(default_factory=list)
    within_5_business_days: int = 0
    ratings: int = 0
    scaled_sum: float = 0.0
    top_box: int = 0
    tagged_reports: int = 0


def rater_stats(
    conn: Connection, as_of: date, *, days: int = COACHING_DAYS
) -> dict[str, RaterStats]:
    """Per observing manager over (D - 90 d, D]: timeliness, ratings, top-box, tagged reports."""
    since = as_of - timedelta(days=days)
    regions = store.regions_on(conn, as_of)
    stats: dict[str, RaterStats] = {}
    for observer, visit, submitted in store.visits(conn, since, as_of):
        s = stats.setdefault(observer, RaterStats(observer, regions.get(observer) or NO_GROUP))
        s.reports += 1
        if submitted:
            submitted_on = date.fromisoformat(submitted[:10])
            s.submission_days.append((submitted_on - visit).days)
            s.within_5_business_days += business_days_between(visit, submitted_on) <= 5
    # per observer in the database: ratings, their sum, top-box ratings and tagged reports
    # (reports with at least one rating: the distinct reports among the rated rows)
    for rated in store.observer_ratings(conn, since, as_of, top_box=TOP_BOX):
        s = stats[rated.observer]
        s.ratings += rated.ratings
        s.scaled_sum += rated.scaled_sum
        s.top_box += rated.top_box
        s.tagged_reports += rated.tagged_reports
    return stats


def leniency(stats: Mapping[str, RaterStats]) -> dict[str, float | None]:
    """A manager's mean scaled rating minus the mean of the other raters in their region."""
    by_region: dict[str, list[RaterStats]] = defaultdict(list)
    for s in stats.values():
        by_region[s.region].append(s)
    out: dict[str, float | None] = {}
    for s in stats.values():
        others = [o for o in by_region[s.region] if o is not s and o.ratings]
        total = sum(o.ratings for o in others)
        if not s.ratings or not total:
            out[s.manager_hr_id] = None
            continue
        other_mean = sum(o.scaled_sum for o in others) / total
        out[s.manager_hr_id] = round(s.scaled_sum / s.ratings - other_mean, 3)
    return out


def coach_the_coach(conn: Connection, as_of: date, *, days: int = 180) -> tuple[int, int]:
    """(first-line managers observed by their own manager in 180 d, first-line managers)."""
    managers = store.managers_in_role_on(conn, as_of, MANAGER_ROLE)
    observed = store.observation_pairs(conn, as_of - timedelta(days=days), as_of, list(managers))
    hits = sum((m, boss) in observed for m, boss in managers.items())
    return hits, len(managers)


def reinforcement(
    conn: Connection, source: RowSource, as_of: date, *, days: int = COACHING_DAYS
) -> dict[str, tuple[int, int, int | None]]:
    """capability -> (ratings in (D - 90 d, D], reps trained, days since last rated)."""
    recent: dict[str, int] = {}
    last: dict[str, date | None] = {}
    for cap, in_window, latest in store.rating_recency(conn, as_of - timedelta(days=days), as_of):
        if in_window:
            recent[cap] = in_window
        last[cap] = latest
    trained = store.trained_per_capability(conn, source)
    out: dict[str, tuple[int, int, int | None]] = {}
    for cap in set(trained) | set(recent):
        last_day = last.get(cap)
        out[cap] = (
            recent.get(cap, 0),
            trained.get(cap, 0),
            (as_of - last_day).days if last_day else None,
        )
    return out


def median_or_none(values: Iterable[float]) -> float | None:
    items = list(values)
    return float(median(items)) if items else None


def write_table_csv(rows: Sequence[MetricsRow], out: TextIO) -> None:
    """The adoption table as CSV: a header of COLUMNS, then one line per row (blank = None)."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = row.record()
        writer.writerow({k: "" if record[k] is None else record[k] for k in COLUMNS})
