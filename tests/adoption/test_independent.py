"""Issue 16: the adoption CSV against an independent reading of DESIGN.md, through the files.

Each scenario is written as customer files (explicit HR form), run through `adoptloop run`
and `adoptloop adoption --format csv`, and compared cell by cell with
tests/adoption/independent_reference.py, written from DESIGN.md's text alone.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.adoption.independent_files import CMAP, cli, engine_csv, write_org
from tests.adoption.independent_reference import Action, Completion, Row, Visit, compute

D = date(2026, 6, 30)


def days(n: int) -> timedelta:
    return timedelta(days=n)


class Org:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.completions: list[Completion] = []
        self.visits: list[Visit] = []
        self.actions: list[Action] = []

    def row(
        self,
        hr_id: str,
        role: str,
        manager: str,
        region: str,
        start: date,
        end: date | None = None,
        team: str | None = None,
        termination: date | None = None,
        hire: date | None = None,
    ) -> None:
        self.rows.append(
            Row(
                hr_id,
                role,
                manager,
                region,
                f"{region} team" if team is None else team,
                start,
                end,
                termination,
                hire,
            )
        )

    def train(self, hr_id: str, module: str, day: date, status: str = "passed") -> None:
        self.completions.append(
            Completion(f"C{len(self.completions):06d}", hr_id, module, status, day)
        )

    def visit(
        self,
        observed: str,
        day: date,
        observer: str = "M1",
        status: str = "Submitted",
        **ratings: int,
    ) -> None:
        self.visits.append(
            Visit(
                f"V{len(self.visits):06d}",
                observer,
                observed,
                day,
                status,
                {f"{k}__c": v for k, v in ratings.items()},
            )
        )

    def action(
        self,
        hr_id: str,
        cap: str,
        agreed: date,
        due: date | None,
        completed: date | None = None,
        status: str = "Open",
    ) -> None:
        self.actions.append(
            Action(f"A{len(self.actions):06d}", hr_id, cap, agreed, due, completed, status)
        )


def compare(
    tmp_path: Path,
    org: Org,
    as_of: tuple[date, ...] = (D,),
    bys: tuple[str, ...] = ("region", "team", "manager"),
) -> None:
    config = write_org(tmp_path, org.rows, org.completions, org.visits, org.actions)
    run = cli(config, "run")
    assert run.returncode in (0, 65), run.stdout + run.stderr
    problems = []
    for day, by in ((day, by) for day in as_of for by in bys):
        got = engine_csv(config, day.isoformat(), by)
        want = compute(org.rows, org.completions, org.visits, org.actions, CMAP, day, by)
        gk = {(r["group"], r["capability"]): r for r in got}
        wk = {(r["group"], r["capability"]): r for r in want}
        for key in sorted(set(gk) | set(wk)):
            if key not in gk or key not in wk:
                problems.append(f"{day} {by} {key}: engine {'has' if key in gk else 'lacks'} it")
                continue
            for col, value in wk[key].items():
                if gk[key][col] != value:
                    problems.append(
                        f"{day} {by} {key} {col}: engine {gk[key][col]!r} ref {value!r}"
                    )
    assert not problems, "\n".join(problems)


def base_org() -> Org:
    """Managers M1 (North), M2 (South); 12 plain reps per region, all trained on MOD-AB on
    1 Feb 2026 (both windows closed by D), rated on a spread of days so KM has events."""
    o = Org()
    o.row("DIR", "director", "", "North", date(2020, 1, 1))
    o.row("M1", "manager", "DIR", "North", date(2020, 1, 1))
    o.row("M2", "manager", "DIR", "South", date(2020, 1, 1))
    t0 = date(2026, 2, 1)
    for region, m in (("North", "M1"), ("South", "M2")):
        for i in range(12):
            p = f"{region[0]}{i:02d}"
            o.row(p, "rep", m, region, date(2024, 1, 1))
            o.train(p, "MOD-AB", t0)
            v = 2 + (i % 5)  # 2..6 -> clipped below
            o.visit(p, t0 + days(10 + 7 * i), m, A1=min(v, 5), B1=min(v, 5))
            if i % 3 == 0:
                o.visit(p, t0 + days(89), m, A1=4)
            if i % 4 == 0:
                o.action(p, "cap-a", date(2026, 4, 1), D - days(10 + i), D - days(5))
    return o


def test_base_org_agrees(tmp_path: Path) -> None:
    """Issue 16 point 1: the plain org agrees cell by cell (a sanity check for the harness)."""
    compare(tmp_path, base_org())


def edge_org() -> Org:
    """The base org plus one person per edge of DESIGN.md's precise rules (D = 30 Jun 2026)."""
    o = base_org()
    t0 = date(2026, 2, 1)  # cap-a window closes 2 May, cap_b 2 Apr
    # eligibility: hired D-89 (90 days), D-44 (45 days: in), D-43 (44 days: out)
    o.row("H89", "rep", "M1", "North", D - days(89))
    o.row("H44", "rep", "M1", "North", D - days(44))
    o.row("H43", "rep", "M1", "North", D - days(43))
    o.visit("H44", D - days(1), "M1")  # a visit without ratings: coverage, not observed
    # left on D-45 (employed D-89..D-45 = 45 days): eligible, in the row of its last day
    o.row("L45", "rep", "M2", "South", date(2024, 1, 1), termination=D - days(45))
    # valid_to inclusive on the window close: North through 2 May, South from 3 May
    o.row("VTO", "rep", "M1", "North", date(2024, 1, 1), date(2026, 5, 2))
    o.row("VTO", "rep", "M2", "South", date(2026, 5, 3))
    o.train("VTO", "MOD-A", t0)
    o.visit("VTO", t0 + days(90), "M1", A1=5)  # last window day is in
    # a rehire gap covering the cap-a close (2 May) but not the cap_b close (2 Apr)
    o.row("GAP", "rep", "M1", "North", date(2024, 1, 1), termination=date(2026, 4, 30))
    o.row("GAP", "rep", "M1", "North", date(2026, 5, 10), hire=date(2026, 5, 10))
    o.train("GAP", "MOD-AB", t0)
    o.visit("GAP", t0 + days(20), "M1", A1=5, B1=5)
    # overlapping rows: South row 1 Apr - 31 May over an open North row
    o.row("OVL", "rep", "M1", "North", date(2024, 1, 1))
    o.row("OVL", "rep", "M2", "South", date(2026, 4, 1), date(2026, 5, 31))
    o.train("OVL", "MOD-A", t0)
    o.visit("OVL", t0 + days(5), "M2", A1=4)
    # a manager trained and rated: never counted
    o.train("M1", "MOD-AB", t0)
    o.visit("M1", t0 + days(15), "DIR", A1=5, B1=5)
    # promoted before the cap-a close: counts nowhere for cap-a, a rep at the cap_b close
    o.row("PRO", "rep", "M1", "North", date(2024, 1, 1), date(2026, 4, 30))
    o.row("PRO", "manager", "DIR", "North", date(2026, 5, 1))
    o.train("PRO", "MOD-AB", t0)
    o.visit("PRO", t0 + days(3), "M1", A1=5, B1=5)
    # sustained at exactly 30 and 180 days, not at 29 / 181
    for p, gap in (("S30", 30), ("S29", 29)):
        o.row(p, "rep", "M1", "North", date(2024, 1, 1))
        o.train(p, "MOD-A", t0)
        o.visit(p, t0 + days(5), "M1", A1=4)
        o.visit(p, t0 + days(5 + gap), "M1", A1=4)
    for p, gap in (("S180", 180), ("S181", 181)):
        o.row(p, "rep", "M1", "North", date(2024, 1, 1))
        o.train(p, "MOD-A", date(2025, 10, 1))
        o.visit(p, date(2025, 10, 2), "M1", A1=4)
        o.visit(p, date(2025, 10, 2) + days(gap), "M1", A1=5)
    # regression, and regression then re-adoption; two ratings of c on one visit are two
    o.row("REG", "rep", "M2", "South", date(2024, 1, 1))
    o.train("REG", "MOD-A", t0)
    o.visit("REG", t0 + days(5), "M2", A1=5)
    o.visit("REG", t0 + days(40), "M2", A1=2, A2=1)
    o.row("RE2", "rep", "M2", "South", date(2024, 1, 1))
    o.train("RE2", "MOD-A", t0)
    o.visit("RE2", t0 + days(5), "M2", A1=5)
    o.visit("RE2", t0 + days(40), "M2", A1=2)
    o.visit("RE2", t0 + days(41), "M2", A1=3)
    o.visit("RE2", t0 + days(60), "M2", A1=4)
    # window edges: trained D-90 (in cohort, window closes on D), D-89 (not yet)
    o.row("W90", "rep", "M2", "South", date(2024, 1, 1))
    o.train("W90", "MOD-A", D - days(90))
    o.train("W90", "MOD-A", D - days(200), status="failed")
    o.visit("W90", D - days(90), "M2", A1=5)  # the training day is out
    o.visit("W90", D, "M2", A1=3)
    o.row("W89", "rep", "M2", "South", date(2024, 1, 1))
    o.train("W89", "MOD-A", D - days(89))
    o.visit("W89", D - days(2), "M2", A1=5)
    # KM: censored on an event day (N03's event is day 31 = 10 + 7*3; censor W89 at 89)
    o.row("KMC", "rep", "M1", "North", date(2024, 1, 1))
    o.train("KMC", "MOD-A", D - days(31))
    # not counted: a draft, a visit after D, a completion after D
    o.visit("N01", t0 + days(12), "M1", status="Draft", A1=5)
    o.visit("N02", D + days(3), "M1", A1=5)
    o.row("LATE", "rep", "M1", "North", date(2024, 1, 1))
    o.train("LATE", "MOD-A", D + days(2))
    # actions: due D-90 (out), D (in); completed due+7 (on time), due+8 (late); agreed after D;
    # completed after D; cancelled; owner left before due; owner moved region before due
    o.action("N05", "cap_b", date(2026, 3, 1), D - days(90), D - days(90))
    o.action("N05", "cap_b", date(2026, 3, 1), D, D)
    o.action("N06", "cap_b", date(2026, 3, 1), D - days(20), D - days(13))
    o.action("N07", "cap_b", date(2026, 3, 1), D - days(20), D - days(12))
    o.action("N08", "cap_b", D + days(1), D - days(3))
    o.action("N09", "cap_b", date(2026, 3, 1), D - days(3), D + days(2))
    o.action("N10", "cap_b", date(2026, 3, 1), D - days(3), status="Cancelled")
    o.action("L45", "cap_b", date(2026, 3, 1), D - days(3))
    o.action("OVL", "cap_b", date(2026, 3, 1), date(2026, 5, 15), date(2026, 5, 16))
    o.action("OVL", "cap_b", date(2026, 3, 1), date(2026, 6, 15), date(2026, 6, 16))
    # a group with only an eligible rep, a group with only an action
    o.row("E1", "rep", "M2", "East", date(2024, 1, 1), team="East solo")
    o.row("I1", "rep", "M2", "Isle", D - days(10), team="Isle solo")
    o.action("I1", "cap-a", D - days(9), D - days(2))
    return o


def test_edge_org_agrees(tmp_path: Path) -> None:
    """Issue 16 point 1: every edge of the precise rules at once, cell by cell."""
    compare(tmp_path, edge_org())


def random_org(seed: int, reps: int = 150) -> Org:
    """A seeded random org in the explicit HR form: moves (region, team, manager), overlapping
    rows, leavers, rehires after a gap, promotions, trained and rated managers, drafts, visits
    and completions after D, two items on one capability, actions of every kind."""
    rnd = random.Random(seed)  # noqa: S311 (test data, not security)
    o = Org()
    regions = ["North", "South", "West"]
    managers = {f"M{i}": regions[i % 3] for i in range(6)}
    o.row("DIR", "director", "", "North", date(2020, 1, 1))
    for m, region in managers.items():
        o.row(m, "manager", "DIR", region, date(2020, 1, 1))
    start = date(2025, 6, 1)

    def day(lo: date, hi: date) -> date:
        return lo + days(rnd.randint(0, (hi - lo).days))

    for i in range(reps):
        p = f"R{i:03d}"
        m = rnd.choice(list(managers))
        hire = day(date(2024, 1, 1), date(2026, 6, 20)) if rnd.random() < 0.3 else date(2024, 1, 1)
        team = f"{managers[m]} {rnd.choice('ab')}"
        kind = rnd.random()
        if kind < 0.15:  # a move (region/team/manager) on a random day, valid_to on the old row
            move = day(max(hire, start), date(2026, 6, 29))
            m2 = rnd.choice(list(managers))
            o.row(p, "rep", m, managers[m], hire, move - days(1), team=team, hire=hire)
            o.row(p, "rep", m2, managers[m2], move, team=f"{managers[m2]} c", hire=hire)
        elif kind < 0.25:  # a leaver
            o.row(p, "rep", m, managers[m], hire, termination=day(max(hire, start), D), team=team)
        elif kind < 0.35:  # a leaver rehired after a gap
            left = day(max(hire, start), date(2026, 5, 1))
            back = left + days(rnd.randint(2, 60))
            o.row(p, "rep", m, managers[m], hire, termination=left, team=team)
            o.row(p, "rep", m, managers[m], back, team=team, hire=back)
        elif kind < 0.42:  # an overlapping temporary row
            o.row(p, "rep", m, managers[m], hire, team=team, hire=hire)
            s = day(max(hire, start), date(2026, 6, 1))
            m2 = rnd.choice(list(managers))
            o.row(
                p, "rep", m2, managers[m2], s, s + days(rnd.randint(0, 60)), team="temp", hire=hire
            )
        elif kind < 0.47:  # promoted to manager
            when = day(max(hire, start), D)
            o.row(p, "rep", m, managers[m], hire, when - days(1), team=team, hire=hire)
            o.row(p, "manager", "DIR", managers[m], when, hire=hire)
        else:
            o.row(p, "rep", m, managers[m], hire, team=team)
        for module in rnd.sample(["MOD-A", "MOD-AB", "MOD-B", "MOD-X"], rnd.randint(0, 3)):
            o.train(
                p,
                module,
                day(max(hire, date(2025, 9, 1)), date(2026, 7, 15)),
                rnd.choice(["passed", "completed", "completed", "failed"]),
            )
        for _ in range(rnd.randint(0, 7)):
            ratings = {k: rnd.randint(1, 5) for k in ("A1", "A2", "B1") if rnd.random() < 0.45}
            if "A1" in ratings and "A2" in ratings:
                ratings["A2"] = ratings["A1"]  # two items on one visit: same side of threshold
            o.visit(
                p,
                day(date(2025, 9, 1), date(2026, 7, 10)),
                m,
                rnd.choice(["Submitted", "Approved", "Approved", "Draft"]),
                **ratings,
            )
        for _ in range(rnd.randint(0, 2)):
            agreed = day(date(2026, 1, 1), date(2026, 7, 5))
            due = agreed + days(rnd.randint(0, 60)) if rnd.random() < 0.9 else None
            done = (due or agreed) + days(rnd.randint(-5, 15)) if rnd.random() < 0.6 else None
            o.action(
                p,
                rnd.choice(["cap-a", "cap_b"]),
                agreed,
                due,
                done,
                rnd.choice(["Open", "Completed", "Completed", "Cancelled"]),
            )
    for m in list(managers)[:2]:
        o.train(m, "MOD-AB", date(2026, 1, 10))
        o.visit(m, date(2026, 2, 20), "DIR", A1=5, B1=5)
    return o


@pytest.mark.parametrize("seed", [1, 2])
def test_random_org_agrees(tmp_path: Path, seed: int) -> None:
    """Issue 16 point 3: a seeded random org agrees cell by cell with the independent reading."""
    compare(tmp_path, random_org(seed), as_of=(D, date(2026, 4, 15)))


def labels_org() -> Org:
    """Group labels and day edges: reps without a team (grouped with their first-line manager's
    reps, labelled `team <territory>`), a rep without a manager (by manager: "(all)" only),
    coverage visits on D-90 (out) and D-89 (in), two visits on one day (visit id order)."""
    o = base_org()
    t0 = date(2026, 2, 1)
    for i in range(6):
        o.row(f"NT{i}", "rep", "M1", "North", date(2024, 1, 1), team="")
        o.train(f"NT{i}", "MOD-A", t0)
        o.visit(f"NT{i}", t0 + days(20 + i), "M1", A1=3 + i % 3)
    o.row("NOM", "rep", "", "South", date(2024, 1, 1))
    o.train("NOM", "MOD-AB", t0)
    o.visit("NOM", t0 + days(9), "M2", A1=5)
    o.action("NOM", "cap-a", date(2026, 5, 1), D - days(4), D - days(1))
    o.visit("N00", D - days(90), "M1")  # out of the coverage window
    o.visit("N01", D - days(89), "M1")  # in
    # adopted, then on one day a proficient (later id) and a below rating (earlier id), twice
    o.row("SAM", "rep", "M2", "South", date(2024, 1, 1))
    o.train("SAM", "MOD-A", t0)
    o.visit("SAM", t0 + days(3), "M2", A1=5)
    o.visit("SAM", t0 + days(40), "M2", A1=2)
    o.visit("SAM", t0 + days(50), "M2", A1=2)
    o.visit("SAM", t0 + days(50), "M2", A1=5)
    return o


def test_labels_org_agrees(tmp_path: Path) -> None:
    """Issue 16 point 1: group labels (team without a team column value, manager-less reps) and
    the coverage window's first day, cell by cell."""
    compare(tmp_path, labels_org())
