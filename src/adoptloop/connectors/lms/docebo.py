"""Docebo: course enrollments with their completion status, paged.

- Auth: OAuth 2.0 client credentials at `/oauth2/token` (client id and secret in the form).
- `GET /learn/v1/enrollments?status[]=completed&page=N&page_size=M`: the records are under
  `data.items`; `data.has_more_data` says whether another page follows.
- Docebo filters enrollments by status but not by completion date, so the cursor is the
  latest completion date read and older enrollments (less `lookback_days`) are skipped.
- Item field names differ between Docebo versions: `columns:` maps them (defaults below).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

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
from adoptloop.connectors.values import BadValue, parse_datetime, parse_number
from adoptloop.domain import Checkpoint, Completion, CompletionStatus, Item, PersonRef, Rejected
from adoptloop.fields import Secret, Sensitive
from adoptloop.http.auth import OAuth2ClientCredentials
from adoptloop.mappings.identity import IdentityRule

STREAM = "completions"


class EnrollmentColumns(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = "id_user"
    course_id: str = "id_course"
    course_name: str | None = "course_name"
    status: str = "status"
    completed_at: str = "course_complete_date"
    score: str | None = "score"
    user_attributes: list[str] = Field(
        default=["username", "email"], description="Item fields the identity rules may use"
    )


class DoceboConfig(HttpSourceConfig):
    type: Literal["docebo"]
    client_id: Sensitive
    client_secret: Secret
    columns: EnrollmentColumns = EnrollmentColumns()
    statuses: dict[str, CompletionStatus] = Field(default={"completed": "completed"})
    lookback_days: int = Field(default=1, ge=0)
    identity: list[IdentityRule] = Field(
        default=[
            IdentityRule(attribute="email", person_field="email"),
            IdentityRule(attribute="username", person_field="email"),
        ]
    )


class DoceboToken(OAuth2ClientCredentials):
    def token_request(self) -> httpx.Request:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
            "scope": self.scope or "api",
        }
        return httpx.Request("POST", self.token_url, data=data)


class _Enrollments(RestStream):
    path = "learn/v1/enrollments"

    def __init__(self, client: Any, config: DoceboConfig) -> None:
        super().__init__(client)
        self.config = config
        self._more = False

    def params(self, token: Any) -> dict[str, Any]:
        return {
            "status[]": sorted(self.config.statuses),
            "page": token or 1,
            "page_size": self.config.page_size,
        }

    def parse_page(self, response: httpx.Response) -> list[Any]:
        body = json_body(response)
        items = records_at(response, body, "data", "items")
        self._more = field(body, "data", "has_more_data") is True
        return items

    def next_page(self, _response: httpx.Response, records: Sequence[Any], token: Any) -> Any:
        return (token or 1) + 1 if self._more and records else None


class DoceboConnector(HttpConnector[DoceboConfig]):
    type_name = "docebo"
    family = "lms"
    config_class = DoceboConfig
    service = "Docebo"

    def auth(self) -> httpx.Auth:
        url = f"{self.config.base_url.rstrip('/')}/oauth2/token"
        return DoceboToken(url, self.config.client_id, self.config.client_secret)

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        watermark = parse_datetime(cursor, "cursor") if cursor else None
        since = watermark - timedelta(days=self.config.lookback_days) if watermark else None
        newest = watermark
        with self.client() as client:
            try:
                for page in _Enrollments(client, self.config).pages():
                    for raw in page.records:
                        item = self._item(raw)
                        if isinstance(item, Completion):
                            if since is not None and item.completed_at <= since:
                                continue
                            if newest is None or item.completed_at > newest:
                                newest = item.completed_at
                        if item is not None:
                            yield item
            except MalformedPage as exc:
                yield Rejected(STREAM, "page", exc.where, str(exc))
                return  # no checkpoint: the next run starts again from the stored cursor
        stamp = newest.astimezone(UTC).isoformat() if newest else ""
        yield Checkpoint(STREAM, stamp)

    def _item(self, raw: Any) -> Item | None:
        c = self.config.columns
        key = f"{text(raw, c.user_id)}/{text(raw, c.course_id)}" if isinstance(raw, Mapping) else ""
        try:
            record = as_record(raw)
            status = self.config.statuses.get(require(record, c.status).lower())
            if status is None:
                return None
            user = require(record, c.user_id)
            attributes = {a: text(record, a) for a in c.user_attributes if text(record, a)}
            score_text = text(record, c.score) if c.score else ""
            completed_at: datetime = parse_datetime(require(record, c.completed_at), c.completed_at)
            return Completion(
                source_record_id=key,
                learner=PersonRef(self.system, user, attributes),
                module_id=require(record, c.course_id),
                module_title=(text(record, c.course_name) or None) if c.course_name else None,
                status=status,
                completed_at=completed_at,
                score=parse_number(score_text, c.score or "") if score_text else None,
                location=f"Docebo enrollment {key}",
            )
        except BadValue as exc:
            return Rejected(STREAM, key or "(no key)", f"Docebo enrollment {key}", str(exc))
