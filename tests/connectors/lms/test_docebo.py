"""Docebo: the connector kit, page/page_size paging with has_more_data, completion status."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.lms.docebo import DoceboConfig, DoceboConnector
from adoptloop.domain import Completion, Person
from adoptloop.testing.fake_api import FakeApi, form, json_response
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    make_context,
)
from tests.connectors.lms.fake_moodle import person

ENROLLMENTS = "/learn/v1/enrollments"


class FakeDocebo:
    def __init__(self) -> None:
        self.api = FakeApi("https://acme.docebosaas.example.test")
        self.api.route("POST", "/oauth2/token", self._token)
        self.api.route("GET", ENROLLMENTS, self._enrollments)
        self.items: list[dict[str, Any]] = []
        self._numbers = itertools.count(1)
        self._clock = datetime(2024, 3, 1, 9, tzinfo=UTC)
        self._broken_page: int | None = None

    def enrol(self, status: str = "completed", **fields: Any) -> str:
        n = next(self._numbers)
        self._clock += timedelta(hours=1)
        item = {
            "id_user": 10 + n % 3,
            "username": f"u{10 + n % 3}@example.com",
            "id_course": 30 + n,
            "course_name": f"Course {n}",
            "status": status,
            "course_complete_date": self._clock.strftime("%Y-%m-%d %H:%M:%S"),
            **fields,
        }
        self.items.append(item)
        return f"{item['id_user']}/{item['id_course']}"

    def people(self) -> list[Person]:
        return [person(f"E{u}", f"u{u}@example.com") for u in range(10, 13)]

    # --- the kit's FakeVendor --------------------------------------------------------------

    def add(self, count: int) -> list[str]:
        return [self.enrol() for _ in range(count)]

    def add_bad(self) -> str:
        return self.enrol(course_complete_date="not a date")

    def break_page(self, number: int) -> None:
        self._broken_page = number

    # --- serving ---------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = form(request)
        if (body.get("client_id"), body.get("client_secret")) != ("docebo-app", "docebo-secret"):
            return json_response({"error": "invalid_client"}, 401)
        return json_response({"access_token": "docebo-token", "expires_in": 3600})

    def _enrollments(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != "Bearer docebo-token":
            return json_response({"error": "unauthorized"}, 401)
        params = request.url.params
        page, size = int(params["page"]), int(params["page_size"])
        if page == self._broken_page:
            self._broken_page = None
            return json_response({"data": {"message": "maintenance"}})
        wanted = params.get_list("status[]")
        found = [i for i in self.items if i["status"] in wanted]
        chunk = found[(page - 1) * size : page * size]
        more = page * size < len(found)
        return json_response(
            {"data": {"items": chunk, "has_more_data": more, "current_page": page}}
        )


def config(vendor: FakeDocebo) -> DoceboConfig:
    return DoceboConfig(
        type="docebo",
        base_url=vendor.api.base_url,
        client_id="docebo-app",
        client_secret=SecretStr("docebo-secret"),
        page_size=2,
        lookback_days=0,
    )


class TestDoceboContract(ConnectorContract):
    stream = "completions"
    table = "completions"

    def make_vendor(self) -> FakeDocebo:
        return FakeDocebo()

    def seed_people(self, vendor: FakeVendor) -> list[Person]:
        assert isinstance(vendor, FakeDocebo)
        return vendor.people()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> DoceboConnector:
        assert isinstance(vendor, FakeDocebo)
        return DoceboConnector(
            config(vendor), context, transport=vendor.api.transport(), sleep=sleep
        )


def test_completed_enrollment_becomes_a_completion_of_its_course() -> None:
    vendor = FakeDocebo()
    key = vendor.enrol()
    vendor.enrol(status="in_progress")
    docebo = DoceboConnector(config(vendor), make_context(), transport=vendor.api.transport())
    [completion] = domain_records(drain(docebo, "completions"))
    assert isinstance(completion, Completion)
    assert completion.source_record_id == key
    assert (completion.module_id, completion.module_title) == ("31", "Course 1")
    assert completion.completed_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert completion.learner.attributes == {"username": "u11@example.com"}
    assert vendor.api.calls(ENROLLMENTS)[0].url.params.get_list("status[]") == ["completed"]
