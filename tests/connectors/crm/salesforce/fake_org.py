"""A fake Salesforce org served through `responses` (simple-salesforce speaks `requests`).

It keeps records per object with real SystemModstamp semantics (every write stamps the org's
clock), a recycle bin (IsDeleted, seen by queryAll only) and a delete log for hard deletes;
it evaluates the SOQL it receives (see soql.py), pages REST results through nextRecordsUrl,
runs Bulk API 2.0 query jobs paged by Sforce-Locator, reports `Sforce-Limit-Info` on every
answer, and can expire sessions, run out of API budget, time out queries or fail with 503.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import responses

from tests.connectors.crm.salesforce import payloads, soql

INSTANCE = "https://acme.my.salesforce.com"
Record = dict[str, Any]


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class _Job:
    rows: list[Record]
    fields: list[str]
    polls_left: int


@dataclass
class FakeOrg:
    now: datetime
    version: str = "62.0"
    page_size: int = 2000
    api_limit: int = 15_000
    jwt_public_key: Any = None
    client_id: str = "3MVG9fakeConsumerKey"
    client_secret: str = "fake-consumer-secret-0123456789"
    username: str = "integration@acme.example"
    password: str = "correct horse"
    security_token: str = "TOKEN123"
    tables: dict[str, dict[str, Record]] = field(default_factory=dict)
    api_used: int = 0
    log: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, soql/params
    logins: list[str] = field(default_factory=list)  # grant types, in order
    tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)
    delete_log: list[tuple[str, str, datetime]] = field(default_factory=list)
    expire_after_calls: int | None = None
    expire_at: str | None = None  # sessions expire at the first call whose path contains it
    fail_next: list[int] = field(default_factory=list)  # statuses of the next failing calls
    query_timeout_over: timedelta | None = None
    job_polls: int = 1  # "InProgress" answers before a job completes
    # another base URL that serves the token endpoint and the data API (a proxy, a test org
    # on 127.0.0.1); a token it grants names it as the instance
    served_at: str | None = None
    credentials_revoked: bool = False  # the token endpoint refuses every grant (invalid_grant)
    # records sent per object (REST pages and Bulk result pages), to see what is read twice
    transferred: Counter[str] = field(default_factory=Counter)
    dropped_fields: dict[str, set[str]] = field(default_factory=dict)
    schema_changes: dict[str, datetime] = field(default_factory=dict)  # object ("" = org) -> when
    # every HTTP request the org received, logins included: (method, path)
    requests: list[tuple[str, str]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # the data API's request URLs as sent
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # a queryMore of the next query whose SOQL contains this answers INVALID_QUERY_LOCATOR
    expire_locator_of: str | None = None
    _cursors: dict[str, list[Record]] = field(default_factory=dict)
    _cursor_queries: dict[str, str] = field(default_factory=dict)
    _jobs: dict[str, _Job] = field(default_factory=dict)

    # --- data ------------------------------------------------------------------------------

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def new_id(self, sobject: str) -> str:
        return f"{payloads.PREFIXES[sobject]}5g0000{next(self._ids):06d}AAA"

    def insert(self, sobject: str, **values: Any) -> str:
        record_id = str(values.pop("Id", None) or self.new_id(sobject))
        record: Record = dict.fromkeys(payloads.OBJECTS[sobject])
        record.update(Id=record_id, **values)
        if "IsDeleted" in record:
            record["IsDeleted"] = False
        self.tables.setdefault(sobject, {})[record_id] = record
        self._touch(record)
        return record_id

    def update(self, sobject: str, record_id: str, **values: Any) -> None:
        record = self.tables[sobject][record_id]
        record.update(values)
        self._touch(record)

    def soft_delete(self, sobject: str, record_id: str) -> None:
        """To the recycle bin: queryAll still returns it, with IsDeleted = true."""
        self.update(sobject, record_id, IsDeleted=True)

    def hard_delete(self, sobject: str, record_id: str) -> None:
        """Gone (recycle bin emptied): only the deleted-records endpoint still knows it."""
        del self.tables[sobject][record_id]
        self.delete_log.append((sobject, record_id, self.now))

    def purge(self, sobject: str, record_id: str) -> None:
        """Gone without a trace: deleted so long ago that the delete log no longer lists it
        (Salesforce keeps it for about 15 days), as a full resync finds it."""
        del self.tables[sobject][record_id]

    def _touch(self, record: Record) -> None:
        record["SystemModstamp"] = stamp(self.now)
        if "LastModifiedDate" in record:
            record["LastModifiedDate"] = stamp(self.now)

    def load(self, folder: Path) -> dict[str, int]:
        """Records as `bench.synthetic` writes them (`<SObject>.jsonl`, one per line),
        their SystemModstamp kept: a whole synthetic org, not stamped by this org's clock."""
        counts: dict[str, int] = {}
        for path in sorted(folder.glob("*.jsonl")):
            sobject = path.stem
            fields = payloads.OBJECTS[sobject]
            table = self.tables.setdefault(sobject, {})
            with path.open("rb") as fh:
                for line in fh:
                    record: Record = dict.fromkeys(fields)
                    record.update(json.loads(line))
                    table[str(record["Id"])] = record
            counts[sobject] = len(table)
        return counts

    def get(self, record_id: str) -> Record | None:
        for table in self.tables.values():
            if record_id in table:
                return table[record_id]
        return None

    def expire_sessions(self) -> None:
        self.tokens.clear()

    # --- metadata ----------------------------------------------------------------------------

    def describe(self, sobject: str) -> dict[str, Any]:
        described = payloads.describe(sobject, self.version)
        gone = self.dropped_fields.get(sobject, set())
        described["fields"] = [f for f in described["fields"] if f["name"] not in gone]
        return described

    def drop_field(self, sobject: str, name: str) -> None:
        """An admin deletes a field (or hides it with field-level security)."""
        self.dropped_fields.setdefault(sobject, set()).add(name)
        self.schema_changes[sobject] = self.now

    def change_metadata(self, sobject: str | None = None) -> None:
        """A metadata change that leaves the configured fields alone: on one object (a new
        field), or org-wide (a profile or a label) when `sobject` is None."""
        self.schema_changes[sobject or ""] = self.now

    def metadata_modified(self, sobject: str | None = None) -> datetime | None:
        """When the metadata an If-Modified-Since describe asks about last changed: one
        object's (and org-wide changes), or for describe-global any object's."""
        keys = [k for k in self.schema_changes if sobject is None or k in (sobject, "")]
        return max((self.schema_changes[k] for k in keys), default=None)

    # --- SOQL --------------------------------------------------------------------------------

    def _resolve(self, sobject: str) -> Callable[[Record, str], Any]:
        def resolve(record: Record, path: str) -> Any:
            head, _, rest = path.partition(".")
            if not rest:
                return record.get(head)
            kinds = payloads.OBJECTS[sobject]
            lookup = next((name for name, (_, rel) in kinds.items() if rel == head), None)
            target = self.get(str(record.get(lookup))) if lookup and record.get(lookup) else None
            if target is None:
                return None
            target_type = next(t for t, rows in self.tables.items() if target["Id"] in rows)
            return self._resolve(target_type)(target, rest)

        return resolve

    def _candidates(self, sobject: str, where: Any) -> Iterable[Record]:  # noqa: ARG002
        """The rows the WHERE clause may match (all of them here; bench's scale org narrows
        them with indexes)."""
        return self.tables.get(sobject, {}).values()

    def run(self, text: str, *, include_deleted: bool) -> tuple[soql.Query, list[Record]]:
        query = soql.parse(text)
        resolve = self._resolve(query.sobject)
        rows = [
            r
            for r in self._candidates(query.sobject, query.where)
            if (include_deleted or not r.get("IsDeleted")) and soql.matches(query.where, r, resolve)
        ]
        for key in reversed(query.order):  # NULLs first, as Salesforce sorts ascending

            def order(record: Record, field: str = key) -> tuple[bool, str]:
                value = resolve(record, field)
                return (value is not None, str(value or ""))

            rows.sort(key=order)
        return query, rows

    def render(self, query: soql.Query, record: Record) -> Record:
        """A record as the REST API returns it: selected fields, relationships nested."""
        resolve = self._resolve(query.sobject)
        out: Record = {
            "attributes": {
                "type": query.sobject,
                "url": f"/services/data/v{self.version}/sobjects/{query.sobject}/{record['Id']}",
            }
        }
        for name in query.fields:
            if "." not in name:
                out[name] = record.get(name)
                continue
            head, _, rest = name.partition(".")
            value = resolve(record, name)
            holder = out.setdefault(head, {"attributes": {"type": head}})
            if value is None and resolve(record, head + ".Id") is None:
                out[head] = None
            elif isinstance(holder, dict):
                holder[rest] = value
        return out

    def span_too_long(self, query: soql.Query) -> bool:
        if self.query_timeout_over is None:
            return False
        lowers: list[datetime] = []
        uppers: list[datetime] = []

        def walk(node: Any) -> None:
            if node is None:
                return
            if node[0] in ("and", "or"):
                walk(node[1])
                walk(node[2])
            elif node[0] == "cmp" and node[1] == "SystemModstamp" and isinstance(node[3], datetime):
                (uppers if node[2] in ("<", "<=") else lowers).append(node[3])

        walk(query.where)
        if not uppers:
            return False
        return not lowers or max(uppers) - min(lowers) > self.query_timeout_over

    # --- serving -----------------------------------------------------------------------------

    def install(self, mock: responses.RequestsMock) -> None:
        from tests.connectors.crm.salesforce import fake_api

        fake_api.install(self, mock)

    def issue_token(self, grant: str) -> str:
        self.logins.append(grant)
        token = f"00D5g000004ACME!AQ{len(self.issued):04d}.fake-access-token-{grant}"
        self.issued.append(token)
        self.tokens.add(token)
        return token

    def cursor(self, rows: list[Record], text: str = "") -> str:
        key = f"01g5g0000{len(self._cursors):06d}"
        self._cursors[key] = rows
        self._cursor_queries[key] = text
        return key

    def locator_expired(self, key: str) -> bool:
        """Whether a queryMore on `key` answers INVALID_QUERY_LOCATOR: the cursor is gone, or
        it belongs to a query containing `expire_locator_of` (once: the text is then cleared)."""
        if key not in self._cursors:
            return True
        if self.expire_locator_of and self.expire_locator_of in self._cursor_queries[key]:
            self.expire_locator_of = None
            del self._cursors[key]
            return True
        return False

    def page(self, key: str, offset: int, size: int) -> dict[str, Any]:
        rows = self._cursors[key]
        chunk = rows[offset : offset + size]
        self.transferred.update(r["attributes"]["type"] for r in chunk)
        done = offset + size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{key}-{offset + size}"
        return body

    def invalidate_cursors(self) -> None:
        self._cursors.clear()

    def create_job(self, text: str) -> str:
        query, rows = self.run(text, include_deleted=True)
        job_id = f"7505g0000{len(self._jobs):06d}AAA"
        self._jobs[job_id] = _Job(
            [self.render(query, r) for r in rows], query.fields, self.job_polls
        )
        return job_id

    def job(self, job_id: str) -> _Job | None:
        return self._jobs.get(job_id)

    def expire_jobs(self) -> None:
        self._jobs.clear()

    def job_csv(self, job: _Job, offset: int, size: int) -> tuple[str, str | None, int]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(job.fields)
        chunk = job.rows[offset : offset + size]
        self.transferred.update(r["attributes"]["type"] for r in chunk)
        for row in chunk:
            writer.writerow([_cell(_dig(row, f)) for f in job.fields])
        following = offset + size
        locator = base64.b64encode(str(following).encode()).decode().rstrip("=")
        return out.getvalue(), (locator if following < len(job.rows) else None), len(chunk)

    def check_jwt(self, assertion: str) -> bool:
        try:
            claims = jwt.decode(
                assertion,
                self.jwt_public_key,
                algorithms=["RS256"],
                audience="https://login.salesforce.com",
            )
        except jwt.PyJWTError:
            return False
        return bool(claims.get("iss") == self.client_id and claims.get("sub") == self.username)

    def deleted_between(self, sobject: str, start: datetime, end: datetime) -> list[dict[str, str]]:
        return [
            {"id": rid, "deletedDate": stamp(when)}
            for obj, rid, when in self.delete_log
            if obj == sobject and start <= when < end
        ]

    def json_body(self, body: Any) -> str:
        return json.dumps(body)


def _dig(row: Record, path: str) -> Any:
    node: Any = row
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_string(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
