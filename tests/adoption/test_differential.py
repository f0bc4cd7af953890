"""A seeded random org, its adoption CSV against a naive reference (issue 16, point 3).

The org (several hundred reps; team and region moves, promotions, leavers, rehires after a
gap, managers who are trained and rated too, actions with due dates, visits with and without
ratings, drafts, ratings after D) is loaded into a real SQLite store: HR rows through the
store's own `upsert_people` in the HR file's implicit form (a row per change, a leaver as a
`terminated` row from the last day employed, with termination_date = that day; a rehire as a
new row with a new hire date), the LMS and CRM records as the pull leaves them. The engine's
CSV (`write_table_csv` over `adoption_metrics`) is then compared cell by cell with `reference`,
a deliberately naive implementation written here from DESIGN.md's text ("Adoption (the loop)",
precise rules and CSV contract): it reads the org as generated (employment spells with their
posts, inclusive dates), imports nothing from adoptloop.adoption, loops over days and people
instead of being clever, and is slow on purpose.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from statistics import NormalDist
from typing import Any

import pytest
from sqlalchemy import Connection

from adoptloop.adoption.compute import scratch
from adoptloop.adoption.metrics import By, adoption_metrics, write_table_csv
from adoptloop.domain import Person
from adoptloop.store import records, schema
from adoptloop.store.metrics import RowSource
from tests.adoption.scenario import Scenario

D = date(2024, 6, 30)
ONE = timedelta(days=1)
# the capability map of tests/adoption/scenario.py, restated: id -> (threshold, W, modules)
CAPS = {
    "objection-handling": (0.75, 90, {"MOD-OBJ-101", "MOD-OBJ-201"}),
    "discovery": (0.5, 30, {"MOD-DISC-101"}),
}
MODULES = ["MOD-OBJ-101", "MOD-OBJ-201", "MOD-DISC-101"]
REGIONS = ["North", "South", "East", "West"]
SCALED = [0.0, 0.25, 0.5, 0.75, 1.0]


# --- the org, as generated ------------------------------------------------------------------


@dataclass
class Spell:
    start: date  # hire day
    end: date | None  # last day employed, inclusive; None: still employed
    posts: list[tuple[date, str, str, str | None]]  # (from, role, region, manager)


@dataclass
class Visit:
    id: str
    observer: str
    rep: str
    day: date
    submitted: bool
    ratings: list[tuple[str, str, float]]  # (item, capability, scaled)


@dataclass
class Action:
    owner: str
    capability: str
    agreed: date
    due: date | None
    completed: date | None
    status: str


@dataclass
class Org:
    spells: dict[str, list[Spell]] = field(default_factory=dict)
    completions: list[tuple[str, str, date, str]] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


def rand_day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def generate(seed: int, reps: int = 320) -> Org:
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    org = Org()
    managers = {f"M{i:02d}": REGIONS[i % 4] for i in range(10)}
    for m, region in managers.items():
        org.spells[m] = [
            Spell(
                D - timedelta(days=900), None, [(D - timedelta(days=900), "manager", region, "DIR")]
            )
        ]
    org.spells["DIR"] = [
        Spell(D - timedelta(days=900), None, [(D - timedelta(days=900), "director", "North", None)])
    ]
    for i in range(reps):
        hr = f"R{i:04d}"
        start = rand_day(rng, D - timedelta(days=700), D - timedelta(days=5))
        spells: list[Spell] = []
        while True:
            boss = rng.choice(list(managers))
            posts = [(start, "rep", managers[boss], boss if rng.random() > 0.03 else None)]
            end = None
            if rng.random() < 0.2:
                end = rand_day(rng, start + timedelta(days=3), D + timedelta(days=15))
            limit = end or D + timedelta(days=10)
            for _ in range(rng.choice([0, 0, 1, 1, 2])):  # moves, some promotions
                since = rand_day(rng, posts[-1][0] + ONE, limit)
                if since >= limit or since <= posts[-1][0]:
                    break
                boss = rng.choice(list(managers))
                role = "manager" if rng.random() < 0.08 else "rep"
                region = managers[boss] if rng.random() < 0.8 else rng.choice(REGIONS)
                posts.append((since, role, region, boss))
            spells.append(Spell(start, end, posts))
            if end is None or rng.random() < 0.5:
                break
            start = end + timedelta(days=rng.randint(2, 60))  # a rehire after a gap
            if start > D:
                break
        org.spells[hr] = spells
    people = list(org.spells)
    ids = iter(range(1, 10**6))
    for hr in people:
        trained_too = hr.startswith("R") or rng.random() < 0.5  # managers are trained too
        for module in MODULES:
            if trained_too and rng.random() < 0.55:
                for _ in range(rng.choice([1, 1, 2])):
                    status = rng.choice(["completed", "completed", "passed", "failed"])
                    day = rand_day(rng, D - timedelta(days=300), D + timedelta(days=5))
                    org.completions.append((hr, module, day, status))
        for _ in range(rng.randint(0, 10)):
            ratings: list[tuple[str, str, float]] = []
            if rng.random() < 0.7:
                ratings.append((f"obj-{len(ratings)}", "objection-handling", rng.choice(SCALED)))
                if rng.random() < 0.1:  # two items rating one capability on one visit
                    ratings.append(("obj-second", "objection-handling", rng.choice(SCALED)))
            if rng.random() < 0.4:
                ratings.append(("disc", "discovery", rng.choice(SCALED)))
            org.visits.append(
                Visit(
                    f"V-{next(ids):06d}",
                    rng.choice([m for m in managers if m != hr]),
                    hr,
                    rand_day(rng, D - timedelta(days=320), D + timedelta(days=5)),
                    rng.random() < 0.9,
                    ratings,
                )
            )
        for _ in range(rng.randint(0, 3)):
            agreed = rand_day(rng, D - timedelta(days=150), D + timedelta(days=3))
            due = agreed + timedelta(days=rng.randint(0, 60)) if rng.random() < 0.95 else None
            completed = None
            if due is not None and rng.random() < 0.7:
                completed = due + timedelta(days=rng.randint(-20, 20))
            status = "cancelled" if rng.random() < 0.05 else ("completed" if completed else "open")
            org.actions.append(Action(hr, rng.choice(list(CAPS)), agreed, due, completed, status))
    return org


def load(org: Org, conn: Connection) -> Scenario:
    """The org into the store: HR rows through upsert_people (implicit form), the rest as the
    pull leaves it."""
    people: list[Person] = []
    for hr, spells in org.spells.items():
        for spell in spells:
            for since, role, region, boss in spell.posts:
                people.append(person(hr, since, role, region, boss, spell.start, None))
            if spell.end is not None:
                _, role, region, boss = spell.posts[-1]
                people.append(person(hr, spell.end, role, region, boss, spell.start, spell.end))
    records.upsert_people(conn, people)
    s = Scenario(conn)
    for hr, module, day, status in org.completions:
        s.completed(hr, module, day, status=status)
    for v in org.visits:
        conn.execute(
            schema.observations.insert(),
            [
                {
                    "source": "crm",
                    "record_id": v.id,
                    "observer_hr_id": v.observer,
                    "observed_hr_id": v.rep,
                    "visit_date": v.day,
                    "timezone": "Europe/Paris",
                    "status": "Submitted" if v.submitted else "Draft",
                    "counted": v.submitted,
                    "submitted_at": f"{v.day.isoformat()}T17:00:00Z" if v.submitted else None,
                    "has_next_step": False,
                    "names_capability": False,
                    "word_count": 0,
                    "digest": "0" * 32,
                    "deleted": False,
                }
            ],
        )
        if v.ratings:
            conn.execute(
                schema.ratings.insert(),
                [
                    {
                        "source": "crm",
                        "record_id": v.id,
                        "item": item,
                        "capability_id": cap,
                        "raw": 1 + 4 * scaled,
                        "scaled": scaled,
                    }
                    for item, cap, scaled in v.ratings
                ],
            )
    for a in org.actions:
        s.action(
            a.owner, a.due, a.completed, status=a.status, capability=a.capability, agreed=a.agreed
        )
    conn.commit()
    return s


def person(
    hr: str, since: date, role: str, region: str, boss: str | None, hired: date, left: date | None
) -> Person:
    return Person(
        hr_id=hr,
        valid_from=since,
        first_name="F",
        last_name=hr,
        email=None,
        employee_number=None,
        role=role,
        manager_hr_id=boss,
        region=region,
        country=None,
        territory=None,
        business_unit=None,
        status="terminated" if left else "active",
        hire_date=hired,
        termination_date=left,
    )


# --- the reference, from DESIGN.md's text -----------------------------------------------------


def rows_of(org: Org, hr: str) -> list[tuple[date, date | None, str, str, str | None]]:
    """The person's HR rows with inclusive ends: (valid_from, valid_to, role, region, manager)."""
    out = []
    for spell in org.spells.get(hr, []):
        for i, (since, role, region, boss) in enumerate(spell.posts):
            nxt = spell.posts[i + 1][0] - ONE if i + 1 < len(spell.posts) else spell.end
            out.append((since, nxt, role, region, boss))
    return out


def row_on(org: Org, hr: str, day: date) -> tuple[date, date | None, str, str, str | None] | None:
    valid = [r for r in rows_of(org, hr) if r[0] <= day and (r[1] is None or day <= r[1])]
    return max(valid, key=lambda r: r[0]) if valid else None


def group_of(row: tuple[date, date | None, str, str, str | None], by: str) -> str:
    return row[3] if by == "region" else (row[4] or "(none)")


def state_on(ratings: list[tuple[date, float]], threshold: float) -> str:
    state, start, lows = "trained-unobserved", None, 0
    for day, scaled in ratings:
        good = scaled >= threshold
        if state in ("trained-unobserved", "developing"):
            state = "adopted" if good else "developing"
            start = day if good else start
            lows = 0
        elif state == "regressed":
            if good:
                state, start, lows = "adopted", day, 0
        elif good:
            lows = 0
            if state == "adopted" and start is not None and 30 <= (day - start).days <= 180:
                state = "sustained"
        else:
            lows += 1
            if lows == 2:
                state, lows = "regressed", 0
    return state


def km_day(times: list[tuple[int, bool]], level: Fraction) -> int | None:
    survival = Fraction(1)
    for t in sorted({t for t, event in times if event}):
        at_risk = sum(1 for u, _ in times if u >= t)
        events = sum(1 for u, event in times if u == t and event)
        survival *= 1 - Fraction(events, at_risk)
        if survival <= level:
            return t
    return None


def four(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def reference(org: Org, by: str) -> dict[tuple[str, str], dict[str, str]]:
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {
            "eligible": 0,
            "coached": 0,
            "trained": 0,
            "cohort": 0,
            "observed": 0,
            "adopted": 0,
            "sustained": 0,
            "regressed": 0,
            "due": 0,
            "on_time": 0,
            "times": [],
        }
    )
    found: set[str] = set()
    for hr in org.spells:
        visits = sorted(
            (v for v in org.visits if v.rep == hr and v.submitted and v.day <= D),
            key=lambda v: (v.day, v.id),
        )
        for cap, (threshold, window, modules) in CAPS.items():
            days = [
                day
                for h, m, day, status in org.completions
                if h == hr and m in modules and status != "failed" and day <= D
            ]
            if not days:
                continue
            trained = min(days)
            row = row_on(org, hr, min(trained + timedelta(days=window), D))
            if row is None or row[2] != "rep":
                continue
            ratings = [
                (v.day, scaled)
                for v in visits
                for item, c, scaled in sorted(v.ratings)
                if c == cap and v.day > trained
            ]
            in_cohort = trained + timedelta(days=window) <= D
            inside = [s for day, s in ratings if day <= trained + timedelta(days=window)]
            first = next((day for day, s in ratings if s >= threshold), None)
            state = state_on(ratings, threshold)
            for g in (group_of(row, by), "(all)"):
                c = cells[(g, cap)]
                found.add(g)
                c["trained"] += 1
                c["cohort"] += in_cohort
                c["observed"] += in_cohort and bool(inside)
                c["adopted"] += in_cohort and any(s >= threshold for s in inside)
                c["sustained"] += state == "sustained"
                c["regressed"] += state == "regressed"
                c["times"].append(
                    ((first - trained).days, True) if first else ((D - trained).days, False)
                )
    for hr in org.spells:
        period = [D - timedelta(days=k) for k in range(90)]
        employed = [day for day in period if row_on(org, hr, day) is not None]
        if len(employed) < 45:
            continue
        row = row_on(org, hr, max(employed))
        if row is None or row[2] != "rep":
            continue
        visited = any(
            v.rep == hr and v.submitted and D - timedelta(days=90) < v.day <= D for v in org.visits
        )
        for g in (group_of(row, by), "(all)"):
            found.add(g)
            for cap in CAPS:
                cells[(g, cap)]["eligible"] += 1
                cells[(g, cap)]["coached"] += visited
    for a in org.actions:
        if a.status == "cancelled" or a.due is None or a.agreed > D:
            continue
        if not D - timedelta(days=90) < a.due <= D:
            continue
        row = row_on(org, a.owner, a.due)
        if row is None or row[2] != "rep":
            continue
        on_time = a.completed is not None and a.completed <= min(a.due + timedelta(days=7), D)
        for g in (group_of(row, by), "(all)"):
            found.add(g)
            cells[(g, a.capability)]["due"] += 1
            cells[(g, a.capability)]["on_time"] += on_time
    z = NormalDist().inv_cdf(0.975)
    out = {}
    for g in found | {"(all)"}:
        for cap in CAPS:
            c = cells[(g, cap)]
            n = c["cohort"]
            counts, rates = n >= 5, n >= 10

            def count(value: int, shown: bool = counts) -> str:
                return str(value) if shown else ""

            def frac(num: int, den: int, shown: bool = rates) -> str:
                return four(Decimal(num) / Decimal(den)) if shown and den else ""

            low = high = ""
            if rates and c["observed"]:
                k, m = c["adopted"], c["observed"]
                p = k / m
                centre = (p + z * z / (2 * m)) / (1 + z * z / m)
                half = z * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
                low = four(Decimal(repr(0.0 if k == 0 else centre - half)))
                high = four(Decimal(repr(1.0 if k == m else centre + half)))
            median = km_day(c["times"], Fraction(1, 2)) if rates else None
            p75 = km_day(c["times"], Fraction(1, 4)) if rates else None
            out[(g, cap)] = {
                "eligible": count(c["eligible"]),
                "trained": count(c["trained"]),
                "cohort": count(n),
                "observed": count(c["observed"]),
                "adopted": count(c["adopted"]),
                "sustained": count(c["sustained"]),
                "regressed": count(c["regressed"]),
                "adoption_observed": frac(c["adopted"], c["observed"]),
                "adoption_observed_ci_low": low,
                "adoption_observed_ci_high": high,
                "adoption_cohort": frac(c["adopted"], n),
                "observation_coverage": frac(c["observed"], n),
                "median_days_to_proficiency": "" if median is None else str(median),
                "p75_days_to_proficiency": "" if p75 is None else str(p75),
                "coaching_coverage": frac(c["coached"], c["eligible"]),
                "action_follow_through": frac(c["on_time"], c["due"]),
                "suppressed": "true" if n < 5 else "false",
                "directional": "true" if 10 <= n < 30 else "false",
            }
    return out


# --- the comparison ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [16, 1603])
def test_engine_csv_agrees_with_a_naive_reference_cell_by_cell(
    scenario: Scenario, seed: int
) -> None:
    """Issue 16 point 3: every cell of `adoption --format csv` (by region and by manager) on a
    random org equals the naive reference's."""
    org = generate(seed)
    s = load(org, scenario.conn)
    engine = scenario.conn.engine
    bys: tuple[By, ...] = ("region", "manager")
    for by in bys:
        with scratch(engine, s.capabilities, D) as computation, engine.connect() as conn:
            rows = adoption_metrics(conn, RowSource.scratch(computation), s.capabilities, D, by)
        out = io.StringIO()
        write_table_csv(rows, out)
        got = {
            (r["group"], r["capability"]): r for r in csv.DictReader(io.StringIO(out.getvalue()))
        }
        want = reference(org, by)
        assert sorted(got) == sorted(want), by
        shown = sum(1 for cells in want.values() if cells["cohort"])
        assert shown >= 8, "the org should have groups whose numbers are shown"
        wrong = [
            (key, column, got[key][column], value)
            for key, cells in sorted(want.items())
            for column, value in cells.items()
            if got[key][column] != value
        ]
        assert wrong == [], f"by {by}: {len(wrong)} cells differ, e.g. {wrong[:10]}"
