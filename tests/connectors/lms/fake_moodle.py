"""A fake Moodle site: the web service functions the connector calls, on the kit's FakeApi."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson

from adoptloop.domain import Person
from adoptloop.testing.fake_api import FakeApi, form, json_response, text_response

TOKEN = "moodle-test-token"
COURSE = 7  # the mapped course (module course:7 in the capability map)
WRITEBACK_COURSE = 42
ADOPTED_CM, SUSTAINED_CM = 101, 102
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


@dataclass
class Enrolment:
    completed: bool = False
    times: list[int] = field(default_factory=list)
    activities: dict[int, tuple[int, int]] = field(default_factory=dict)  # cmid -> (state, time)


class FakeMoodle:
    def __init__(self) -> None:
        self.api = FakeApi("https://moodle.example.test")
        self.api.route("POST", "/webservice/rest/server.php", self._serve)
        self.users: dict[int, dict[str, Any]] = {}
        self.enrolments: dict[tuple[int, int], Enrolment] = {}
        self.overrides: list[dict[str, str]] = []
        self._ids = itertools.count(11)
        self._clock = itertools.count(T0, 3600)
        self._broken_page: int | None = None
        self._listing_page = 0
        self.errors: dict[tuple[str, int], dict[str, str]] = {}  # (function, userid) -> error

    # --- set-up ----------------------------------------------------------------------------

    def enrol(self, course: int = COURSE, *, completed: bool = True, timed: bool = True) -> int:
        user_id = next(self._ids)
        self.users[user_id] = {
            "id": user_id,
            "username": f"user{user_id}",
            "email": f"user{user_id}@example.com",
            "idnumber": f"E{user_id}",
        }
        enrolment = Enrolment(completed=completed, times=[next(self._clock)] if timed else [])
        self.enrolments[(course, user_id)] = enrolment
        self.enrolments[(WRITEBACK_COURSE, user_id)] = Enrolment(
            activities={ADOPTED_CM: (0, 0), SUSTAINED_CM: (0, 0)}
        )
        return user_id

    def load(self, folder: Path) -> None:
        """Users and course completions as `bench.synthetic` writes them (`moodle/`)."""
        with (folder / "users.jsonl").open("rb") as fh:
            for line in fh:
                user = orjson.loads(line)
                self.users[int(user["id"])] = user
        with (folder / "completions.jsonl").open("rb") as fh:
            for line in fh:
                row = orjson.loads(line)
                when = row["timecompleted"]
                self.enrolments[(int(row["courseid"]), int(row["userid"]))] = Enrolment(
                    completed=bool(row["completed"]), times=[int(when)] if when else []
                )

    def people(self) -> list[Person]:
        return [person(f"E{uid}", f"user{uid}@example.com") for uid in self.users]

    # --- the kit's FakeVendor --------------------------------------------------------------

    def add(self, count: int) -> list[str]:
        return [f"course:{COURSE}:user:{self.enrol()}" for _ in range(count)]

    def add_bad(self) -> str:
        """Completed, but no criterion has a completion time."""
        return f"course:{COURSE}:user:{self.enrol(timed=False)}"

    def break_page(self, number: int) -> None:
        self._broken_page = number
        self._listing_page = 0

    # --- serving ---------------------------------------------------------------------------

    def _serve(self, request: httpx.Request) -> httpx.Response:
        args = form(request)
        if args.get("wstoken") != TOKEN:
            return json_response(
                {
                    "exception": "moodle_exception",
                    "errorcode": "invalidtoken",
                    "message": "Invalid token - token not found",
                }
            )
        function = args["wsfunction"]
        user_id = int(args.get("userid", "0"))
        if (function, user_id) in self.errors:
            return json_response(self.errors[(function, user_id)])
        if function == "core_enrol_get_enrolled_users":
            return self._enrolled(args)
        if function == "core_completion_get_course_completion_status":
            enrolment = self.enrolments[(int(args["courseid"]), user_id)]
            criteria = [
                {"type": 4, "title": "Activity completion", "complete": True, "timecompleted": t}
                for t in enrolment.times
            ]
            body = {"completed": enrolment.completed, "aggregation": 1, "completions": criteria}
            return json_response({"completionstatus": body, "warnings": []})
        if function == "core_completion_get_activities_completion_status":
            enrolment = self.enrolments[(int(args["courseid"]), user_id)]
            statuses = [
                {"cmid": cmid, "modname": "quiz", "state": state, "timecompleted": when}
                for cmid, (state, when) in enrolment.activities.items()
            ]
            return json_response({"statuses": statuses, "warnings": []})
        if function == "core_completion_override_activity_completion_status":
            self.overrides.append(args)
            enrolment = self.enrolments[(WRITEBACK_COURSE, user_id)]
            enrolment.activities[int(args["cmid"])] = (int(args["newstate"]), next(self._clock))
            return json_response(
                {"cmid": int(args["cmid"]), "userid": user_id, "state": 1, "overrideby": 2}
            )
        return json_response({"exception": "x", "errorcode": "unknownfunction", "message": ""})

    def _enrolled(self, args: dict[str, str]) -> httpx.Response:
        self._listing_page += 1
        if self._listing_page == self._broken_page:
            self._broken_page = None
            return text_response("<html><body>Fatal error</body></html>")
        course = int(args["courseid"])
        start = int(args["options[0][value]"])
        size = int(args["options[1][value]"])
        ids = sorted(uid for (c, uid) in self.enrolments if c == course)
        return json_response([self.users[uid] for uid in ids[start : start + size]])


def person(hr_id: str, email: str, *, valid_from: date = date(2023, 1, 1)) -> Person:
    return Person(
        hr_id=hr_id,
        valid_from=valid_from,
        first_name="Ana",
        last_name="Ruiz",
        email=email,
        employee_number=hr_id,
        role="Sales Representative",
        manager_hr_id=None,
        region="East",
        country="US",
        territory=None,
        business_unit=None,
        status="active",
        hire_date=None,
        termination_date=None,
    )
