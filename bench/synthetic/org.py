"""Deterministic synthetic org: the nightly CSV drops our file connectors read.

``generate_org(out_dir, spec)`` writes::

    hris/people.csv              people and reporting lines, effective-dated
    lms/completions.csv          training completions (identity = email)
    crm/users.csv                Salesforce users (FederationIdentifier = hr_id)
    crm/coaching_reports.csv     Veeva coaching reports with per-capability ratings
    crm/development_actions.csv  actions agreed in coaching reports
    crm/calls.csv                Veeva calls, with the manager on ride-along days

The same spec always gives byte-identical files: rows come in a fixed order (people in hr_id
order, then by date), lines end in "\\n" and no clock is read. Rows are streamed to
``csv.writer``; only the org chart itself (one small object per person) is held in memory.

With ``bad_rows`` six deliberately broken rows are written at fixed positions (three inserted,
three corrupted in place; see ``config/demo/README.md``); every other row is the same either way.
``bad_share`` corrupts that share of the LMS and CRM rows in place on top (unknown users, bad
dates, ratings out of scale, unknown capabilities), picked by a hash of the row's position.

``generate_org(..., apis=True)`` also writes the same org as the data behind the fake APIs of
the tests (:mod:`bench.synthetic.apis`): ``salesforce/<SObject>.jsonl`` for the fake
Salesforce org, ``scim/Users.jsonl`` for the SCIM server, ``moodle/*.jsonl`` for the fake Moodle.

Regenerate the bundled demo with ``python -m bench.synthetic --out config/demo``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Self, TypeAlias

from bench.synthetic.apis import ApiWriters
from bench.synthetic.rows import (
    CAPABILITIES,
    MODULES,
    build_org,
    coaching_for,
    completions_for,
    picked,
    rng_for,
    sf_id,
    unknown_user,
)
from bench.synthetic.spec import GeneratedCounts, OrgSpec

if TYPE_CHECKING:
    from types import TracebackType

    from bench.synthetic.rows import Org, Person, Report


PEOPLE_HEADER = (
    "hr_id,first_name,last_name,email,employee_number,role,manager_hr_id,region,country,"
    "territory,business_unit,status,hire_date,termination_date,valid_from"
)
COMPLETIONS_HEADER = "record_id,user_id,user_email,module_id,module_title,status,completed_at,score"
USERS_HEADER = "Id,FederationIdentifier,Email,EmployeeNumber,IsActive"
REPORTS_HEADER = (
    "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c,Submitted_DateTime__c,"
    "SystemModstamp,Opening_Rating__c,Needs_Assessment_Rating__c,Objection_Handling_Rating__c,"
    "Clinical_Data_Rating__c,Closing_Rating__c,Compliance_Rating__c,Comments__c,"
    "Agreed_Next_Steps__c"
)
ACTIONS_HEADER = (
    "Id,Coaching_Report__c,Employee_vod__c,Capability__c,Agreed_Date__c,Due_Date__c,"
    "Completed_Date__c,Status__c"
)
CALLS_HEADER = (
    "Id,OwnerId,Call_Date_vod__c,Call_Channel_vod__c,Call_Type_vod__c,Status_vod__c,"
    "Ride_Along_User_vod__c"
)
_FIRST_RATING = REPORTS_HEADER.split(",").index("Opening_Rating__c")
_SF_TIME = "%Y-%m-%dT%H:%M:%S.000+0000"


# A fix turns one good row into (the row to write instead, extra rows to write after it).
Fix: TypeAlias = Callable[[list[str]], tuple[list[str], list[list[str]]]]
_AT_END = 1 << 62  # a fix position past any file: applied to the last row


@dataclass(frozen=True)
class _Scatter:
    """Corrupt the good rows that `picked(seed, name, index) < share`, cycling through `fixes`."""

    seed: int
    name: str
    share: float
    fixes: tuple[Fix, ...]

    def fix_for(self, index: int) -> Fix | None:
        if self.share <= 0 or not self.fixes or picked(self.seed, self.name, index) >= self.share:
            return None
        return self.fixes[index % len(self.fixes)]


class _Sink:
    """Streams rows to a CSV file; applies ``fixes`` (keyed by 0-based good-row index).

    Holds back one row, so fixes whose position is past the end apply to the last row.
    """

    def __init__(
        self,
        path: Path,
        header: str,
        fixes: dict[int, Fix] | None,
        scatter: _Scatter | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(header.split(","))
        self._fixes = dict(fixes or {})
        self._scatter = scatter
        self._pending: list[str] | None = None
        self._index = -1
        self.rows = 0
        self.bad = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._pending is not None and kind is None:
                rest = [self._fixes[i] for i in sorted(self._fixes) if i >= self._index]
                self._emit(self._pending, rest)
        finally:
            self._file.close()

    def write(self, row: list[str]) -> None:
        if self._pending is not None:
            fix = self._fixes.pop(self._index, None)
            self._emit(self._pending, [fix] if fix else [])
        self._index += 1
        scattered = self._scatter.fix_for(self._index) if self._scatter else None
        if scattered is not None:
            row, extra = scattered(row)
            self.bad += 1
            assert not extra
        self._pending = row

    def _emit(self, row: list[str], fixes: list[Fix]) -> None:
        extra: list[list[str]] = []
        for fix in fixes:
            row, more = fix(row)
            extra += more
            self.bad += 1
        for out in (row, *extra):
            self._writer.writerow(out)
            self.rows += 1


def _replace(column: int, value: str) -> Fix:
    def fix(row: list[str]) -> tuple[list[str], list[list[str]]]:
        row = list(row)
        row[column] = value
        return row, []

    return fix


def _insert(changes: dict[int, str]) -> Fix:
    def fix(row: list[str]) -> tuple[list[str], list[list[str]]]:
        extra = list(row)
        for column, value in changes.items():
            extra[column] = value
        return row, [extra]

    return fix


def _rate_seven(row: list[str]) -> tuple[list[str], list[list[str]]]:
    row = list(row)
    rated = [i for i in range(_FIRST_RATING, _FIRST_RATING + len(CAPABILITIES)) if row[i]]
    row[rated[0]] = "7"
    return row, []


def _bad_fixes(org: Org, spec: OrgSpec) -> dict[str, dict[int, Fix]]:
    """The deliberate failures, by file. Positions are 0-based indexes of good rows."""
    if not spec.bad_rows:
        return {}
    year = spec.start.year
    orphan = org.field[0]
    orphan_row = [
        f"E{10001 + len(org.people)}", "Morgan", "Vale", "morgan.vale@example-pharma.com",
        str(100001 + len(org.people)), "rep", "E09999", orphan.segments[0].region,
        orphan.segments[0].country, "", orphan.business_unit, "active", f"{year - 1}-09-01", "",
        f"{year - 1}-09-01",
    ]  # fmt: skip
    return {
        "people": {_AT_END: lambda row: (row, [orphan_row])},
        "completions": {
            24: _insert({0: "C900001", 1: "u999001", 2: "jo.bloggs@example-pharma.com"}),
            59: _replace(6, f"{year}-13-01T10:00:00Z"),
        },
        "reports": {
            36: _insert({0: sf_id("a1C", 62**7 * 61 + 1), 2: sf_id("005", 4_242_424, pod="1t")}),
            100: _rate_seven,
            204: _replace(3, f"31/02/{year}"),
        },
    }


def _people_rows(person: Person) -> Iterator[list[str]]:
    for seg in person.segments:
        yield [
            person.hr_id, person.first_name, person.last_name, person.email,
            person.employee_number, person.role, seg.manager.hr_id if seg.manager else "",
            seg.region, seg.country, seg.territory, person.business_unit, seg.status,
            person.hire_date.isoformat(),
            seg.termination_date.isoformat() if seg.termination_date else "",
            seg.valid_from.isoformat(),
        ]  # fmt: skip


def _calls(person: Person, reports: list[Report], spec: OrgSpec) -> Iterator[list[str]]:
    """About one call a week (without Id); on a ride-along day the manager's user id is set."""
    rng = rng_for(spec, "calls", person.hr_id)
    visits = {r.day: r.manager for r in reports}
    first, last = max(spec.start, person.hire_date), spec.end
    if person.left_on is not None:
        last = min(last, person.left_on - timedelta(days=1))
    week = spec.start - timedelta(days=spec.start.weekday())
    while week <= spec.end:
        day = week + timedelta(days=rng.randint(0, 4))
        channel = rng.choices(("In-person", "Video", "Phone"), (70, 15, 15))[0]
        kind = rng.choices(("Detail Only", "Detail with Sample", "Group Detail"), (55, 35, 10))[0]
        status = rng.choices(("Submitted_vod", "Saved_vod", "Planned_vod"), (92, 5, 3))[0]
        kind = "Detail Only" if person.role == "msl" else kind
        ride = [d for d in visits if week <= d < week + timedelta(days=7)]
        if ride:
            manager = visits[ride[0]].user_id
            yield [person.user_id, ride[0].isoformat(), "In-person", kind, "Submitted_vod", manager]
        elif first <= day <= last:
            yield [person.user_id, day.isoformat(), channel, kind, status, ""]
        week += timedelta(days=7)


def _scatters(spec: OrgSpec) -> dict[str, _Scatter]:
    """The `bad_share` corruptions, by file: each keeps the row's key, so it is quarantined."""
    if spec.bad_share <= 0:
        return {}
    year = spec.start.year

    def scatter(name: str, *fixes: Fix) -> _Scatter:
        return _Scatter(spec.seed, name, spec.bad_share, fixes)

    def stranger(row: list[str]) -> tuple[list[str], list[list[str]]]:
        """The observed rep becomes a CRM user the HRIS does not know (a small pool of them)."""
        row = list(row)
        row[2] = unknown_user(spec, sum(map(ord, row[0])))
        return row, []

    return {
        "completions": scatter(
            "completions",
            _replace(6, f"{year}-02-30T09:00:00Z"),  # 30 February
            _replace(7, "180"),  # a score outside 0..100
        ),
        "reports": scatter("reports", _rate_seven, _replace(3, f"{year}/02/31"), stranger),
        "actions": scatter("actions", _replace(3, "negotiation")),  # not a capability
        "calls": scatter("calls", _replace(2, f"{year}-00-10")),  # month 0
    }


def generate_org(
    out_dir: Path, spec: OrgSpec = OrgSpec(), *, apis: bool = False
) -> GeneratedCounts:
    """Write the six CSV files under ``out_dir`` and return how many rows each got.

    With ``apis`` the same org is also written as the data behind the fake Salesforce, SCIM
    and Moodle APIs (see :mod:`bench.synthetic.apis`).
    """
    org = build_org(spec)
    fixes = _bad_fixes(org, spec)
    scatters = _scatters(spec)
    out = Path(out_dir)
    api = ApiWriters(out, spec) if apis else None
    with _Sink(out / "hris" / "people.csv", PEOPLE_HEADER, fixes.get("people")) as people:
        for person in org.people:
            for row in _people_rows(person):
                people.write(row)
            if api:
                api.person(person)
    with _Sink(out / "crm" / "users.csv", USERS_HEADER, None) as users:
        for person in org.people:
            active = "false" if person.left_on else "true"
            users.write(
                [person.user_id, person.hr_id, person.email, person.employee_number, active]
            )
    n = 0
    with _Sink(
        out / "lms" / "completions.csv",
        COMPLETIONS_HEADER,
        fixes.get("completions"),
        scatters.get("completions"),
    ) as lms:
        for person in org.field:
            done = completions_for(person, spec)
            for c in done:
                n += 1
                module_id, title, _, _ = MODULES[c.module]
                at = c.at.strftime("%Y-%m-%dT%H:%M:%SZ")
                lms.write(
                    [
                        f"C{n:06d}",
                        person.lms_id,
                        person.email,
                        module_id,
                        title,
                        c.status,
                        at,
                        c.score,
                    ]
                )
            if api:
                api.completions(person, done)
    n_report = n_action = n_call = 0
    with (
        _Sink(
            out / "crm" / "coaching_reports.csv",
            REPORTS_HEADER,
            fixes.get("reports"),
            scatters.get("reports"),
        ) as reports,
        _Sink(
            out / "crm" / "development_actions.csv",
            ACTIONS_HEADER,
            None,
            scatters.get("actions"),
        ) as actions,
        _Sink(out / "crm" / "calls.csv", CALLS_HEADER, None, scatters.get("calls")) as calls,
    ):
        for person in org.field:
            plan = coaching_for(person, spec)
            for r in plan:
                n_report += 1
                report_id = sf_id("a1C", 200_000_000 + n_report * 7_919)
                reports.write([
                    report_id, r.manager.user_id, person.user_id, r.day.isoformat(), r.status,
                    r.submitted.strftime(_SF_TIME) if r.submitted else "",
                    r.modstamp.strftime(_SF_TIME),
                    *("" if x is None else str(x) for x in r.ratings),
                    r.comment, r.next_steps,
                ])  # fmt: skip
                if api:
                    api.report(report_id, person, r, n_report)
                if a := r.action:
                    n_action += 1
                    actions.write([
                        sf_id("a1D", 300_000_000 + n_action * 6_151), report_id, person.user_id,
                        a.capability, r.day.isoformat(), a.due.isoformat(),
                        a.completed.isoformat() if a.completed else "", a.status,
                    ])  # fmt: skip
            for call in _calls(person, plan, spec):
                n_call += 1
                call_id = sf_id("a0B", 400_000_000 + n_call * 3_571)
                calls.write([call_id, *call])
                if api:
                    api.call(call_id, person, call, n_call)
    api_records = api.close() if api else 0
    return GeneratedCounts(
        people=people.rows,
        completions=lms.rows,
        coaching_reports=reports.rows,
        development_actions=actions.rows,
        calls=calls.rows,
        bad_rows=sum(s.bad for s in (people, lms, reports, actions, calls)),
        api_records=api_records,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.synthetic --out DIR [--reps N] [--seed S] [--no-bad-rows]``."""
    defaults = OrgSpec()
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthetic",
        description="Write a deterministic synthetic org (HRIS, LMS and CRM CSV drops).",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--reps", type=int, default=defaults.reps, help="field staff count")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    parser.add_argument("--no-bad-rows", action="store_true", help="omit the deliberate bad rows")
    args = parser.parse_args(argv)
    spec = OrgSpec(reps=args.reps, seed=args.seed, bad_rows=not args.no_bad_rows)
    counts = generate_org(args.out, spec)
    for f in fields(counts):
        sys.stdout.write(f"{f.name}: {getattr(counts, f.name)}\n")
    return 0
