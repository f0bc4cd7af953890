"""A fake SAP SuccessFactors Learning tenant: OAuth token, learning history, external events."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import httpx
import orjson

from adoptloop.domain import Person
from adoptloop.testing.fake_api import FakeApi, json_response, text_response
from tests.connectors.lms.fake_moodle import person

CLIENT_ID, CLIENT_SECRET = "adoptloop-client", "sf-test-secret"
TOKEN_PATH = "/learning/oauth-api/rest/v1/token"
HISTORY_PATH = "/learning/odatav4/public/user/userlearning-service/v1/learninghistorys"
EVENTS_PATH = "/learning/odatav4/public/admin/learningevent-service/v1/ExternalLearningEvents"
STUDENT = "S1"
T0_MS = 1_704_067_200_000


class FakeSuccessFactors:
    def __init__(self) -> None:
        self.api = FakeApi("https://acme.plateau.example.test")
        self.api.route("POST", TOKEN_PATH, self._token)
        self.api.route("GET", HISTORY_PATH, self._history)
        self.api.route("POST", EVENTS_PATH, self._events)
        self.history: dict[str, list[dict[str, Any]]] = {STUDENT: []}
        self.tokens: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []
        self.event_calls: list[list[dict[str, Any]]] = []
        self._numbers = itertools.count(1)
        self._broken_page: int | None = None
        self._history_page = 0

    # --- the kit's FakeVendor --------------------------------------------------------------

    def add(self, count: int, student: str = STUDENT) -> list[str]:
        keys = []
        for _ in range(count):
            n = next(self._numbers)
            item = {
                "componentID": f"CRS-{n:03}",
                "componentTypeID": "COURSE",
                "title": f"Course {n}",
                "completionDate": T0_MS + n * 3_600_000,
                "completionStatusID": "COMPLETE",
            }
            self.history.setdefault(student, []).append(item)
            keys.append(f"{student}/COURSE/{item['componentID']}/{item['completionDate']}")
        return keys

    def add_bad(self) -> str:
        n = next(self._numbers)
        when = T0_MS + n * 3_600_000
        self.history[STUDENT].append(
            {"componentTypeID": "COURSE", "completionDate": when, "completionStatusID": "COMPLETE"}
        )
        return f"{STUDENT}/COURSE//{when}"

    def break_page(self, number: int) -> None:
        self._broken_page = number
        self._history_page = 0

    def people(self) -> list[Person]:
        return [person(student, f"{student.lower()}@example.com") for student in self.history]

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    # --- serving ---------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return json_response({"error": "invalid_client"}, 401)
        self.token_requests.append(orjson.loads(request.content))
        token = f"token-{len(self.token_requests)}"
        self.tokens.add(token)
        return json_response({"access_token": token, "expires_in": 1800, "token_type": "Bearer"})

    def _authorised(self, request: httpx.Request) -> bool:
        return request.headers.get("Authorization", "").removeprefix("Bearer ") in self.tokens

    def _history(self, request: httpx.Request) -> httpx.Response:
        if not self._authorised(request):
            return json_response({"error": "invalid_token"}, 401)
        self._history_page += 1
        if self._history_page == self._broken_page:
            self._broken_page = None
            return text_response('{"error": {"message": "upstream timeout"}}', 200)
        student = request.url.params["$filter"].split("'")[1]
        items = self.history.get(student, [])
        skip, top = int(request.url.params["$skip"]), int(request.url.params["$top"])
        return json_response({"@odata.count": len(items), "value": items[skip : skip + top]})

    def _events(self, request: httpx.Request) -> httpx.Response:
        if not self._authorised(request):
            return json_response({"error": "invalid_token"}, 401)
        events = orjson.loads(request.content)["externalLearningEvents"]
        if len(events) > 10:
            return json_response({"error": {"message": "at most 10 records per call"}}, 400)
        self.event_calls.append(events)
        for event in events:
            self.history.setdefault(event["studentID"], []).append(
                {
                    "componentID": f"EXT-{next(self._numbers)}",
                    "componentTypeID": "EXTERNAL",
                    "title": event["description"],
                    "completionDate": event["completionDate"],
                    "completionStatusID": "COMPLETE",
                    "comments": event["comments"],
                }
            )
        return json_response({"@odata.context": "$metadata#ExternalLearningEvents"})
