"""Adoption metrics by group and capability: the one engine behind the table, CSV and report.

Every figure follows DESIGN.md ("Adoption (the loop)", precise rules); the columns are its CSV
contract (`COLUMNS`, in order):

| column | meaning |
|---|---|
| group, capability | the group (region, team, manager, module, or "(all)") and capability id |
| eligible | reps eligible for coaching: employed on >= 45 of the 90 days to D, a rep on the last |
| trained | reps trained on the capability by D, attributed to the group |
| cohort | trained reps whose adoption window closed by D (the denominator of the rates) |
| observed, adopted | cohort reps rated / rated proficient inside their window |
| sustained, regressed | trained reps whose state on D is sustained / regressed |
| adoption_observed (+ _ci_low/_ci_high) | adopted / observed, with a Wilson 95% interval |
| adoption_cohort | adopted / cohort, read beside observation_coverage |
| observation_coverage | observed / cohort |
| median_days_to_proficiency, p75_... | Kaplan-Meier over the trained reps, censored at D |
| coaching_coverage | eligible reps with >= 1 submitted visit in (D - 90 d, D] / eligible |
| action_follow_through | actions on the capability due in (D - 90 d, D] done on time / due |
| suppressed, directional | the row's small-number tier, decided by its cohort |

Attribution (employment.py holds the HR conventions): a rep x capability counts in the group of
the rep's HR row valid on min(trained_at + W, D), and nowhere when there is none (the person had
left) or it is not a `rep` row; an eligible rep in the group of the row valid on their last
employed day in the coaching window; an action in the group of its owner's row valid on its due
date. A team is the `team` of that HR row, or without one the first-line manager's team (the
row's manager), labelled by the manager's territory;
`--by module` groups trained reps by the module whose completion started the clock (coaching
coverage and follow-through then only on the "(all)" rows). Rows: every group with a trained
rep, an eligible rep or an action, times every capability of the map, plus "(all)".

Further choices: cancelled and deleted actions are not due; an action without a due date is
never due; an action on a capability the map does not know is left out (no row to put it on).
"""

from __future__ import annotations

import csv
from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from itertools import repeat
from statistics import median
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from adoptloop.adoption import aggregates
from adoptloop.adoption.aggregates import ALL, COACHING_DAYS, EVERYONE, Aggregates, By, group_of
from adoptloop.adoption.employment import Employment
from adoptloop.adoption.kaplan_meier import Curve, kaplan_meier_counts
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.roles import MANAGER_ROLE
from adoptloop.store import aggregates as kept_store
from adoptloop.store import metrics as store
from adoptloop.store.aggregates import CELL_COUNTS
from adoptloop.store.metrics import NO_GROUP, TEAM_KEY, DueAction, RowSource

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["ALL", "COACHING_DAYS", "By"]  # re-exported: where adoption's callers take them

ON_TIME_GRACE = timedelta(days=7)  # an action is on time when done by due + 7 d (and by D)

COLUMNS = (
    "group",
    "capability",
    "eligible",
    "trained",
    "cohort",
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
)
_FRACTION = Decimal("0.0001")


def fraction(value: Decimal | float) -> Decimal:
    """A fraction 0..1 as the CSV writes it: 4 decimals, rounded half up."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return exact.quantize(_FRACTION, rounding=ROUND_HALF_UP)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as a CSV fraction; None (blank) for a 0 denominator."""
    return fraction(Decimal(numerator) / Decimal(denominator)) if denominator else None


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
    curve: Curve | None = None  # Kaplan-Meier over the trained reps (None: nobody trained)
    eligible: int = 0
    coached: int = 0
    actions_due: int = 0
    actions_completed: int = 0  # completed on or before D (the report's "completed")
    actions_on_time: int = 0
    flagged: bool = False

    @property
    def tier(self) -> Tier:
        """The row's tier: its cohort size decides every cell, coaching ones included."""
        return tier(self.cohort)

    @property
    def shows_rates(self) -> bool:
        return self.tier.shows_estimates

    @property
    def median_days(self) -> int | None:
        return self.curve.quantile(0.5) if self.curve else None

    @property
    def p75_days(self) -> int | None:
        return self.curve.quantile(0.75) if self.curve else None

    def interval(self) -> tuple[float, float] | None:
        return wilson(self.adopted, self.observed) if self.observed and self.shows_rates else None

    def values(self) -> dict[str, Any]:
        """The CSV contract's cells as values: None = blank (a suppressed cell or a 0
        denominator), fractions as 4-decimal Decimals, days as ints, flags as bools."""
        suppressed = self.tier is Tier.SUPPRESSED
        rates = self.shows_rates

        def count(value: int) -> int | None:
            return None if suppressed else value

        def rate(numerator: int, denominator: int) -> Decimal | None:
            return ratio(numerator, denominator) if rates else None

        interval = self.interval()
        return {
            "group": self.group,
            "capability": self.capability,
            "eligible": count(self.eligible),
            "trained": count(self.trained),
            "cohort": count(self.cohort),
            "observed": count(self.observed),
            "adopted": count(self.adopted),
            "sustained": count(self.sustained),
            "regressed": count(self.regressed),
            "adoption_observed": rate(self.adopted, self.observed),
            "adoption_observed_ci_low": fraction(interval[0]) if interval else None,
            "adoption_observed_ci_high": fraction(interval[1]) if interval else None,
            "adoption_cohort": rate(self.adopted, self.cohort),
            "observation_coverage": rate(self.observed, self.cohort),
            "median_days_to_proficiency": self.median_days if rates else None,
            "p75_days_to_proficiency": self.p75_days if rates else None,
            "coaching_coverage": rate(self.coached, self.eligible),
            "action_follow_through": rate(self.actions_on_time, self.actions_due),
            "suppressed": suppressed,
            "directional": self.tier is Tier.DIRECTIONAL,
        }

    def record(self) -> dict[str, Any]:
        """values() for JSON (fractions as numbers), with the tier and the flag."""
        out = {k: float(v) if isinstance(v, Decimal) else v for k, v in self.values().items()}
        return {**out, "tier": self.tier.value, "flagged": self.flagged}

    def cells(self) -> dict[str, str]:
        """values() as the CSV writes them: blank, `true`/`false`, plain numbers."""

        def text(value: Any) -> str:
            if value is None:
                return ""
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)

        return {k: text(v) for k, v in self.values().items()}


class _Key(NamedTuple):
    group: str
    capability: str


def adoption_metrics(
    conn: Connection,
    source: RowSource,
    capabilities: CapabilityMap,
    as_of: date,
    by: By = "region",
) -> list[MetricsRow]:
    """Rows per (group, capability) plus an '(all)' row per capability, computed in full."""
    return metric_rows(
        conn, aggregates.full(conn, source, capabilities, as_of), capabilities, as_of, by
    )


def metric_rows(
    conn: Connection,
    sums: Aggregates,
    capabilities: CapabilityMap,
    as_of: date,
    by: By,
) -> list[MetricsRow]:
    """The rows of grouping `by` from the sums (adoption.aggregates), plus follow-through;
    each row's Kaplan-Meier curve made from its counts (Aggregates.curves: the kept ones read
    from the store through `conn` a curve at a time)."""
    rows: dict[_Key, MetricsRow] = {}

    def at(group: str, capability: str) -> MetricsRow:
        return rows.setdefault(_Key(group, capability), MetricsRow(group, capability))

    groupings = [by, EVERYONE] if by != "capability" else [EVERYONE]
    for grouping in groupings:
        for group, cap, counts in sums.groups(grouping):
            if not cap or cap not in capabilities.capabilities:
                continue
            r = at(group, cap)
            (r.trained, r.cohort, r.observed, r.adopted, r.sustained, r.regressed) = counts[:6]
            r.cohort_sustained = counts[6]
        for group, cap, observations in sums.curves(conn, grouping, as_of):
            row = rows.get(_Key(group, cap))
            if row is not None:
                row.curve = kaplan_meier_counts(observations)
    attach: By = by if by in ("region", "team", "manager") else "capability"
    for g, (eligible, coached) in coverage(sums, attach).items():
        for cap in capabilities.capabilities:
            at(g, cap).eligible, at(g, cap).coached = eligible, coached
    for (g, cap), actions in follow_through(conn, capabilities, as_of, attach).items():
        r = at(g, cap)
        r.actions_due, r.actions_completed, r.actions_on_time = actions
    for g in {key.group for key in rows} | {ALL}:  # every group x every capability
        for cap in capabilities.capabilities:
            at(g, cap)
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
    row at all, e.g. erased) is "team without territory #n", numbered in HR-id order. The
    labels of `managers` only."""
    wanted = set(managers)  # only theirs: everyone's would be a label per person
    rows = store.territories_on(conn, as_of)
    labels = {h: f"team {territory}" for h, territory in rows if territory and h in wanted}
    labels.update({k: k.removeprefix(TEAM_KEY) for k in wanted if k.startswith(TEAM_KEY)})
    unnamed = sorted(wanted - set(labels))
    labels.update({m: f"team without territory #{i}" for i, m in enumerate(unnamed, 1)})
    return labels


def _flag_groups(rows: Mapping[_Key, MetricsRow]) -> None:
    """A group is flagged only when its adoption interval excludes the overall value."""
    for (g, cap), row in rows.items():
        overall = rows.get(_Key(ALL, cap))
        interval = row.interval()
        if g == ALL or overall is None or interval is None or not overall.observed:
            continue
        value = overall.adopted / overall.observed
        row.flagged = not interval[0] <= value <= interval[1]


# --- coaching coverage and follow-through ------------------------------------------------------


def coaching_coverage(conn: Connection, as_of: date, attach: By) -> dict[str, tuple[int, int]]:
    """coverage() of everyone on `as_of`, computed in full."""
    sums = Aggregates()
    sums.add([], aggregates.person_contributions(conn, as_of))
    return coverage(sums, attach)


def coverage(sums: Aggregates, attach: By) -> dict[str, tuple[int, int]]:
    """group -> (eligible reps, those with >= 1 submitted visit in (D - 90 d, D], by anyone),
    "(all)" included; `attach` "capability" (or "module"): only "(all)"."""
    groupings = [attach, EVERYONE] if attach in ("region", "team", "manager") else [EVERYONE]
    eligible, coached = CELL_COUNTS.index("eligible"), CELL_COUNTS.index("coached")
    return {
        group: (counts[eligible], counts[coached])
        for grouping in groupings
        for group, cap, counts in sums.groups(grouping)
        if cap == "" and counts[eligible]
    }


# Development actions whose owners' HR rows are read at once (follow_through): their
# employment histories, not the window's actions, are what grows with the org (at 50,000 reps
# reading every owner at once held ~28 MB more). One read's owners are let go before the next
# is read: held two at a time, the adoption stage's peak grew from 10,000 reps (a read and a
# half) to 50,000 (two full reads).
ACTIONS_PER_READ = 5_000


def follow_through(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    attach: By,
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(group, capability) -> (actions due in (D - 90 d, D] and agreed by D, completed by D,
    done on time: completed on or before min(due + 7 d, D)), each in the group of its owner's
    `rep` row valid on the due date (none if they had left). Computed each time from the
    actions due in the window (a bounded set) and their owners' HR rows."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    since = as_of - timedelta(days=COACHING_DAYS)
    for actions in store.due_actions(conn, since, as_of, per_fetch=ACTIONS_PER_READ):
        # the owners of these actions, read at once: memory stays bounded
        people = aggregates.load_people(conn, sorted({a.hr_id for a in actions}))
        _count_actions(out, actions, people, capabilities, as_of, attach)
        del actions, people  # before the next batch and its owners are read
    return {key: (v[0], v[1], v[2]) for key, v in out.items()}


def _count_actions(
    out: dict[tuple[str, str], list[int]],
    actions: Iterable[DueAction],
    people: Mapping[str, Employment],
    capabilities: CapabilityMap,
    as_of: date,
    attach: By,
) -> None:
    for action in actions:
        person = people.get(action.hr_id)
        post = person.rep_on(action.due) if person else None
        if post is None or action.capability_id not in capabilities.capabilities:
            continue
        completed = action.completed
        done = completed is not None and completed <= as_of
        on_time = completed is not None and completed <= min(action.due + ON_TIME_GRACE, as_of)
        group = group_of(attach, post)
        for g in (group, ALL) if group is not None else (ALL,):
            counts = out[(g, action.capability_id)]
            counts[0] += 1
            counts[1] += done
            counts[2] += on_time


# --- coaching quality (DESIGN.md's coaching rows) --------------------------------------------------


def business_days(weekday: int, days: int) -> int:
    """Weekdays among the `days` days after a day of `weekday` (0 Monday .. 6 Sunday), up to
    and including the last (0 when days <= 0)."""
    weeks, rest = divmod(max(0, days), 7)
    return weeks * 5 + sum((weekday + i) % 7 < 5 for i in range(1, rest + 1))


@dataclass(slots=True)
class RaterStats:
    """One observer's coaching figures over the period (rater_stats): one per coaching
    manager (12,500 at 100,000 reps), so no instance dict, and each report's days to
    submission as 4 bytes, not a list slot and its int."""

    manager_hr_id: str
    region: str
    reports: int = 0
    submission_days: array[int] = field(default_factory=lambda: array("i"))
    within_5_business_days: int = 0
    ratings: int = 0
    scaled_sum: float = 0.0
    top_box: int = 0
    tagged_reports: int = 0


def rater_stats(
    conn: Connection,
    as_of: date,
    *,
    days: int = COACHING_DAYS,
    kept: bool = False,
    regions: Callable[[Collection[str]], Mapping[str, str | None]] | None = None,
) -> dict[str, RaterStats]:
    """Per observing manager over (D - 90 d, D]: timeliness, ratings, top-box, tagged reports
    (reports with at least one rating). `kept`: from the visits the kept metrics hold
    (metric_visits, brought to D by adoption.aggregates.update), else from the store's visits
    and ratings. The visits come counted by what is read of them, and the scaled sums are
    added exactly (`_ExactSum`), so neither their order nor their grouping changes a figure.
    `regions`: how the caller reads the observers' regions on D, called once with the
    observers (the caller may read others' with them); else store.regions_on of the
    observers."""
    since = as_of - timedelta(days=days)
    if kept:
        visits = kept_store.visits_between(conn, since, as_of)
    else:
        visits = kept_store.visits_of_period(conn, since, as_of, top_box=aggregates.TOP_BOX)
    stats: dict[str, RaterStats] = {}
    sums: dict[str, _ExactSum] = {}
    # (weekday, lag) -> submitted within 5 business days: a few hundred pairs for the period's
    # ~30,000 visits at 10k reps (issue 17: business_days for each visit, ~5 % of the stage
    # in an incremental run)
    timely: dict[tuple[int, int], bool] = {}
    for observer, lag, weekday, ratings, scaled_sum, top_box, n in visits:
        s = stats.get(observer)
        if s is None:
            s = stats[observer] = RaterStats(observer, NO_GROUP)
            sums[observer] = _ExactSum()
        s.reports += n
        if lag is not None:
            s.submission_days.extend(repeat(lag, n))
            within = timely.get((weekday, lag))
            if within is None:
                within = timely[weekday, lag] = business_days((weekday + 6) % 7, lag) <= 5
            s.within_5_business_days += n * within
        s.ratings += n * ratings
        s.top_box += n * top_box
        s.tagged_reports += n * (ratings > 0)
        sums[observer].add(scaled_sum, n)
    found = (regions or partial(store.regions_on, conn, as_of))(stats.keys())
    for observer, s in stats.items():
        s.region = found.get(observer) or NO_GROUP
        s.scaled_sum = sums[observer].value()
    return stats


class _ExactSum:
    """A sum of floats kept exactly, as an integer over a power of two: `value()` is the
    exact sum rounded once to the nearest float, as math.fsum rounds it, whatever the order
    of the terms. Two integers, not a list of every term (the period's visits: ~150,000
    floats at 50,000 reps, held at once)."""

    __slots__ = ("numerator", "shift")

    def __init__(self) -> None:
        self.numerator = 0
        self.shift = 0  # the sum is numerator / 2**shift

    def add(self, value: float | Decimal, times: int = 1) -> None:
        """Add `value` (finite; as a float, as math.fsum takes it) `times` times."""
        numerator, denominator = float(value).as_integer_ratio()  # denominator: a power of two
        shift = denominator.bit_length() - 1
        if shift > self.shift:
            self.numerator <<= shift - self.shift
            self.shift = shift
        self.numerator += (numerator * times) << (self.shift - shift)

    def value(self) -> float:
        return self.numerator / (1 << self.shift)  # int / int: rounded once, to nearest even


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
    return store.observed_by_their_manager(conn, as_of - timedelta(days=days), as_of, MANAGER_ROLE)


def reinforcement(
    conn: Connection,
    source: RowSource,
    as_of: date,
    *,
    days: int = COACHING_DAYS,
    sums: Aggregates | None = None,
) -> dict[str, tuple[int, int, int | None]]:
    """capability -> (ratings in (D - 90 d, D], reps trained, days since last rated); the
    ratings from the kept `sums` (adoption.aggregates) when given, else from the store."""
    recent: dict[str, int] = {}
    last: dict[str, date | None] = {}
    rated = (
        [(cap, *counts) for cap, counts in sums.ratings(as_of, days).items()]
        if sums is not None
        else store.rating_recency(conn, as_of - timedelta(days=days), as_of)
    )
    for cap, in_window, latest in rated:
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


def median_of_counts(counts: Mapping[int, int]) -> float | None:
    """median_or_none of the values `counts` holds (value -> how many times), without the
    list of them: the mean of the values at the two middle positions of that list in order
    (one and the same when it is odd)."""
    total = sum(counts.values())
    if not total:
        return None
    low_at, high_at = (total - 1) // 2, total // 2
    low: int | None = None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if low is None and seen > low_at:
            low = value
        if low is not None and seen > high_at:
            return float(value if low == value else (low + value) / 2)
    return None  # not reached: the last value's count brings `seen` to `total`


def write_table_csv(rows: Sequence[MetricsRow], out: TextIO) -> None:
    """The adoption table as CSV (DESIGN.md's contract): a header of COLUMNS, then a line per
    row."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.cells())
