"""The connector kit itself: its checks pass a good connector and catch broken ones;
entry-point loading. (The HTTP kit it relies on is tested in tests/http/.)

`MyLmsConnector` is the connector of docs/writing-a-connector.md, executed from the guide
itself (tests/testing/tutorial.py), so the tutorial is tested; `FakeExampleLms` is its vendor.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.registry import Registry
from adoptloop.connectors.values import BadValue
from adoptloop.domain import Checkpoint, Item, Person, Rejected
from adoptloop.errors import RetriableError
from adoptloop.http.client import RestClient
from adoptloop.testing.fake_api import FakeApi, json_response, status_response, text_response
from adoptloop.testing.kit import ConnectorContract, FakeVendor, RecordingSleep, make_context
from tests.connectors.lms.fake_moodle import person
from tests.testing.tutorial import MyLmsConfig, MyLmsConnector, python_blocks


@pytest.fixture(autouse=True)
def _captured_logs() -> Iterator[None]:
    """Log events go to a capture, whatever logging set-up another test left behind."""
    with structlog.testing.capture_logs():
        yield


# --- the tutorial's vendor --------------------------------------------------------------------


class FakeExampleLms:
    """The vendor side of the tutorial: paged completions filtered by updated_since."""

    def __init__(self) -> None:
        self.api = FakeApi("https://lms.example.test")
        self.api.route("GET", "/api/completions", self._serve)
        self.rows: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._clock = datetime(2024, 3, 1, tzinfo=UTC)
        self._broken_page: int | None = None

    def add(self, count: int) -> list[str]:
        return [self._row()["id"] for _ in range(count)]

    def add_bad(self) -> str:
        return str(self._row(course="")["id"])

    def break_page(self, number: int) -> None:
        self._broken_page = number

    def _row(self, **overrides: Any) -> dict[str, Any]:
        self._clock += timedelta(hours=1)
        row = {
            "id": f"c{next(self._ids)}",
            "user": "ana@example.com",
            "course": "MOD-OBJ-101",
            "completed_at": self._clock.isoformat(),
            **overrides,
        }
        self.rows.append(row)
        return row

    def _serve(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != "Bearer example-token":
            return status_response(401)
        page, size = int(request.url.params["page"]), int(request.url.params["per_page"])
        if page == self._broken_page:
            self._broken_page = None
            return text_response("<html>oops</html>")
        since = request.url.params.get("updated_since")
        rows = [r for r in self.rows if since is None or r["completed_at"] > since]
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        return json_response({"items": chunk, "next_page": page + 1 if more else None})


def example(vendor: FakeExampleLms, context: ConnectorContext, sleep: Any) -> MyLmsConnector:
    config = MyLmsConfig(
        type="my-lms",
        base_url=vendor.api.base_url,
        token=SecretStr("example-token"),
        page_size=2,
    )
    return MyLmsConnector(config, context, transport=vendor.api.transport(), sleep=sleep)


class TestExampleConnectorContract(ConnectorContract):
    stream = "completions"
    table = "completions"

    def make_vendor(self) -> FakeExampleLms:
        return FakeExampleLms()

    def seed_people(self, _vendor: FakeVendor) -> list[Person]:
        return [person("E1", "ana@example.com")]

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> MyLmsConnector:
        assert isinstance(vendor, FakeExampleLms)
        return example(vendor, context, sleep)


# --- the checks have teeth -------------------------------------------------------------------


class CursorIgnoringConnector(MyLmsConnector):
    def read(self, stream: str, _cursor: str | None) -> Iterator[Item]:
        return super().read(stream, None)


class CheckpointPastBadPage(MyLmsConnector):
    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        for item in super().read(stream, cursor):
            yield item
            if isinstance(item, Rejected):
                yield Checkpoint(stream, "9999")


class SwallowsBadRecords(MyLmsConnector):
    def completion(self, raw: Any) -> Item:
        item = super().completion(raw)
        if isinstance(item, Rejected):
            raise BadValue(item.reason)
        return item


class NoRetry(MyLmsConnector):
    def client(self) -> RestClient:
        return RestClient(
            self.config.base_url,
            service="no retry",
            auth=self.auth(),
            transport=self._transport,
            max_attempts=1,
        )


def contract_for(cls: type[MyLmsConnector]) -> ConnectorContract:
    class Contract(TestExampleConnectorContract):
        def make_connector(
            self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
        ) -> MyLmsConnector:
            connector = super().make_connector(vendor, context, sleep)
            return cls(connector.config, context, transport=connector._transport, sleep=sleep)

    return Contract()


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (CursorIgnoringConnector, "test_cursor_reads_only_what_changed_since"),
        (CheckpointPastBadPage, "test_malformed_page_is_quarantined_and_the_cursor_stays"),
        (SwallowsBadRecords, "test_bad_record_is_quarantined_and_the_rest_is_read"),
        (NoRetry, "test_5xx_answers_are_retried_until_success"),
    ],
)
def test_the_standard_checks_fail_a_connector_that_breaks_them(
    broken: type[MyLmsConnector], check: str
) -> None:
    with pytest.raises((pytest.fail.Exception, BadValue, RetriableError)):
        getattr(contract_for(broken), check)()


# --- the fake API ----------------------------------------------------------------------------


def test_fake_api_serves_scripted_answers_first_then_routes_and_404s_the_rest() -> None:
    api = FakeApi()
    api.route("GET", "/ok", lambda _r: json_response({"ok": True}))
    api.fail_next(status_response(503), path="/ok")
    with httpx.Client(transport=api.transport(), base_url=api.base_url) as client:
        assert client.get("/ok").status_code == 503
        assert client.get("/ok").json() == {"ok": True}
        assert client.get("/elsewhere").status_code == 404
    assert [r.url.path for r in api.calls(method="GET")] == ["/ok", "/ok", "/elsewhere"]


# --- entry points ----------------------------------------------------------------------------

BUILTIN = {
    "scim": "hris",
    "workday": "hris",
    "bamboohr": "hris",
    "moodle": "lms",
    "successfactors": "lms",
    "cornerstone": "lms",
    "docebo": "lms",
}


def test_every_hris_and_lms_connector_loads_through_the_entry_point_group() -> None:
    types = Registry.from_entry_points().types
    assert {name: types[name].family for name in BUILTIN} == BUILTIN


class _EntryPoint:
    name = "my-lms"
    value = "tests.testing.tutorial:MyLmsConnector"

    def load(self) -> type[MyLmsConnector]:
        return MyLmsConnector


def test_a_third_party_connector_is_loaded_and_built_from_its_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.metadata.entry_points

    def with_third_party(*, group: str) -> list[Any]:
        return [*real(group=group), _EntryPoint()]

    monkeypatch.setattr("adoptloop.connectors.registry.entry_points", with_third_party)
    found = Registry.from_entry_points()
    config = MyLmsConfig(type="my-lms", base_url="https://lms.example.test", token=SecretStr("t"))
    built = found.build("lms", config, make_context(name="lms"))
    assert isinstance(built, MyLmsConnector)
    assert MyLmsConfig in found.config_classes()


# --- the guide's test skeleton ---------------------------------------------------------------


def test_the_guides_test_skeleton_runs_against_the_guides_connector() -> None:
    [skeleton] = python_blocks("## 6. Tests with the connector kit")
    namespace = dict(vars(sys.modules[MyLmsConnector.__module__]))
    exec(compile(skeleton, "writing-a-connector.md: section 6", "exec"), namespace)  # noqa: S102
    contract = namespace["TestMyLmsContract"]()
    assert isinstance(contract, ConnectorContract)
    assert isinstance(contract.make_vendor(), namespace["FakeMyLms"])
