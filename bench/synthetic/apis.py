"""The synthetic org as the data behind the fake APIs of the tests (``generate_org(apis=True)``).

Written next to the CSV drops, from the same people, reports and calls (same ids, same values):

- ``salesforce/<SObject>.jsonl``: records of the fake Salesforce org
  (``tests/connectors/crm/salesforce/fake_org.py``), one JSON object per line with the field names
  of the Veeva CRM objects: ``User``, ``Coaching_Report_vod__c`` (ratings as number fields)
  and ``Call2_vod__c`` (a visit is a parent call; a ride-along is a child call with
  ``Attendee_Type_vod__c = User_vod`` and the manager in ``User_vod__c``). SystemModstamp is
  set per record, so an incremental read by SystemModstamp has something to order by.
- ``scim/Users.jsonl``: SCIM 2.0 User resources (core + Enterprise extension) for a SCIM
  server. ``employeeNumber`` is the hr_id; the manager reference holds the manager's hr_id,
  which a loader replaces with the SCIM id the server gave the manager (managers come first).
- ``moodle/users.jsonl`` and ``moodle/completions.jsonl``: Moodle users (``idnumber`` = the
  employee number) and course completion per (course, user); each module is a course
  (``MODULE_COURSES``), a module only ever failed is an enrolment that is not complete.

With ``OrgSpec.bad_share`` the same share of Salesforce reports and calls is corrupted (a rating
out of scale, a missing review or call date, an unknown user), picked independently of the CSVs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from bench.synthetic.rows import (
    MODULES,
    Completion,
    Person,
    Report,
    picked,
    sf_id,
    stamp,
    unknown_user,
)

if TYPE_CHECKING:
    from bench.synthetic.spec import OrgSpec

__all__ = ["MODULE_COURSES", "RATING_FIELDS", "SF_OBJECTS", "ApiWriters"]

# Same order as CAPABILITIES and the *_Rating__c columns of coaching_reports.csv.
RATING_FIELDS = (
    "Opening_Rating__c",
    "Needs_Assessment_Rating__c",
    "Objection_Handling_Rating__c",
    "Clinical_Data_Rating__c",
    "Closing_Rating__c",
    "Compliance_Rating__c",
)
SF_OBJECTS = ("User", "Coaching_Report_vod__c", "Call2_vod__c")
MODULE_COURSES = {module[0]: 1001 + i for i, module in enumerate(MODULES)}
SCIM_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_SF_TIME = "%Y-%m-%dT%H:%M:%S.000+0000"
_CHILD_OFFSET = 10**15  # ride-along child calls: ids far above any parent call's


def _sf(moment: datetime) -> str:
    return moment.strftime(_SF_TIME)


class ApiWriters:
    """Streams the org into the API data files; `close()` returns how many records it wrote."""

    def __init__(self, out: Path, spec: OrgSpec) -> None:
        self.spec = spec
        self.records = 0
        self._files: dict[str, IO[bytes]] = {}
        for name in (
            *(f"salesforce/{o}.jsonl" for o in SF_OBJECTS),
            "scim/Users.jsonl",
            "moodle/users.jsonl",
            "moodle/completions.jsonl",
        ):
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            self._files[name] = path.open("wb")

    def _write(self, name: str, record: dict[str, Any]) -> None:
        self._files[name].write(orjson.dumps(record) + b"\n")
        self.records += 1

    def close(self) -> int:
        for fh in self._files.values():
            fh.close()
        return self.records

    def _bad(self, name: str, index: int) -> int | None:
        """Which corruption (0, 1, 2) record `index` of `name` gets, or None."""
        share = self.spec.bad_share
        if share <= 0 or picked(self.spec.seed, f"sf-{name}", index) >= share:
            return None
        return index % 3

    # --- people ---------------------------------------------------------------------------

    def person(self, person: Person) -> None:
        current = person.segments[-1]
        changed = stamp(max(person.hire_date, self.spec.start - timedelta(days=60)), 6 * 60)
        changed += timedelta(minutes=person.index % 600)
        active = person.left_on is None
        self._write(
            "salesforce/User.jsonl",
            {
                "Id": person.user_id,
                "Username": person.email,
                "Email": person.email,
                "FederationIdentifier": person.hr_id,
                "EmployeeNumber": person.employee_number,
                "IsActive": active,
                "UserType": "Standard",
                "SystemModstamp": _sf(changed),
                "LastModifiedDate": _sf(changed),
            },
        )
        manager = current.manager.hr_id if current.manager else None
        enterprise: dict[str, Any] = {
            "employeeNumber": person.hr_id,
            "department": current.region,
            "division": person.business_unit,
        }
        if manager:
            enterprise["manager"] = {"value": manager}  # an hr_id: the loader maps it to an id
        self._write(
            "scim/Users.jsonl",
            {
                "schemas": [SCIM_CORE, SCIM_ENTERPRISE],
                "externalId": person.hr_id,
                "userName": person.email,
                "name": {"givenName": person.first_name, "familyName": person.last_name},
                "active": active,
                "title": person.role,
                "emails": [{"value": person.email, "primary": True}],
                "addresses": [{"country": current.country, "primary": True}],
                SCIM_ENTERPRISE: enterprise,
            },
        )

    def completions(self, person: Person, done: list[Completion]) -> None:
        self._write(
            "moodle/users.jsonl",
            {
                "id": 4001 + 3 * person.index,
                "username": person.email.split("@")[0],
                "email": person.email,
                "idnumber": person.employee_number,
                "firstname": person.first_name,
                "lastname": person.last_name,
            },
        )
        first: dict[int, datetime | None] = {}
        for c in done:
            when = None if c.status == "failed" else c.at
            if first.get(c.module) is None:
                first[c.module] = when
        for module, when in sorted(first.items()):
            self._write(
                "moodle/completions.jsonl",
                {
                    "courseid": MODULE_COURSES[MODULES[module][0]],
                    "userid": 4001 + 3 * person.index,
                    "completed": when is not None,
                    "timecompleted": int(when.timestamp()) if when else None,
                },
            )

    # --- CRM ------------------------------------------------------------------------------

    def report(self, report_id: str, person: Person, r: Report, number: int) -> None:
        record: dict[str, Any] = {
            "Id": report_id,
            "IsDeleted": False,
            "OwnerId": r.manager.user_id,
            "Manager_vod__c": r.manager.user_id,
            "Employee_vod__c": person.user_id,
            "Review_Date__c": r.day.isoformat(),
            "Review_Period__c": f"Q{(r.day.month - 1) // 3 + 1}",
            "Status__c": r.status,
            "Submitted_DateTime__c": _sf(r.submitted) if r.submitted else None,
            **dict(zip(RATING_FIELDS, r.ratings, strict=True)),
            "Comments__c": r.comment,
            "Agreed_Next_Steps__c": r.next_steps or None,
            "CreatedDate": _sf(stamp(r.day, 17 * 60)),
            "SystemModstamp": _sf(r.modstamp),
            "LastModifiedDate": _sf(r.modstamp),
        }
        bad = self._bad("reports", number)
        if bad == 0:
            rated = next(f for f, v in zip(RATING_FIELDS, r.ratings, strict=True) if v)
            record[rated] = 7  # outside the 1-5 scale
        elif bad == 1:
            record["Review_Date__c"] = None
        elif bad == 2:
            record["Employee_vod__c"] = unknown_user(self.spec, number)
        self._write("salesforce/Coaching_Report_vod__c.jsonl", record)

    def call(self, call_id: str, person: Person, row: list[str], number: int) -> None:
        """`row` is a calls.csv row without its Id: owner, date, channel, type, status, manager."""
        _owner, day, channel, kind, status, manager = row
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        modstamp = _sf(when + timedelta(hours=18, minutes=number % 240))
        base = {
            "IsDeleted": False,
            "OwnerId": person.user_id,
            "Status_vod__c": status,
            "Call_Date_vod__c": day,
            "CreatedDate": modstamp,
            "SystemModstamp": modstamp,
            "LastModifiedDate": modstamp,
        }
        parent: dict[str, Any] = {
            "Id": call_id,
            **base,
            "Call_Channel_vod__c": channel,
            "Call_Type_vod__c": kind,
            "Is_Parent_Call_vod__c": True,
            "Parent_Call_vod__c": None,
            "Territory_vod__c": person.segments[-1].territory,
        }
        if self._bad("calls", number) is not None:
            parent["Call_Date_vod__c"] = None
        self._write("salesforce/Call2_vod__c.jsonl", parent)
        if manager:
            child_id = sf_id("a0B", _CHILD_OFFSET + number * 3_571)
            self._write(
                "salesforce/Call2_vod__c.jsonl",
                {
                    "Id": child_id,
                    **base,
                    "Is_Parent_Call_vod__c": False,
                    "Parent_Call_vod__c": call_id,
                    "Attendee_Type_vod__c": "User_vod",
                    "User_vod__c": manager,
                },
            )
