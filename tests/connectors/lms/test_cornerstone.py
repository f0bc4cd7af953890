"""Cornerstone: the connector kit, 24-hour modification windows, pages, statuses."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.lms.cornerstone import CornerstoneConfig, CornerstoneConnector
from adoptloop.domain import Checkpoint, Completion, Person
from adoptloop.testing.fake_api import FakeApi, json_response, text_response
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    make_context,
)
from tests.connectors.lms.fake_moodle import person

SEARCH = "/services/api/TranscriptSearch"
STAMP = "%Y-%m-%dT%H:%M:%S"


class FakeCornerstone:
    page_size = 2

    def __init__(self) -> None:
        self.api = FakeApi("https://acme.csod.example.test")
        self.api.route("POST", "/services/api/oauth2/token", self._token)
        self.api.route("GET", SEARCH, self._search)
        self.now = datetime(2024, 3, 1, tzinfo=UTC)
        self.records: list[tuple[datetime, dict[str, Any]]] = []
        self._numbers = itertools.count(1)
        self._broken_page: int | None = None
        self._responses = 0

    def transcript(self, status: str = "Completed", **fields: Any) -> str:
        n = next(self._numbers)
        when = self.now + timedelta(hours=1)
        self.now = when + timedelta(minutes=30)  # the clock runs past every change
        record = {
            "UserId": f"U{n % 3}",
            "UserEmail": f"u{n % 3}@example.com",
            "LoId": f"lo-{n}",
            "Title": "Objection handling basics",
            "Status": status,
            "CompletionDate": when.strftime(STAMP),
            **fields,
        }
        self.records.append((when, record))
        return f"{record['UserId']}/{record['LoId']}/{record['CompletionDate']}"

    def people(self) -> list[Person]:
        return [person(f"U{i}", f"u{i}@example.com") for i in range(3)]

    # --- the kit's FakeVendor --------------------------------------------------------------

    def add(self, count: int) -> list[str]:
        return [self.transcript() for _ in range(count)]

    def add_bad(self) -> str:
        return self.transcript(LoId="")

    def break_page(self, number: int) -> None:
        self._broken_page = number
        self._responses = 0

    # --- serving ---------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if body != {
            "clientId": "csod-client",
            "clientSecret": "csod-test-secret",
            "grantType": "client_credentials",
            "scope": "transcript:read",
        }:
            return json_response({"error": "invalid_client"}, 401)
        return json_response({"access_token": "csod-token", "expires_in": 3600})

    def _search(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != "Bearer csod-token":
            return json_response({"error": "unauthorized"}, 401)
        self._responses += 1
        if self._responses == self._broken_page:
            self._broken_page = None
            return text_response("Service Unavailable")
        params = request.url.params
        start = datetime.strptime(params["ModificationStartDate"], STAMP).replace(tzinfo=UTC)
        end = datetime.strptime(params["ModificationEndDate"], STAMP).replace(tzinfo=UTC)
        assert end - start < timedelta(hours=24), "Transcript Search allows 24 hours at most"
        found = [r for when, r in self.records if start <= when <= end]
        page = int(params["pageNumber"])
        chunk = found[(page - 1) * self.page_size : page * self.page_size]
        return json_response({"status": 200, "timeStamp": "now", "data": chunk})


def config(vendor: FakeCornerstone, **overrides: Any) -> CornerstoneConfig:
    values: dict[str, Any] = {
        "type": "cornerstone",
        "base_url": vendor.api.base_url,
        "client_id": "csod-client",
        "client_secret": SecretStr("csod-test-secret"),
        "search_path": SEARCH,
        "page_size": 2,
        "lookback_minutes": 0,
        "backfill_days": 3,
    }
    return CornerstoneConfig(**{**values, **overrides})


def cornerstone(vendor: FakeCornerstone, **overrides: Any) -> CornerstoneConnector:
    return CornerstoneConnector(
        config(vendor, **overrides),
        make_context(name="csod"),
        transport=vendor.api.transport(),
        sleep=RecordingSleep(),
        now=lambda: vendor.now,
    )


class TestCornerstoneContract(ConnectorContract):
    stream = "completions"
    table = "completions"

    def make_vendor(self) -> FakeCornerstone:
        return FakeCornerstone()

    def seed_people(self, vendor: FakeVendor) -> list[Person]:
        assert isinstance(vendor, FakeCornerstone)
        return vendor.people()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> CornerstoneConnector:
        assert isinstance(vendor, FakeCornerstone)
        return CornerstoneConnector(
            config(vendor),
            context,
            transport=vendor.api.transport(),
            sleep=sleep,
            now=lambda: vendor.now,
        )


def test_first_run_walks_24_hour_windows_over_the_backfill_and_checkpoints_each() -> None:
    vendor = FakeCornerstone()
    vendor.now = datetime(2024, 3, 10, 6, tzinfo=UTC)
    items = drain(cornerstone(vendor, backfill_days=3), "completions")
    windows = [r.url.params["ModificationStartDate"] for r in vendor.api.calls(SEARCH)]
    assert windows == ["2024-03-07T06:00:00", "2024-03-08T06:00:00", "2024-03-09T06:00:00"]
    assert [i.cursor for i in items if isinstance(i, Checkpoint)] == [
        "2024-03-08T06:00:00+00:00",
        "2024-03-09T06:00:00+00:00",
        "2024-03-10T06:00:00+00:00",
    ]


def test_next_run_starts_at_the_cursor_less_the_lookback() -> None:
    vendor = FakeCornerstone()
    drain(cornerstone(vendor, lookback_minutes=30), "completions", "2024-03-01T00:00:00+00:00")
    first = vendor.api.calls(SEARCH)[0].url.params
    assert first["ModificationStartDate"] == "2024-02-29T23:30:00"


def test_only_completed_passed_or_failed_statuses_become_completions() -> None:
    vendor = FakeCornerstone()
    done = vendor.transcript()
    vendor.transcript(status="In Progress")
    vendor.transcript(status="Registered")
    records = domain_records(drain(cornerstone(vendor), "completions"))
    assert [c.source_record_id for c in records if isinstance(c, Completion)] == [done]
