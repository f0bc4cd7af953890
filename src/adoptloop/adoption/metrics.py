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

Choices (documented here and in the README): teams are first-line managers' teams (the rep's
manager at window close); `--by module` groups by the module whose completion started the
clock; coaching coverage and follow-through are capability-independent and repeated on each
capability row of a group; a rep's coaching and actions belong to their group on D.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from adoptloop.adoption.kaplan_meier import kaplan_meier
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import schema

By = Literal["region", "team", "manager", "module", "capability"]
ALL = "(all)"
COACHING_DAYS = 90
FIELD_ROLES = ("rep", "kam", "msl")

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


@dataclass(frozen=True)
class RowSource:
    """Which rep x capability rows to aggregate: a table and a filter."""

    table: Table
    where: ColumnElement[bool]

    @classmethod
    def states(cls) -> RowSource:
        t = schema.adoption_states
        return cls(t, and_(t.c.source == "adoption", t.c.deleted.is_(False)))

    @classmethod
    def scratch(cls, computation: str) -> RowSource:
        t = schema.adoption_scratch
        return cls(t, t.c.computation == computation)


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
    ever_adopted: int = 0
    cohort_sustained: int = 0  # cohort reps whose state on D is sustained (the funnel's last step)
    median_days: float | None = None
    p75_days: float | None = None
    eligible: int | None = None
    coached: int | None = None
    actions_due: int | None = None
    actions_done: int | None = None
    flagged: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

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


def _flag(value: ColumnElement[Any]) -> Any:
    """SUM of a boolean as 0/1, portable across SQLite and PostgreSQL."""
    return func.sum(case((value, 1), else_=0))


def _group_expr(t: Table, by: By) -> ColumnElement[Any]:
    if by == "region":
        return func.coalesce(t.c.region, "(none)")
    if by in ("team", "manager"):
        return func.coalesce(t.c.manager_hr_id, "(none)")
    if by == "module":
        return func.coalesce(t.c.trained_module, "(none)")
    return literal(ALL)


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
    t = source.table
    rows: dict[tuple[str, str], MetricsRow] = {}
    group = _group_expr(t, by)
    for key_group in (group, literal(ALL)):
        query = (
            select(
                key_group.label("g"),
                t.c.capability_id,
                func.count(),
                _flag(t.c.in_cohort),
                _flag(t.c.observed),
                _flag(t.c.proficient),
                _flag(t.c.state == "sustained"),
                _flag(t.c.state == "regressed"),
                _flag(t.c.ever_adopted),
                _flag(and_(t.c.in_cohort, t.c.state == "sustained")),
            )
            .where(source.where, t.c.trained_at.is_not(None))
            .group_by(key_group, t.c.capability_id)
        )
        for (
            g,
            cap,
            trained,
            cohort,
            observed,
            adopted,
            sustained,
            regressed,
            ever,
            cohort_sustained,
        ) in conn.execute(query):
            if cap not in capabilities.capabilities:
                continue
            rows[(g, cap)] = MetricsRow(
                g,
                cap,
                int(trained),
                int(cohort or 0),
                int(observed or 0),
                int(adopted or 0),
                int(sustained or 0),
                int(regressed or 0),
                int(ever or 0),
                cohort_sustained=int(cohort_sustained or 0),
            )
        if by == "capability":
            break
    _time_to_proficiency(conn, source, group if by != "capability" else literal(ALL), rows, as_of)
    if by != "capability":
        _time_to_proficiency(conn, source, literal(ALL), rows, as_of)
    if by in ("region", "team", "manager"):
        attach: Literal["region", "manager"] = "region" if by == "region" else "manager"
        coaching = coaching_coverage(conn, as_of, attach, field_roles=field_roles)
        actions = follow_through(conn, as_of, attach)
        for (g, _cap), row in rows.items():
            row.eligible, row.coached = coaching.get(g, (0, 0))
            row.actions_due, row.actions_done, _ = actions.get(g, (0, 0, 0))
    _flag_groups(rows)
    if by == "team":
        labels = team_labels(conn, as_of, {g for g, _cap in rows if g not in (ALL, "(none)")})
        for row in rows.values():
            row.group = labels.get(row.group, row.group) if row.group != ALL else ALL
    order = {c.id: i for i, c in enumerate(capabilities.spec.capabilities)}
    return sorted(rows.values(), key=lambda r: (order[r.capability], r.group == ALL, r.group))


def team_labels(conn: Connection, as_of: date, managers: Iterable[str] = ()) -> dict[str, str]:
    """A team is a first-line manager's reps, named by the manager's territory, never by name
    or HR id: each of `managers` without a territory on record on D (or without an HR row at
    all, e.g. erased) is "team without territory #n", numbered in HR-id order."""
    p = schema.people
    rows = conn.execute(select(p.c.hr_id, p.c.territory).where(_people_on(as_of))).all()
    labels = {hr_id: f"team {territory}" for hr_id, territory in rows if territory}
    unnamed = sorted(set(managers) - set(labels))
    labels.update({m: f"team without territory #{i}" for i, m in enumerate(unnamed, 1)})
    return labels


def _time_to_proficiency(
    conn: Connection,
    source: RowSource,
    group: ColumnElement[Any],
    rows: Mapping[tuple[str, str], MetricsRow],
    as_of: date,
) -> None:
    t = source.table
    query = (
        select(group.label("g"), t.c.capability_id, t.c.trained_at, t.c.days_to_proficient)
        .where(source.where, t.c.trained_at.is_not(None))
        .order_by(group, t.c.capability_id)
        .execution_options(yield_per=5000)
    )
    current: tuple[str, str] | None = None
    batch: list[tuple[int, bool]] = []

    def flush() -> None:
        if current is not None and current in rows:
            curve = kaplan_meier(batch)
            rows[current].median_days = curve.quantile(0.5)
            rows[current].p75_days = curve.quantile(0.75)

    for g, cap, trained_at, days in conn.execute(query):
        if (g, cap) != current:
            flush()
            current, batch = (g, cap), []
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


def _people_on(day: date) -> Any:
    p = schema.people
    return and_(p.c.valid_from <= day, or_(p.c.valid_to.is_(None), p.c.valid_to > day))


def _eligible(row: Any, as_of: date, window_days: int) -> bool:
    start = as_of - timedelta(days=window_days)
    begin = max(start, row.hire_date) if row.hire_date else start
    end = min(as_of, row.termination_date) if row.termination_date else as_of
    return (end - begin).days >= window_days / 2


def coaching_coverage(
    conn: Connection,
    as_of: date,
    attach: Literal["region", "manager"],
    *,
    field_roles: Sequence[str] = FIELD_ROLES,
    window_days: int = COACHING_DAYS,
) -> dict[str, tuple[int, int]]:
    """group -> (eligible reps, those with >= 1 submitted visit in (D - 90 d, D])."""
    p, o = schema.people, schema.observations
    since = as_of - timedelta(days=window_days)
    coached = set(
        conn.execute(
            select(o.c.observed_hr_id)
            .where(
                o.c.counted.is_(True),
                o.c.deleted.is_(False),
                o.c.visit_date > since,
                o.c.visit_date <= as_of,
            )
            .distinct()
        ).scalars()
    )
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    query = select(
        p.c.hr_id, p.c.region, p.c.manager_hr_id, p.c.hire_date, p.c.termination_date
    ).where(_people_on(as_of), p.c.role.in_(list(field_roles)))
    for row in conn.execute(query):
        if not _eligible(row, as_of, window_days):
            continue
        key = (row.region if attach == "region" else row.manager_hr_id) or "(none)"
        for g in (key, ALL):
            out[g][0] += 1
            out[g][1] += row.hr_id in coached
    return {g: (v[0], v[1]) for g, v in out.items()}


def follow_through(
    conn: Connection,
    as_of: date,
    attach: Literal["region", "manager"],
    *,
    days: int = COACHING_DAYS,
) -> dict[str, tuple[int, int, int]]:
    """group -> (actions due in (D - 90 d, D], completed by D, completed by due + 7 d)."""
    a, p = schema.development_actions, schema.people
    since = as_of - timedelta(days=days)
    query = (
        select(a.c.due_on, a.c.completed_on, p.c.region, p.c.manager_hr_id)
        .join(p, and_(p.c.hr_id == a.c.hr_id, _people_on(as_of)))
        .where(
            a.c.deleted.is_(False),
            a.c.status != "cancelled",
            a.c.due_on > since,
            a.c.due_on <= as_of,
        )
    )
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for due, done, region, manager in conn.execute(query):
        key = (region if attach == "region" else manager) or "(none)"
        for g in (key, ALL):
            out[g][0] += 1
            if done is not None and done <= as_of:
                out[g][1] += 1
                out[g][2] += done <= due + timedelta(days=7)
    return {g: (v[0], v[1], v[2]) for g, v in out.items()}


# --- coaching quality (DESIGN.md's coaching rows) --------------------------------------------------


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

    @property
    def mean(self) -> float | None:
        return self.scaled_sum / self.ratings if self.ratings else None


def rater_stats(
    conn: Connection, as_of: date, *, days: int = COACHING_DAYS
) -> dict[str, RaterStats]:
    """Per observing manager over (D - 90 d, D]: timeliness, ratings, top-box, tagged reports."""
    o, r, p = schema.observations, schema.ratings, schema.people
    since = as_of - timedelta(days=days)
    window = and_(
        o.c.counted.is_(True),
        o.c.deleted.is_(False),
        o.c.visit_date > since,
        o.c.visit_date <= as_of,
    )
    regions = dict(conn.execute(select(p.c.hr_id, p.c.region).where(_people_on(as_of))).all())
    stats: dict[str, RaterStats] = {}
    query = select(o.c.observer_hr_id, o.c.visit_date, o.c.submitted_at).where(window)
    for observer, visit, submitted in conn.execute(query):
        s = stats.setdefault(observer, RaterStats(observer, regions.get(observer) or "(none)"))
        s.reports += 1
        if submitted:
            submitted_on = date.fromisoformat(submitted[:10])
            s.submission_days.append((submitted_on - visit).days)
            s.within_5_business_days += business_days_between(visit, submitted_on) <= 5
    # per observer in the database: ratings, their sum, top-box ratings and tagged reports
    # (reports with at least one rating: the distinct reports among the rated rows)
    report = o.c.source + literal("/", String) + o.c.record_id
    query2 = (
        select(
            o.c.observer_hr_id,
            func.count(),
            func.sum(r.c.scaled),
            _flag(r.c.scaled >= 1.0),
            func.count(func.distinct(report)),
        )
        .join(r, and_(r.c.source == o.c.source, r.c.record_id == o.c.record_id))
        .where(window)
        .group_by(o.c.observer_hr_id)
    )
    for observer, ratings, scaled_sum, top_box, tagged in conn.execute(query2):
        s = stats[observer]
        s.ratings += int(ratings)
        s.scaled_sum += float(scaled_sum)
        s.top_box += int(top_box)
        s.tagged_reports += int(tagged)
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
    p, o = schema.people, schema.observations
    managers = dict(
        conn.execute(
            select(p.c.hr_id, p.c.manager_hr_id).where(
                _people_on(as_of), p.c.role == "first_line_manager"
            )
        ).all()
    )
    since = as_of - timedelta(days=days)
    observed = {
        (observed, observer)
        for observed, observer in conn.execute(
            select(o.c.observed_hr_id, o.c.observer_hr_id)
            .where(
                o.c.counted.is_(True),
                o.c.deleted.is_(False),
                o.c.visit_date > since,
                o.c.visit_date <= as_of,
                o.c.observed_hr_id.in_(list(managers)),
            )
            .distinct()
        )
    }
    hits = sum((m, boss) in observed for m, boss in managers.items())
    return hits, len(managers)


def reinforcement(
    conn: Connection, source: RowSource, as_of: date, *, days: int = COACHING_DAYS
) -> dict[str, tuple[int, int, int | None]]:
    """capability -> (ratings in (D - 90 d, D], reps trained, days since last rated)."""
    o, r, t = schema.observations, schema.ratings, source.table
    since = as_of - timedelta(days=days)
    valid = and_(o.c.counted.is_(True), o.c.deleted.is_(False), o.c.visit_date <= as_of)
    recent: dict[str, int] = {}
    last: dict[str, Any] = {}
    for cap, in_window, latest in conn.execute(  # one pass over the ratings for both
        select(r.c.capability_id, _flag(o.c.visit_date > since), func.max(o.c.visit_date))
        .join(o, and_(o.c.source == r.c.source, o.c.record_id == r.c.record_id))
        .where(valid)
        .group_by(r.c.capability_id)
    ):
        if in_window:
            recent[cap] = int(in_window)
        last[cap] = latest
    trained: dict[str, int] = dict(
        conn.execute(
            select(t.c.capability_id, func.count())
            .where(source.where, t.c.trained_at.is_not(None))
            .group_by(t.c.capability_id)
        ).all()
    )
    out: dict[str, tuple[int, int, int | None]] = {}
    for cap in set(trained) | set(recent):
        last_day = last.get(cap)
        if isinstance(last_day, str):
            last_day = date.fromisoformat(last_day)
        out[cap] = (
            int(recent.get(cap, 0)),
            int(trained.get(cap, 0)),
            (as_of - last_day).days if last_day else None,
        )
    return out


def median_or_none(values: Iterable[float]) -> float | None:
    items = list(values)
    return float(median(items)) if items else None


def as_records(rows: Sequence[MetricsRow]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row.record()
