"""Adoption, first cut: per rep x capability states and the cohort metrics by group.

For each capability c and as-of date D (DESIGN.md, "Adoption"):
- trained_at: the earliest completed/passed completion of any module mapped to c;
- window: (trained_at, trained_at + W]; cohort: reps with trained_at + W <= D (censoring:
  a rep still inside the window counts nowhere yet);
- observed / proficient in window: >= 1 rating / >= 1 rating at or above the threshold;
- a rep's outcome belongs to the group (region, team, manager) of the HR row in effect on
  min(trained_at + W, D); before a person's first HR row, the first row is used.

Ratings are streamed from the store ordered by capability, rep and visit; only one rep's
ratings for one capability are held at a time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Select, and_, func, select, union

from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from adoptloop.adoption.states import RatingEvent, State, Trajectory, trajectory
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import schema

GroupBy = Literal["region", "team", "manager", "capability"]
ALL = "(all)"


@dataclass(frozen=True, slots=True)
class RepOutcome:
    hr_id: str
    capability_id: str
    trained_at: date | None
    in_cohort: bool
    observed: bool
    proficient: bool
    path: Trajectory
    trained_module: str | None = None  # the module whose completion started the clock


@dataclass
class GroupRow:
    group: str
    capability: str
    trained: int = 0  # trained on c by D (cohort or not)
    cohort: int = 0  # trained and window closed by D
    observed: int = 0
    proficient: int = 0
    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def tier(self) -> Tier:
        return tier(self.cohort)

    def ratio(self, numerator: int, denominator: int) -> float | None:
        if self.tier in (Tier.SUPPRESSED, Tier.COUNTS_ONLY) or denominator == 0:
            return None
        return numerator / denominator

    def as_record(self) -> dict[str, object]:
        suppressed = self.tier is Tier.SUPPRESSED
        low, high = wilson(self.proficient, self.observed) if self.observed else (0.0, 0.0)
        show_ci = self.tier in (Tier.DIRECTIONAL, Tier.COMPARABLE) and self.observed > 0

        def count(value: int) -> int | None:
            return None if suppressed else value

        return {
            "group": self.group,
            "capability": self.capability,
            "trained": count(self.trained),
            "cohort": count(self.cohort),
            "observed": count(self.observed),
            "adopted": count(self.proficient),
            "adoption_observed": _pct(self.ratio(self.proficient, self.observed)),
            "adoption_observed_ci_low": _pct(low) if show_ci else None,
            "adoption_observed_ci_high": _pct(high) if show_ci else None,
            "adoption_cohort": _pct(self.ratio(self.proficient, self.cohort)),
            "observation_coverage": _pct(self.ratio(self.observed, self.cohort)),
            "tier": self.tier.value,
            "suppressed": suppressed,
            "directional": self.tier is Tier.DIRECTIONAL,
        }


COLUMNS = (
    "group",
    "capability",
    "trained",
    "cohort",
    "observed",
    "adopted",
    "adoption_observed",
    "adoption_observed_ci_low",
    "adoption_observed_ci_high",
    "adoption_cohort",
    "observation_coverage",
    "tier",
    "suppressed",
    "directional",
)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


class PersonHistory:
    """One person's effective-dated HR rows (sorted by valid_from): their group on a date."""

    __slots__ = ("_rows", "_starts")

    def __init__(self, rows: list[tuple[date, dict[str, str | None]]]) -> None:
        self._rows = rows
        self._starts = [r[0] for r in rows]

    def attributes(self, on: date) -> dict[str, str | None]:
        """Region and manager on a date (the first HR row before it starts; {} without rows)."""
        if not self._rows:
            return {}
        return self._rows[max(0, bisect_right(self._starts, on) - 1)][1]


class OrgHistory:
    """Effective-dated HR rows, to find a person's group on a date."""

    def __init__(self, conn: Connection) -> None:
        self._rows: dict[str, list[tuple[date, dict[str, str | None]]]] = defaultdict(list)
        p = schema.people
        query = select(
            p.c.hr_id, p.c.valid_from, p.c.region, p.c.manager_hr_id, p.c.territory
        ).order_by(p.c.hr_id, p.c.valid_from)
        for row in conn.execute(query):
            self._rows[row.hr_id].append(
                (row.valid_from, {"region": row.region, "manager": row.manager_hr_id})
            )

    def attributes(self, hr_id: str, on: date) -> dict[str, str | None]:
        """The person's region and manager on a date (their first HR row before it starts)."""
        return PersonHistory(self._rows.get(hr_id, [])).attributes(on)

    def group_of(self, hr_id: str, on: date, by: GroupBy) -> str:
        if hr_id not in self._rows:
            return "(unknown)"
        key = "manager" if by in ("team", "manager") else "region"
        return self.attributes(hr_id, on).get(key) or "(none)"


def trained_dates(
    conn: Connection, capabilities: CapabilityMap, as_of: date
) -> dict[tuple[str, str], date]:
    """(hr_id, capability) -> earliest completed/passed completion date on or before as_of."""
    return {key: day for key, (day, _module) in trained_by(conn, capabilities, as_of).items()}


def trained_by(
    conn: Connection, capabilities: CapabilityMap, as_of: date
) -> dict[tuple[str, str], tuple[date, str]]:
    """(hr_id, capability) -> (earliest completion date, the module completed then)."""
    c = schema.completions
    first = func.min(c.c.completed_at)
    query = (
        select(c.c.hr_id, c.c.module_id, first)
        .where(and_(c.c.status != "failed", c.c.deleted.is_(False)))
        .group_by(c.c.hr_id, c.c.module_id)
    )
    out: dict[tuple[str, str], tuple[date, str]] = {}
    for hr_id, module_id, completed_at in conn.execute(query):
        day = date.fromisoformat(completed_at[:10])
        if day > as_of:
            continue
        for capability in capabilities.capabilities_for_module(module_id):
            key = (hr_id, capability)
            if key not in out or (day, module_id) < out[key]:
                out[key] = (day, module_id)
    return out


def rep_outcomes(
    conn: Connection, capabilities: CapabilityMap, as_of: date
) -> Iterator[RepOutcome]:
    """Every (rep, capability) that is trained or rated, with its window outcome and path."""
    for person in people_outcomes(conn, capabilities, as_of):
        yield from person.outcomes


@dataclass(frozen=True, slots=True)
class PersonOutcomes:
    hr_id: str
    history: PersonHistory
    outcomes: list[RepOutcome]  # in capability id order


class _Stream:
    """Rows of one query ordered by a person key, taken a person at a time."""

    __slots__ = ("_head", "_rows")

    def __init__(self, rows: Iterator[Any]) -> None:
        self._rows = rows
        self._head = next(rows, None)

    def take(self, key: str) -> list[Any]:
        """The rows of `key` at the head of the stream (keys come in the driver's order)."""
        out = []
        while self._head is not None and self._head[0] == key:
            out.append(self._head)
            self._head = next(self._rows, None)
        return out


def people_outcomes(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    only: Sequence[str] | None = None,
) -> Iterator[PersonOutcomes]:
    """Per person (in the store's hr_id order), every trained or rated capability's outcome;
    with `only`, just those people (taken _ONLY_CHUNK at a time).

    Streams merged by person: only one person's HR rows, completions and ratings are held at a
    time. Every stream is ordered by hr_id by the database, and the driver lists every hr_id
    any of them holds, so they are walked by equality alone (whatever the collation).
    """
    if only is None:
        yield from _merged(conn, capabilities, as_of, None)
        return
    ids = sorted(set(only))
    for offset in range(0, len(ids), _ONLY_CHUNK):
        yield from _merged(conn, capabilities, as_of, ids[offset : offset + _ONLY_CHUNK])


_ONLY_CHUNK = 500


def _merged(
    conn: Connection, capabilities: CapabilityMap, as_of: date, ids: list[str] | None
) -> Iterator[PersonOutcomes]:
    p, c, o = schema.people, schema.completions, schema.observations

    def among(query: Select[Any], column: Any) -> Select[Any]:
        return query if ids is None else query.where(column.in_(ids))

    keys = union(
        among(select(p.c.hr_id.label("k")), p.c.hr_id),
        among(select(c.c.hr_id.label("k")), c.c.hr_id),
        among(select(o.c.observed_hr_id.label("k")), o.c.observed_hr_id),
    ).subquery()
    driver = conn.execute(select(keys.c.k).order_by(keys.c.k).execution_options(yield_per=5000))
    people = _Stream(
        iter(
            conn.execute(
                among(select(p.c.hr_id, p.c.valid_from, p.c.region, p.c.manager_hr_id), p.c.hr_id)
                .order_by(p.c.hr_id, p.c.valid_from)
                .execution_options(yield_per=5000)
            )
        )
    )
    completions = _Stream(iter(conn.execute(among(_trained_query(), c.c.hr_id))))
    mapped = capabilities.capabilities
    ratings = _Stream(iter(conn.execute(among(_ratings_query(as_of), o.c.observed_hr_id))))
    for (hr_id,) in driver:
        history = PersonHistory(
            [
                (valid_from, {"region": region, "manager": manager})
                for _, valid_from, region, manager in people.take(hr_id)
            ]
        )
        trained: dict[str, tuple[date, str]] = {}
        for _, module_id, completed_at in completions.take(hr_id):
            day = date.fromisoformat(completed_at[:10])
            if day > as_of:
                continue
            for capability in capabilities.capabilities_for_module(module_id):
                if capability not in trained or (day, module_id) < trained[capability]:
                    trained[capability] = (day, module_id)
        events: dict[str, list[RatingEvent]] = defaultdict(list)
        for _, capability_id, visit_date, visit_id, scaled in ratings.take(hr_id):
            if capability_id in mapped:
                events[capability_id].append(RatingEvent(visit_date, visit_id, scaled))
        if not trained and not events:
            continue
        outcomes = [
            _outcome((cap, hr_id), trained.get(cap), events.get(cap, []), capabilities, as_of)
            for cap in sorted(trained.keys() | events.keys())
        ]
        yield PersonOutcomes(hr_id, history, outcomes)


def _trained_query() -> Select[Any]:
    """Per (hr_id, module): the earliest completed/passed completion, by hr_id."""
    c = schema.completions
    return (
        select(c.c.hr_id, c.c.module_id, func.min(c.c.completed_at))
        .where(and_(c.c.status != "failed", c.c.deleted.is_(False)))
        .group_by(c.c.hr_id, c.c.module_id)
        .order_by(c.c.hr_id, c.c.module_id)
        .execution_options(yield_per=5000)
    )


def _ratings_query(as_of: date) -> Select[Any]:
    """Counted ratings, in (rep, capability, visit date, visit id) order. Those on capabilities
    no longer in the map (a stored rating may name one since removed from it) are skipped by
    the caller: a capability filter here leads SQLite to scan every rating by capability
    instead of taking a few reps' visits by the rep index."""
    r, o = schema.ratings, schema.observations
    return (
        select(o.c.observed_hr_id, r.c.capability_id, o.c.visit_date, o.c.record_id, r.c.scaled)
        .join(o, and_(o.c.source == r.c.source, o.c.record_id == r.c.record_id))
        .where(
            and_(
                o.c.counted.is_(True),
                o.c.deleted.is_(False),
                o.c.visit_date <= as_of,
            )
        )
        .order_by(o.c.observed_hr_id, r.c.capability_id, o.c.visit_date, o.c.record_id)
        # on the statement, not the connection: Connection.execution_options() changes the
        # caller's connection in place and would stream every later query on it
        .execution_options(yield_per=5000)
    )


def _outcome(
    key: tuple[str, str],
    first: tuple[date, str] | None,
    events: list[RatingEvent],
    capabilities: CapabilityMap,
    as_of: date,
) -> RepOutcome:
    capability_id, hr_id = key
    trained_at, module = first if first is not None else (None, None)
    capability = capabilities.capabilities[capability_id]
    window = timedelta(days=capabilities.window_days(capability_id))
    path = trajectory(trained_at, events, capability.threshold, as_of)
    in_cohort = trained_at is not None and trained_at + window <= as_of
    in_window = [
        e
        for e in events
        if trained_at is not None and trained_at < e.visit_date <= trained_at + window
    ]
    return RepOutcome(
        hr_id=hr_id,
        capability_id=capability_id,
        trained_at=trained_at,
        in_cohort=in_cohort,
        observed=in_cohort and bool(in_window),
        proficient=in_cohort and any(e.scaled >= capability.threshold for e in in_window),
        path=path,
        trained_module=module,
    )


def adoption_table(
    conn: Connection, capabilities: CapabilityMap, as_of: date, by: GroupBy = "region"
) -> list[GroupRow]:
    """Rows per (group, capability) plus an '(all)' row per capability, sorted."""
    org = OrgHistory(conn)
    rows: dict[tuple[str, str], GroupRow] = {}
    for outcome in rep_outcomes(conn, capabilities, as_of):
        if outcome.trained_at is None:
            continue
        window = timedelta(days=capabilities.window_days(outcome.capability_id))
        close = min(outcome.trained_at + window, as_of)
        group = ALL if by == "capability" else org.group_of(outcome.hr_id, close, by)
        targets = {group, ALL}
        for g in targets:
            row = rows.setdefault((g, outcome.capability_id), GroupRow(g, outcome.capability_id))
            row.trained += 1
            row.states[outcome.path.state.value] += 1
            if outcome.in_cohort:
                row.cohort += 1
                row.observed += outcome.observed
                row.proficient += outcome.proficient
    order = {c.id: i for i, c in enumerate(capabilities.spec.capabilities)}
    return sorted(rows.values(), key=lambda r: (order[r.capability], r.group == ALL, r.group))


def state_counts(rows: list[GroupRow]) -> Mapping[str, Mapping[str, int]]:
    """Per capability, how many reps are in each state (from the '(all)' rows)."""
    return {
        r.capability: {s.value: r.states.get(s.value, 0) for s in State if s is not State.UNTRAINED}
        for r in rows
        if r.group == ALL
    }
