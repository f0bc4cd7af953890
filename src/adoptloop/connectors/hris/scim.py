"""SCIM 2.0 (RFC 7643/7644) Users with the Enterprise User extension.

- Paging: `startIndex`/`count`, sorted by `meta.lastModified` (RFC 7644 3.4.2.3: without
  `sortBy` the order is unspecified, so offsets could skip or repeat users). A pass is
  consistent when every page reports the same `totalResults` and the distinct ids read equal
  it; a user changed or deleted mid-listing shifts the offsets, and the pass is repeated.
- Incremental: `filter=meta.lastModified gt "<watermark - lookback>"`; the watermark only
  moves after a consistent pass. A server without filter or sort support (its
  ServiceProviderConfig says so) is listed in full every run.
- SCIM has no "deleted since": the cursor keeps the id -> hr_id map of active users, and every
  `reconcile_every_days` the full id list is compared with it. An id that is gone (confirmed by
  a 404 on `GET /Users/{id}`, so a listing shifted by a concurrent delete terminates nobody)
  or deactivated becomes a `Deleted(kind="person")`, which closes the person as terminated.
- `enterprise.manager.value` is the manager's SCIM id; it is turned into the manager's hr_id
  from the map, or with one `id eq ... or ...` query per page for ids not yet known.
- Effective dating: `valid_from` = the date of `meta.lastModified` (or the run date with
  `effective_date: run_date`), so a manager change opens a new row from that day.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field

from adoptloop.connectors.people import hr_row
from adoptloop.connectors.rest import (
    HttpConnector,
    HttpSourceConfig,
    MalformedPage,
    RestStream,
    as_record,
    field,
    json_body,
    records_at,
    require,
    text,
)
from adoptloop.connectors.state import pack_state, unpack_state
from adoptloop.connectors.values import BadValue, optional_date, parse_datetime
from adoptloop.domain import Checkpoint, Deleted, Item, Person, Rejected
from adoptloop.fields import Secret
from adoptloop.http.auth import BearerToken
from adoptloop.http.client import RestClient

log = structlog.get_logger(__name__)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
STREAM = "people"
_LOOKUP_CHUNK = 20


class ScimFields(BaseModel):
    """Where each Person field comes from: a dotted SCIM path; `enterprise.` = the extension."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hr_id: str = "enterprise.employeeNumber"
    employee_number: str | None = "enterprise.employeeNumber"
    role: str = "title"
    region: str | None = "enterprise.department"
    business_unit: str | None = "enterprise.division"
    territory: str | None = None
    country: str | None = "addresses.country"
    hire_date: str | None = None


class ScimConfig(HttpSourceConfig):
    type: Literal["scim"]
    token: Secret = Field(description="Bearer token of a read-only SCIM client")
    fields: ScimFields = ScimFields()
    effective_date: Literal["last_modified", "run_date"] = Field(
        default="last_modified",
        description="valid_from of a changed person: the day of meta.lastModified, or the run date",
    )
    lookback_seconds: int = Field(
        default=300, ge=0, description="Re-read users changed this long before the watermark"
    )
    reconcile_every_days: int = Field(
        default=1, ge=1, description="How often to compare all ids to find deleted users"
    )
    max_passes: int = Field(default=3, ge=1, le=10)


def scim_path(path: str) -> str:
    """`enterprise.employeeNumber` -> the attribute name SCIM queries use."""
    if path.startswith("enterprise."):
        return f"{ENTERPRISE}:{path.removeprefix('enterprise.')}"
    return path


def value_at(raw: Mapping[str, Any], path: str) -> str:
    """A value by dotted path; on a multi-valued attribute the primary (else first) entry."""
    node: Any = raw
    parts = path.split(".")
    if parts[0] == "enterprise":
        node, parts = raw.get(ENTERPRISE), parts[1:]
    for part in parts:
        if isinstance(node, list):
            node = next((v for v in node if isinstance(v, dict) and v.get("primary")), None) or (
                node[0] if node else None
            )
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, list):
        node = node[0] if node else None
    if node is None or isinstance(node, dict | list):
        return ""
    return str(node).strip()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Users(RestStream):
    """GET /Users, paged by startIndex/count."""

    path = "Users"

    def __init__(
        self,
        client: RestClient,
        *,
        count: int,
        filter: str | None = None,
        sort_by: str | None = None,
        attributes: Sequence[str] = (),
    ) -> None:
        super().__init__(client)
        self.count = count
        self.filter = filter
        self.sort_by = sort_by
        self.attributes = attributes
        self.totals: list[int] = []
        self._total = 0

    def params(self, token: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"startIndex": token or 1, "count": self.count}
        if self.filter:
            params["filter"] = self.filter
        if self.sort_by:
            params["sortBy"] = self.sort_by
            params["sortOrder"] = "ascending"
        if self.attributes:
            params["attributes"] = ",".join(self.attributes)
        return params

    def parse_page(self, response: httpx.Response) -> list[Any]:
        body = json_body(response)
        total = body.get("totalResults") if isinstance(body, dict) else None
        if not isinstance(total, int):
            raise MalformedPage("the ListResponse has no totalResults", where="GET Users")
        self.totals.append(total)
        self._total = total
        if total == 0 and "Resources" not in body:
            return []
        return records_at(response, body, "Resources")

    def next_page(self, _response: httpx.Response, records: Sequence[Any], token: Any) -> Any:
        following = int(token or 1) + len(records)
        return following if records and following <= self._total else None

    def consistent(self, distinct_ids: int) -> bool:
        return len(set(self.totals)) <= 1 and distinct_ids == (
            self.totals[-1] if self.totals else 0
        )


class ScimConnector(HttpConnector[ScimConfig]):
    type_name = "scim"
    family = "hris"
    config_class = ScimConfig
    service = "SCIM"

    def auth(self) -> httpx.Auth:
        return BearerToken(self.config.token)

    def headers(self) -> Mapping[str, str]:
        return {"Accept": "application/scim+json, application/json"}

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        state = unpack_state(cursor)
        ids: dict[str, str] = dict(state.get("ids", {}))
        with self.client() as client:
            sync = _Sync(self, client, ids)
            try:
                watermark = yield from sync.changed(state.get("watermark"))
                last = optional_date(str(state.get("reconciled_on") or ""), "reconciled_on")
                reconciled_on = last
                if cursor is None:
                    reconciled_on = self.context.run_date  # a full read: nothing to compare yet
                elif last is None or (self.context.run_date - last).days >= (
                    self.config.reconcile_every_days
                ):
                    yield from sync.reconcile()
                    reconciled_on = self.context.run_date
            except MalformedPage as exc:
                yield Rejected(STREAM, "page", exc.where or "GET Users", str(exc))
                return  # no checkpoint: the next run starts again from the stored cursor
        new_state = {
            "watermark": watermark,
            "ids": ids,
            "reconciled_on": reconciled_on.isoformat() if reconciled_on else None,
        }
        yield Checkpoint(STREAM, pack_state(new_state))

    # --- records ---------------------------------------------------------------------------

    def person(self, raw: Mapping[str, Any], manager_hr_id: str | None) -> Person:
        f = self.config.fields
        modified = parse_datetime(require(raw, "meta", "lastModified"), "meta.lastModified")
        active = field(raw, "active") is not False  # absent = active (RFC 7643 4.1.1)
        changed_on = modified.date()
        valid_from = changed_on if self.config.effective_date == "last_modified" else None

        def optional(path: str | None) -> str | None:
            return (value_at(raw, path) or None) if path else None

        def required(path: str) -> str:
            value = value_at(raw, path)
            if not value:
                raise BadValue(f"{scim_path(path)} is missing")
            return value

        return hr_row(
            hr_id=required(f.hr_id),
            valid_from=valid_from or self.context.run_date,
            first_name=required("name.givenName"),
            last_name=required("name.familyName"),
            email=value_at(raw, "emails.value"),
            employee_number=optional(f.employee_number),
            role=required(f.role),
            manager_hr_id=manager_hr_id,
            region=optional(f.region),
            country=optional(f.country),
            territory=optional(f.territory),
            business_unit=optional(f.business_unit),
            active=active,
            hire_date=optional_date(optional(f.hire_date) or "", f.hire_date or "hire_date"),
            termination_date=None if active else changed_on,
            location=f"SCIM Users/{text(raw, 'id')}",
        )


class _Sync:
    """One read: the changed-users passes and the reconciliation, sharing the id map."""

    def __init__(self, connector: ScimConnector, client: RestClient, ids: dict[str, str]) -> None:
        self.connector = connector
        self.config = connector.config
        self.client = client
        self.ids = ids  # scim id -> hr_id of the active users we have stored
        self.hr_ids: dict[str, str | None] = dict(ids)  # any scim id -> hr_id, for managers
        self.rejected: set[str] = set()

    def _supports_filter_and_sort(self) -> bool:
        response = self.client.request("GET", "ServiceProviderConfig", accept=(404, 501))
        if response.status_code != 200:
            return False
        body = json_body(response)
        return bool(field(body, "filter", "supported")) and bool(field(body, "sort", "supported"))

    def changed(self, watermark: str | None) -> Generator[Item, None, str | None]:
        """Yield the users changed since the watermark; return the new watermark."""
        incremental = self._supports_filter_and_sort()
        query = None
        if incremental and watermark:
            since = parse_datetime(watermark, "watermark") - timedelta(
                seconds=self.config.lookback_seconds
            )
            query = f'meta.lastModified gt "{_stamp(since)}"'
        newest = watermark
        for attempt in range(1, self.config.max_passes + 1):
            listing = _Users(
                self.client,
                count=self.config.page_size,
                filter=query,
                sort_by="meta.lastModified" if incremental else None,
            )
            seen: set[str] = set()
            for page in listing.pages():
                users = [u for u in page.records if isinstance(u, dict)]
                managers = self._managers(users)
                for raw in page.records:
                    item = self._item(raw, managers)
                    seen.add(text(raw, "id") if isinstance(raw, dict) else repr(raw))
                    if isinstance(item, Person):
                        stamp = text(raw, "meta", "lastModified")
                        if newest is None or _later(stamp, newest):
                            newest = stamp
                    yield item
            if listing.consistent(len(seen)):
                return newest if incremental else None
            log.warning("scim listing shifted while paging; reading again", attempt=attempt)
        return watermark  # never consistent: keep the old watermark, re-read next run

    def _item(self, raw: Any, managers: Mapping[str, str | None]) -> Item:
        scim_id = text(raw, "id") if isinstance(raw, dict) else ""
        try:
            record = as_record(raw)
            manager_id = value_at(record, "enterprise.manager.value")
            person = self.connector.person(record, managers.get(manager_id))
        except BadValue as exc:
            self.rejected.add(scim_id)
            return Rejected(STREAM, scim_id or "(no id)", f"SCIM Users/{scim_id}", str(exc))
        self.hr_ids[scim_id] = person.hr_id
        if person.status == "active":
            self.ids[scim_id] = person.hr_id
        else:
            self.ids.pop(scim_id, None)
        return person

    def _managers(self, users: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
        """Manager SCIM id -> hr_id for the managers named on a page."""
        hr_path = self.config.fields.hr_id
        wanted = {value_at(u, "enterprise.manager.value") for u in users} - {""}
        for user in users:  # managers on the same page need no query
            if text(user, "id") in wanted:
                self.hr_ids[text(user, "id")] = value_at(user, hr_path) or None
        unknown = sorted(m for m in wanted if m not in self.hr_ids)
        if hr_path == "id":
            self.hr_ids.update({m: m for m in unknown})
            unknown = []
        for start in range(0, len(unknown), _LOOKUP_CHUNK):
            chunk = unknown[start : start + _LOOKUP_CHUNK]
            query = " or ".join(f'id eq "{m}"' for m in chunk)
            listing = _Users(
                self.client, count=len(chunk), filter=query, attributes=("id", scim_path(hr_path))
            )
            for page in listing.pages():
                for raw in page.records:
                    if isinstance(raw, dict):
                        self.hr_ids[text(raw, "id")] = value_at(raw, hr_path) or None
            for missing in chunk:
                if missing not in self.hr_ids:
                    log.warning("scim manager not found; the person's manager stays empty")
                    self.hr_ids[missing] = None
        return {m: self.hr_ids.get(m) for m in wanted}

    def reconcile(self) -> Iterator[Item]:
        """Compare all ids with the map: deleted and deactivated users are closed."""
        listed: dict[str, Mapping[str, Any]] = {}
        for _ in range(self.config.max_passes):
            listing = _Users(
                self.client,
                count=self.config.page_size,
                sort_by="meta.created",
                attributes=("id", "active", "meta.lastModified"),
            )
            listed = {}
            for page in listing.pages():
                listed.update({text(u, "id"): u for u in page.records if isinstance(u, dict)})
            if listing.consistent(len(listed)):
                break
        run_date = self.connector.context.run_date
        for scim_id, hr_id in sorted(self.ids.items()):
            if scim_id in listed:
                continue
            response = self.client.request(
                "GET", f"Users/{scim_id}", params={"attributes": "id,active"}, accept=(404,)
            )
            if response.status_code == 404:
                del self.ids[scim_id]
                yield Deleted("person", hr_id, on=run_date, location=f"SCIM Users/{scim_id}")
            else:  # still there: the listing shifted past it
                listed[scim_id] = as_record(json_body(response))
        for scim_id, raw in sorted(listed.items()):
            active = field(raw, "active") is not False
            if not active and scim_id in self.ids:
                modified = text(raw, "meta", "lastModified")
                on = parse_datetime(modified, "meta.lastModified").date() if modified else run_date
                yield Deleted("person", self.ids.pop(scim_id), on=on)
            elif active and scim_id not in self.ids and scim_id not in self.rejected:
                yield from self._fetch(scim_id)

    def _fetch(self, scim_id: str) -> Iterator[Item]:
        """A user the changed-users passes never returned (e.g. an old record imported)."""
        response = self.client.request("GET", f"Users/{scim_id}", accept=(404,))
        if response.status_code == 404:
            return
        raw = json_body(response)
        managers = self._managers([raw] if isinstance(raw, dict) else [])
        yield self._item(raw, managers)


def _later(a: str, b: str) -> bool:
    try:
        return parse_datetime(a, "a") > parse_datetime(b, "b")
    except BadValue:
        return False
