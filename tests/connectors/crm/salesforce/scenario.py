"""A small Veeva CRM org and the HR file it is matched against: ids, helpers to add calls,
ride-alongs and coaching reports the way Veeva CRM writes them (field values from the
reference shapes in shared/reference/api-shapes/veeva_*.json)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tests.connectors.crm.salesforce.fake_org import FakeOrg, stamp

QUESTION_OPENING = "a2Q5g00000QOPEN001"  # mapped by question id
QUESTION_CLOSING_TEXT = "Closing: rating"  # mapped by question text
QUESTION_NEXT_STEP = "Agreed development action"

PEOPLE_HEADER = (
    "hr_id,first_name,last_name,email,employee_number,role,manager_hr_id,region,country,"
    "territory,business_unit,status,hire_date,termination_date,valid_from"
)
PEOPLE = [
    "E10002,Grace,Ulrich,grace.ulrich@example-pharma.com,100002,first_line_manager,,South,ES,S,"
    "Commercial,active,2023-12-08,,2023-12-08",
    "E10010,Ana,Lopez,ana.lopez@example-pharma.com,100010,rep,E10002,South,ES,S-1,Commercial,"
    "active,2024-02-01,,2024-02-01",
    "E10011,Ben,Okafor,ben.okafor@example-pharma.com,100011,rep,E10002,South,ES,S-2,Commercial,"
    "active,2024-03-01,,2024-03-01",
    "E10012,Chloe,Martin,chloe.martin@example-pharma.com,100012,rep,E10002,South,ES,S-3,"
    "Commercial,active,2024-04-01,,2024-04-01",
]


def write_people(folder: Path) -> Path:
    path = folder / "people.csv"
    path.write_text("\n".join([PEOPLE_HEADER, *PEOPLE]) + "\n", encoding="utf-8")
    return path


@dataclass
class Veeva:
    org: FakeOrg
    manager: str
    reps: list[str]
    stranger: str  # a CRM user no HR record matches
    coaching_type: str
    survey_type: str

    # --- calls ---------------------------------------------------------------------------

    def call(self, rep: str, day: date, *, status: str = "Submitted_vod", **extra: Any) -> str:
        return self.org.insert(
            "Call2_vod__c",
            OwnerId=rep,
            Account_vod__c="0015g00000HCP00AAA",
            Status_vod__c=status,
            Call_Date_vod__c=day.isoformat(),
            Call_Datetime_vod__c=f"{day.isoformat()}T09:30:00.000+0000",
            Call_Channel_vod__c="Face_to_Face_vod",
            Call_Type_vod__c="Detail Only",
            Is_Parent_Call_vod__c=True,
            Territory_vod__c="T-ONC-101",
            Detailed_Products_vod__c="Cholecap",
            Mobile_ID_vod__c=f"ipad-{day.isoformat()}",
            **extra,
        )

    def ride_along(self, parent: str, manager: str | None = None) -> str:
        """The manager as a User attendee: a child call of the rep's call."""
        record = self.org.tables["Call2_vod__c"][parent]
        return self.org.insert(
            "Call2_vod__c",
            OwnerId=record["OwnerId"],
            Parent_Call_vod__c=parent,
            Is_Parent_Call_vod__c=False,
            Attendee_Type_vod__c="User_vod",
            User_vod__c=manager or self.manager,
            Status_vod__c=record["Status_vod__c"],
            Call_Date_vod__c=record["Call_Date_vod__c"],
        )

    def hcp_attendee(self, parent: str) -> str:
        record = self.org.tables["Call2_vod__c"][parent]
        return self.org.insert(
            "Call2_vod__c",
            OwnerId=record["OwnerId"],
            Parent_Call_vod__c=parent,
            Is_Parent_Call_vod__c=False,
            Attendee_Type_vod__c="Person_Account_vod",
            Account_vod__c="0015g00000HCP01AAA",
            Status_vod__c=record["Status_vod__c"],
            Call_Date_vod__c=record["Call_Date_vod__c"],
        )

    # --- standard coaching reports ---------------------------------------------------------

    def report(self, rep: str, day: date, *, status: str = "Approved", **ratings: Any) -> str:
        return self.org.insert(
            "Coaching_Report_vod__c",
            OwnerId=rep,
            RecordTypeId="0125g00000RIDE0AAA",
            Manager_vod__c=self.manager,
            Employee_vod__c=rep,
            Review_Date__c=day.isoformat(),
            Review_Period__c="Q1",
            Status__c=status,
            Overall_Rating__c="Meets Expectations",
            Comments__c="Good opening; objection handling needs practice with the new data.",
            Agreed_Next_Steps__c="Role-play two objections before the next visit.",
            **ratings,
        )

    # --- advanced coaching reports ---------------------------------------------------------

    def advanced(
        self,
        rep: str,
        *,
        submitted: str,
        opening: float | None,
        closing: str | None,
        status: str = "Completed_vod",
    ) -> str:
        target = self.org.insert(
            "Survey_Target_vod__c",
            RecordTypeId=self.coaching_type,
            Survey_vod__c="a2S5g00000TMPL0AAA",
            OwnerId=self.manager,
            Coach_vod__c=self.manager,
            Employee_vod__c=rep,
            Report_Status_vod__c=status,
            Submitted_DateTime_vod__c=submitted,
        )
        self.answer(target, 1, QUESTION_OPENING, "Opening: rating", number=opening)
        self.answer(target, 2, "a2Q5g00000QCLOSE01", QUESTION_CLOSING_TEXT, choice=closing)
        self.answer(
            target,
            3,
            "a2Q5g00000QNEXT001",
            QUESTION_NEXT_STEP,
            text="Practise objection handling with 3 HCPs",
        )
        return target

    def answer(
        self,
        target: str,
        order: int,
        question: str,
        text_of_question: str,
        *,
        number: float | None = None,
        choice: str | None = None,
        text: str | None = None,
    ) -> str:
        return self.org.insert(
            "Question_Response_vod__c",
            Survey_Target_vod__c=target,
            Survey_Question_vod__c=question,
            Order_vod__c=order,
            Question_Text_vod__c=text_of_question,
            Number_vod__c=number,
            Answer_Choice_vod__c=choice
            if choice is not None
            else (None if number is None else str(int(number))),
            Text_vod__c=text,
        )

    def responses_of(self, target: str) -> list[str]:
        return [
            rid
            for rid, r in self.org.tables["Question_Response_vod__c"].items()
            if r["Survey_Target_vod__c"] == target
        ]


def seed(org: FakeOrg) -> Veeva:
    """Users and record types; every test adds the calls and reports it needs."""
    manager = org.insert(
        "User",
        Username="grace.ulrich@acme.example",
        Email="grace.ulrich@example-pharma.com",
        FederationIdentifier="E10002",
        EmployeeNumber="100002",
        IsActive=True,
        UserType="Standard",
    )
    reps = [
        org.insert(
            "User",
            Username="ana.lopez@acme.example",
            Email="ana.lopez@example-pharma.com",
            FederationIdentifier="E10010",
            IsActive=True,
            UserType="Standard",
        ),
        org.insert(  # no federation id: matched by employee number
            "User",
            Username="ben.okafor@acme.example",
            Email="b.okafor@contractor.example",
            EmployeeNumber="100011",
            IsActive=True,
            UserType="Standard",
        ),
        org.insert(  # matched by e-mail only
            "User",
            Username="chloe.martin@acme.example",
            Email="Chloe.Martin@example-pharma.com",
            IsActive=True,
            UserType="Standard",
        ),
    ]
    stranger = org.insert(
        "User",
        Username="temp.rep@acme.example",
        Email="temp.rep@agency.example",
        FederationIdentifier="X99999",
        IsActive=True,
        UserType="Standard",
    )
    coaching = org.insert(
        "RecordType", DeveloperName="Coaching_Report_vod", SobjectType="Survey_Target_vod__c"
    )
    survey = org.insert(
        "RecordType", DeveloperName="Survey_vod", SobjectType="Survey_Target_vod__c"
    )
    return Veeva(org, manager, reps, stranger, coaching, survey)


def ts(day: date, hour: int = 12) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00.000+0000"


__all__ = ["Veeva", "seed", "stamp", "ts", "write_people"]
