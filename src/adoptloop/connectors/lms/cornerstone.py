"""Cornerstone OnDemand: Transcript Search in 24-hour modification windows, paged.

- Auth: `POST /services/api/oauth2/token` with a JSON body (`clientId`, `clientSecret`,
  `grantType: client_credentials`, `scope: transcript:read`).
- Transcript Search takes `ModificationStartDate`/`ModificationEndDate` (UTC, at most 24 hours
  apart) and `pageNumber` (at most 50 records a page). The run freezes its upper bound at
  start, walks 24-hour windows from the cursor (or `backfill_days` back) up to it, reads each
  window's pages until a short page, and checkpoints after each window, so an interrupted run
  resumes at the first unfinished window. `lookback_minutes` re-reads a margin.
- The response body is not pinned down publicly for every portal: the records array
  (`records_key`) and the field names (`columns:`) are configurable, defaults below.
- Only transcript statuses in `statuses:` are completions; other statuses (registered, in
  progress, ...) are not completions and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field

from adoptloop.connectors.rest import (
    HttpConnector,
    HttpSourceConfig,
    MalformedPage,
    RestStream,
    as_record,
    json_body,
    records_at,
    require,
    text,
)
from adoptloop.connectors.values import BadValue, parse_datetime, parse_number
from adoptloop.domain import Checkpoint, Completion, CompletionStatus, Item, PersonRef, Rejected
from adoptloop.fields import Secret, Sensitive
from adoptloop.http.auth import OAuth2ClientCredentials
from adoptloop.http.client import RestClient
from adoptloop.mappings.identity import IdentityRule

log = structlog.get_logger(__name__)

STREAM = "completions"
WINDOW = timedelta(hours=24)
_STAMP = "%Y-%m-%dT%H:%M:%S"


class TranscriptColumns(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = "UserId"
    lo_id: str = "LoId"
    title: str = "Title"
    status: str = "Status"
    completed_at: str = "CompletionDate"
    score: str | None = "Score"
    email: str | None = "UserEmail"


class CornerstoneConfig(HttpSourceConfig):
    type: Literal["cornerstone"]
    client_id: Sensitive
    client_secret: Secret
    search_path: str = Field(
        description="Path of the Transcript Search endpoint as your portal's API explorer "
        "shows it (see csod.dev, Transcript Search)"
    )
    records_key: str = "data"
    columns: TranscriptColumns = TranscriptColumns()
    statuses: dict[str, CompletionStatus] = Field(
        default={"Completed": "completed", "Passed": "passed", "Failed": "failed"}
    )
    page_size: int = Field(default=50, ge=1, le=50)
    backfill_days: int = Field(default=30, ge=1, le=3650)
    lookback_minutes: int = Field(default=60, ge=0)
    identity: list[IdentityRule] = Field(
        default=[
            IdentityRule(attribute="UserId", person_field="employee_number"),
            IdentityRule(attribute="UserEmail", person_field="email"),
        ]
    )


class CornerstoneToken(OAuth2ClientCredentials):
    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.token_url,
            json={
                "clientId": self.client_id,
                "clientSecret": self.client_secret.get_secret_value(),
                "grantType": "client_credentials",
                "scope": self.scope or "transcript:read",
            },
        )


class _TranscriptSearch(RestStream):
    def __init__(
        self, client: RestClient, config: CornerstoneConfig, start: datetime, end: datetime
    ) -> None:
        super().__init__(client)
        self.config = config
        self.start = start
        self.end = end

    def url(self, _token: Any) -> str:
        return self.config.search_path

    def params(self, token: Any) -> dict[str, Any]:
        return {
            "ModificationStartDate": self.start.strftime(_STAMP),
            "ModificationEndDate": (self.end - timedelta(seconds=1)).strftime(_STAMP),
            "pageNumber": token or 1,
        }

    def parse_page(self, response: httpx.Response) -> list[Any]:
        return records_at(response, json_body(response), self.config.records_key)

    def next_page(self, _response: httpx.Response, records: Sequence[Any], token: Any) -> Any:
        return (token or 1) + 1 if len(records) >= self.config.page_size else None


class CornerstoneConnector(HttpConnector[CornerstoneConfig]):
    type_name = "cornerstone"
    family = "lms"
    config_class = CornerstoneConfig
    service = "Cornerstone"

    def auth(self) -> httpx.Auth:
        url = f"{self.config.base_url.rstrip('/')}/services/api/oauth2/token"
        return CornerstoneToken(
            url, self.config.client_id, self.config.client_secret, scope="transcript:read"
        )

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        upper = self.now().astimezone(UTC).replace(microsecond=0)
        if cursor:
            start = parse_datetime(cursor, "cursor") - timedelta(
                minutes=self.config.lookback_minutes
            )
        else:
            start = upper - timedelta(days=self.config.backfill_days)
        windows = 0
        with self.client() as client:
            while start < upper:
                windows += 1
                end = min(start + WINDOW, upper)
                try:
                    for page in _TranscriptSearch(client, self.config, start, end).pages():
                        for raw in page.records:
                            item = self._item(raw)
                            if item is not None:
                                yield item
                except MalformedPage as exc:
                    where = f"{exc.where} window {start.strftime(_STAMP)}"
                    yield Rejected(STREAM, f"window {start.strftime(_STAMP)}", where, str(exc))
                    return  # the cursor stays at the last finished window
                yield Checkpoint(STREAM, end.isoformat())
                start = end
        if windows == 0:  # the cursor is already at the frozen upper bound
            yield Checkpoint(STREAM, cursor or upper.isoformat())

    def _item(self, raw: Any) -> Item | None:
        c = self.config.columns
        key = (
            "/".join(text(raw, f) for f in (c.user_id, c.lo_id, c.completed_at))
            if isinstance(raw, Mapping)
            else ""
        )
        try:
            record = as_record(raw)
            status = self.config.statuses.get(require(record, c.status))
            if status is None:
                return None  # registered, in progress, ...: not a completion
            user = require(record, c.user_id)
            attributes = {c.user_id: user}
            if c.email and text(record, c.email):
                attributes["UserEmail"] = text(record, c.email)
            score_text = text(record, c.score) if c.score else ""
            return Completion(
                source_record_id=key,
                learner=PersonRef(self.system, user, attributes),
                module_id=require(record, c.lo_id),
                module_title=text(record, c.title) or None,
                status=status,
                completed_at=parse_datetime(require(record, c.completed_at), c.completed_at),
                score=parse_number(score_text, c.score or "") if score_text else None,
                location=f"Cornerstone transcript {key}",
            )
        except BadValue as exc:
            return Rejected(STREAM, key or "(no key)", "Cornerstone transcript", str(exc))
