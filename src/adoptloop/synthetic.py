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

Regenerate the bundled demo with ``python -m adoptloop.synthetic --out config/demo``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Self, TypeAlias

from adoptloop._synthetic_rows import (
    CAPABILITIES,
    MODULES,
    build_org,
    coaching_for,
    completions_for,
    rng_for,
    sf_id,
)

if TYPE_CHECKING:
    from types import TracebackType

    from adoptloop._synthetic_rows import Org, Person, Report

__all__ = ["CAPABILITIES", "MODULES", "GeneratedCounts", "OrgSpec", "generate_org", "main"]

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


@dataclass(frozen=True)
class OrgSpec:
    """The shape of the synthetic org. ``reps`` counts all field staff (rep, kam, msl)."""

    reps: int = 80
    regions: tuple[str, ...] = ("North", "South", "West")
    reps_per_manager: int = 8
    start: date = date(2026, 1, 1)  # coaching period
    end: date = date(2026, 6, 30)
    training_end: date = date(2026, 3, 31)  # completions fall in [start, training_end]
    seed: int = 20260101
    bad_rows: bool = True

    def __post_init__(self) -> None:
        if self.reps < 1 or self.reps_per_manager < 1 or not self.regions:
            raise ValueError("OrgSpec needs reps >= 1, reps_per_manager >= 1 and a region")
        if not self.start <= self.training_end <= self.end:
            raise ValueError("OrgSpec needs start <= training_end <= end")


@dataclass(frozen=True)
class GeneratedCounts:
    """Data rows written per file (header excluded, deliberately bad rows included)."""

    people: int
    completions: int
    coaching_reports: int
    development_actions: int
    calls: int
    bad_rows: int


# A fix turns one good row into (the row to write instead, extra rows to write after it).
Fix: TypeAlias = Callable[[list[str]], tuple[list[str], list[list[str]]]]
_AT_END = 1 << 62  # a fix position past any file: applied to the last row


class _Sink:
    """Streams rows to a CSV file; applies ``fixes`` (keyed by 0-based good-row index).

    Holds back one row, so fixes whose position is past the end apply to the last row.
    """

    def __init__(self, path: Path, header: str, fixes: dict[int, Fix] | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(header.split(","))
        self._fixes = dict(fixes or {})
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
        self._pending = row
        self._index += 1

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


def generate_org(out_dir: Path, spec: OrgSpec = OrgSpec()) -> GeneratedCounts:
    """Write the six CSV files under ``out_dir`` and return how many rows each got."""
    org = build_org(spec)
    fixes = _bad_fixes(org, spec)
    out = Path(out_dir)
    with _Sink(out / "hris" / "people.csv", PEOPLE_HEADER, fixes.get("people")) as people:
        for person in org.people:
            for row in _people_rows(person):
                people.write(row)
    with _Sink(out / "crm" / "users.csv", USERS_HEADER, None) as users:
        for person in org.people:
            active = "false" if person.left_on else "true"
            users.write(
                [person.user_id, person.hr_id, person.email, person.employee_number, active]
            )
    n = 0
    with _Sink(
        out / "lms" / "completions.csv", COMPLETIONS_HEADER, fixes.get("completions")
    ) as lms:
        for person in org.field:
            for c in completions_for(person, spec):
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
    n_report = n_action = n_call = 0
    with (
        _Sink(
            out / "crm" / "coaching_reports.csv", REPORTS_HEADER, fixes.get("reports")
        ) as reports,
        _Sink(out / "crm" / "development_actions.csv", ACTIONS_HEADER, None) as actions,
        _Sink(out / "crm" / "calls.csv", CALLS_HEADER, None) as calls,
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
                if a := r.action:
                    n_action += 1
                    actions.write([
                        sf_id("a1D", 300_000_000 + n_action * 6_151), report_id, person.user_id,
                        a.capability, r.day.isoformat(), a.due.isoformat(),
                        a.completed.isoformat() if a.completed else "", a.status,
                    ])  # fmt: skip
            for call in _calls(person, plan, spec):
                n_call += 1
                calls.write([sf_id("a0B", 400_000_000 + n_call * 3_571), *call])
    return GeneratedCounts(
        people=people.rows,
        completions=lms.rows,
        coaching_reports=reports.rows,
        development_actions=actions.rows,
        calls=calls.rows,
        bad_rows=sum(s.bad for s in (people, lms, reports, actions, calls)),
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m adoptloop.synthetic --out DIR [--reps N] [--seed S] [--no-bad-rows]``."""
    defaults = OrgSpec()
    parser = argparse.ArgumentParser(
        prog="python -m adoptloop.synthetic",
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


if __name__ == "__main__":
    raise SystemExit(main())
