"""SCIM connector against a real SCIM 2.0 server (scim2-server), through the connector kit."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import pytest
from bench.synthetic import OrgSpec, generate_org
from pydantic import SecretStr
from sqlalchemy import Engine, select

from adoptloop.adoption.employment import Employment
from adoptloop.connectors.hris.scim import ScimConfig, ScimConnector
from adoptloop.domain import Deleted, Item, Person, Role
from adoptloop.http.client import AuthFailed
from adoptloop.mappings.roles import RoleMap
from adoptloop.pipeline.pull import PullStage
from adoptloop.store import schema
from adoptloop.store.adoption import person_inputs
from adoptloop.store.db import open_store
from adoptloop.testing.fake_api import json_response
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    last_cursor,
    make_context,
    rejected,
)
from tests.connectors.hris.scim_support import ENTERPRISE, ScimDirectory
from tests.harness.scim_server import LocalScimServer


def connector(
    directory: ScimDirectory,
    *,
    run_date: date = date(2024, 3, 10),
    token: str | None = None,
    sleep: RecordingSleep | None = None,
    **settings: Any,
) -> ScimConnector:
    config = ScimConfig(
        type="scim",
        base_url=directory.base_url,
        token=SecretStr(token or directory.server.token),
        page_size=settings.pop("page_size", 2),
        lookback_seconds=settings.pop("lookback_seconds", 0),
        **settings,
    )
    return ScimConnector(
        config,
        make_context(name="hris", run_date=run_date),
        transport=directory.api.transport(),
        sleep=sleep or RecordingSleep(),
    )


def people(items: list[Item]) -> dict[str, Person]:
    return {r.hr_id: r for r in domain_records(items) if isinstance(r, Person)}


@pytest.fixture
def directory(scim_server: LocalScimServer) -> ScimDirectory:
    return ScimDirectory(scim_server)


class TestScimContract(ConnectorContract):
    stream = "people"
    table = "people"
    roles: ClassVar[Mapping[str, Role]] = {"Sales Representative": "rep"}  # its job title

    @pytest.fixture(autouse=True)
    def _server(self, scim_server: LocalScimServer) -> None:
        self.server = scim_server

    def make_vendor(self) -> ScimDirectory:
        return ScimDirectory(self.server)

    def make_connector(self, vendor: FakeVendor, context: Any, sleep: RecordingSleep) -> Any:
        assert isinstance(vendor, ScimDirectory)
        config = ScimConfig(
            type="scim",
            base_url=vendor.base_url,
            token=SecretStr(self.server.token),
            page_size=2,
            lookback_seconds=0,
        )
        return ScimConnector(config, context, transport=vendor.api.transport(), sleep=sleep)


def test_users_become_people_with_enterprise_fields_and_resolved_managers(
    directory: ScimDirectory,
) -> None:
    boss = directory.create("E100", given="Sarah", family="Jones", title="Regional Sales Manager")
    directory.create("E101", given="Tom", family="Ng", manager=boss, department="Oncology East")
    directory.create("E102", given="Li", family="Wei", manager=boss)

    found = people(drain(connector(directory), "people"))

    tom = found["E101"]
    assert (tom.first_name, tom.last_name, tom.role) == ("Tom", "Ng", "Sales Representative")
    assert tom.email == "tom.ng@example.com"
    assert tom.employee_number == "E101"
    assert tom.manager_hr_id == "E100"  # the manager's SCIM id, turned into an hr_id
    assert (tom.region, tom.business_unit) == ("Oncology East", "Commercial")
    assert tom.status == "active"
    modified = directory.user(directory_id(directory, "E101"))["meta"]["lastModified"]
    assert tom.valid_from == date.fromisoformat(modified[:10])
    assert found["E102"].manager_hr_id == "E100"
    assert found["E100"].manager_hr_id is None


def directory_id(directory: ScimDirectory, employee_number: str) -> str:
    for request_user in _all_users(directory):
        enterprise = request_user.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        if enterprise and enterprise.get("employeeNumber") == employee_number:
            return str(request_user["id"])
    raise LookupError(employee_number)


def _all_users(directory: ScimDirectory) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{directory.base_url}/Users", headers=directory.server.auth_headers, timeout=10.0
    )
    return list(response.json().get("Resources", []))


def test_manager_change_becomes_effective_dated_history(
    directory: ScimDirectory, tmp_path: Path
) -> None:
    old_boss = directory.create("E100", given="Sarah", family="Jones", title="RSM")
    new_boss = directory.create("E200", given="Omar", family="Haddad", title="RSM")
    rep = directory.create("E101", given="Tom", family="Ng", manager=old_boss)
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")

    pull(engine, directory, date(2026, 1, 10), "run-1")
    directory.set_manager(rep, new_boss)
    pull(engine, directory, date(2026, 2, 1), "run-2")

    with engine.connect() as conn:
        rows = conn.execute(
            select(
                schema.people.c.valid_from, schema.people.c.valid_to, schema.people.c.manager_hr_id
            )
            .where(schema.people.c.hr_id == "E101")
            .order_by(schema.people.c.valid_from)
        ).all()
        (inputs,) = person_inputs(conn, date(2026, 2, 5), ["E101"])
    history = Employment(inputs.posts)
    assert [tuple(r) for r in rows] == [
        (date(2026, 1, 10), date(2026, 2, 1), "E100"),
        (date(2026, 2, 1), None, "E200"),
    ]
    assert manager_on(history, date(2026, 1, 20)) == "E100"
    assert manager_on(history, date(2026, 2, 5)) == "E200"


def manager_on(history: Employment, day: date) -> str | None:
    """The manager adoption attributes the person to on `day` (their HR row in effect)."""
    post = history.on(day)
    return post.manager_hr_id if post else None


# the job titles these tests' SCIM users have, as an admin would map them under `roles:`
ROLES = RoleMap({"Sales Representative": "rep", "District Manager": "manager"})


def pull(engine: Engine, directory: ScimDirectory, run_date: date, run_id: str) -> dict[str, int]:
    scim = connector(directory, run_date=run_date, effective_date="run_date")
    return PullStage(engine, run_id, roles=ROLES).pull(scim)["people"]


def test_second_run_asks_only_for_users_changed_since_the_watermark(
    directory: ScimDirectory,
) -> None:
    directory.add(3)
    first = drain(connector(directory), "people")
    directory.add(1)
    directory.api.requests.clear()

    second = drain(connector(directory), "people", last_cursor(first))

    assert len(people(second)) == 1
    listing = [r for r in directory.api.calls("*") if r.url.params.get("sortBy")]
    assert listing
    assert all(r.url.params["filter"].startswith('meta.lastModified gt "') for r in listing)
    assert all(r.url.params["sortBy"] == "meta.lastModified" for r in listing)


def test_deleted_user_is_closed_as_terminated_by_id_reconciliation(
    directory: ScimDirectory, tmp_path: Path
) -> None:
    directory.add(2)
    leaver = directory.create("E900", given="Lee", family="Park")
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    pull(engine, directory, date(2026, 1, 10), "run-1")
    directory.delete(leaver)

    items = drain(connector(directory, run_date=date(2026, 1, 11)), "people", cursor(engine))
    pull(engine, directory, date(2026, 1, 11), "run-2")

    assert [i for i in items if isinstance(i, Deleted)] == [
        Deleted("person", "E900", on=date(2026, 1, 11))
    ]
    with engine.connect() as conn:
        current = conn.execute(
            select(schema.people.c.status, schema.people.c.termination_date).where(
                (schema.people.c.hr_id == "E900") & schema.people.c.valid_to.is_(None)
            )
        ).one()
    assert tuple(current) == ("terminated", date(2026, 1, 11))


def cursor(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(schema.cursors.c.value).where(schema.cursors.c.stream == "people")
        ).scalar_one_or_none()


def test_deactivated_user_is_read_as_terminated(directory: ScimDirectory) -> None:
    directory.add(1)
    leaver = directory.create("E900", given="Lee", family="Park")
    first = drain(connector(directory), "people")
    directory.patch(leaver, "active", False)

    second = drain(connector(directory, run_date=date(2024, 3, 11)), "people", last_cursor(first))

    lee = people(second)["E900"]
    assert lee.status == "terminated"
    assert lee.termination_date == lee.valid_from
    assert not [i for i in second if isinstance(i, Deleted)], "closed once, not twice"


def test_reconciliation_closes_only_users_the_server_confirms_gone(
    directory: ScimDirectory,
) -> None:
    directory.add(2)
    skipped = directory.create("E900", given="Lee", family="Park")
    first = drain(connector(directory), "people")
    directory.hidden_from_reconciliation = {skipped}  # as a listing shifted by a delete would

    second = drain(connector(directory, run_date=date(2024, 3, 11)), "people", last_cursor(first))

    assert [i for i in second if isinstance(i, Deleted)] == []
    assert directory.api.calls(urlsplit(directory.base_url).path + f"/Users/{skipped}")


def test_listing_that_shifts_while_paging_is_read_again(directory: ScimDirectory) -> None:
    first_users = directory.add(4)
    scim_ids = [directory_id(directory, number) for number in first_users]

    def delete_a_read_user(page: int) -> None:
        if page == 1 and len(scim_ids) == 4:  # once: page 2 now starts one user later
            directory.delete(scim_ids.pop(0))

    directory.on_listing_page = delete_a_read_user
    items = drain(connector(directory), "people")

    assert set(people(items)) == set(first_users)  # E.. of page 2's first user is not lost
    passes = [r for r in directory.api.calls("*") if r.url.params.get("startIndex") == "1"]
    assert len([r for r in passes if r.url.params.get("sortBy") == "meta.lastModified"]) == 2


def test_server_without_sort_support_is_listed_in_full_every_run(
    directory: ScimDirectory,
) -> None:
    directory.add(2)
    directory.api.route(
        "GET",
        urlsplit(directory.base_url).path + "/ServiceProviderConfig",
        lambda _request: json_response(
            {"filter": {"supported": True}, "sort": {"supported": False}}
        ),
        first=True,
    )
    first = drain(connector(directory), "people")
    directory.api.requests.clear()

    second = drain(connector(directory), "people", last_cursor(first))

    assert len(people(second)) == 2
    assert not any("filter" in r.url.params for r in directory.api.requests)


def test_user_without_a_title_is_quarantined_and_the_rest_is_read(
    directory: ScimDirectory,
) -> None:
    good = directory.add(2)
    bad = directory.add_bad()

    items = drain(connector(directory), "people")

    assert sorted(people(items)) == sorted(good)
    [quarantined] = rejected(items)
    assert quarantined.record_key == bad
    assert "title is missing" in quarantined.reason


def test_wrong_bearer_token_is_refused_by_the_server(directory: ScimDirectory) -> None:
    directory.add(1)
    sleep = RecordingSleep()
    with pytest.raises(AuthFailed, match="refused the credentials"):
        drain(connector(directory, token="not-the-token", sleep=sleep), "people")
    assert sleep.calls == []


def test_region_and_role_change_close_the_old_row_and_open_a_new_one(
    directory: ScimDirectory, tmp_path: Path
) -> None:
    rep = directory.create("E101", given="Tom", family="Ng", department="Oncology East")
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    pull(engine, directory, date(2026, 1, 10), "run-1")
    directory.patch(rep, f"{ENTERPRISE}:department", "Oncology West")
    directory.patch(rep, "title", "District Manager")  # promoted
    pull(engine, directory, date(2026, 3, 1), "run-2")

    p = schema.people.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.valid_from, p.valid_to, p.region, p.role)
            .where(p.hr_id == "E101")
            .order_by(p.valid_from)
        ).all()
    assert [tuple(r) for r in rows] == [
        (date(2026, 1, 10), date(2026, 3, 1), "Oncology East", "rep"),  # mapped at pull
        (date(2026, 3, 1), None, "Oncology West", "manager"),
    ]


def test_the_synthetic_orgs_scim_users_are_its_people(
    directory: ScimDirectory, tmp_path: Path
) -> None:
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=16, bad_rows=False), apis=True)
    ids = directory.load(out / "scim" / "Users.jsonl")

    found = people(drain(connector(directory, page_size=50), "people"))

    with (out / "hris" / "people.csv").open(encoding="utf-8", newline="") as fh:
        current = {row["hr_id"]: row for row in csv.DictReader(fh)}  # each person's last row
    assert set(found) == set(current) == set(ids)
    for hr_id, person in found.items():
        row = current[hr_id]
        expected = (row["role"], row["manager_hr_id"] or None, row["region"], row["country"])
        assert (person.role, person.manager_hr_id, person.region, person.country) == expected
        assert person.status == ("active" if row["status"] == "active" else "terminated")
