"""SAP SuccessFactors Learning: learning history over OData v4, write-back as external events.

- Auth: OAuth token from `/learning/oauth-api/rest/v1/token` (HTTP Basic client id and
  secret, a JSON body whose `scope` names the company, the admin user and the API), reused
  until it expires and renewed once on a 401.
- Read: `learninghistorys?$filter=criteria/targetUserID eq '<student>'`, paged with
  `$top`/`$skip`/`$count=true` (`@odata.count` + `value`). SAP documents this entity for one
  student at a time (its filter accepts `eq` only), so the connector reads the students of
  `students:`/`students_file:`. The cursor keeps each student's latest completion date;
  `lookback_days` re-reads a margin for late-recorded items.
- Write-back: `ExternalLearningEvents`, at most 10 events per call (SAP KBA 2421887). Each
  event's description ends with the record's reference tag (`adoptloop:<hash of the key>`);
  before writing, the student's learning history is searched for that tag, so a retry after
  a crash between sending and recording finds it and answers "already-present".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field

from adoptloop.connectors.base import SupportsWriteBack
from adoptloop.connectors.lms.writeback import reference
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
from adoptloop.connectors.state import pack_state, unpack_state
from adoptloop.connectors.values import BadValue
from adoptloop.domain import (
    Checkpoint,
    Completion,
    Item,
    PersonRef,
    Rejected,
    Skipped,
    TranscriptRecord,
    shown,
)
from adoptloop.domain import WriteBackResult as Result
from adoptloop.errors import FatalSyncError
from adoptloop.fields import IGNORE, ExistingPath, Secret, Sensitive, StatusChoice, TimeZone
from adoptloop.http.auth import OAuth2ClientCredentials
from adoptloop.http.client import RestClient, short
from adoptloop.mappings.identity import IdentityRule

STREAM = "completions"
TOKEN_PATH = "learning/oauth-api/rest/v1/token"  # noqa: S105 - a path, not a secret
HISTORY_PATH = "learning/odatav4/public/user/userlearning-service/v1/learninghistorys"
EVENTS_PATH = "learning/odatav4/public/admin/learningevent-service/v1/ExternalLearningEvents"
MAX_EVENTS_PER_CALL = 10


class SuccessFactorsConfig(HttpSourceConfig):
    type: Literal["successfactors"]
    company_id: str
    client_id: Sensitive
    client_secret: Secret
    admin_user: str = Field(description="The admin user the OAuth token acts as")
    students: list[str] = Field(default_factory=list, description="Student IDs to read")
    students_file: ExistingPath | None = Field(
        default=None, description="A file with one student ID per line (# comments allowed)"
    )
    statuses: dict[str, StatusChoice] = Field(
        default={"COMPLETE": "completed", "PASSED": "passed", "FAILED": "failed"},
        description="completionStatusID values -> completed, passed, failed, or ignore (read "
        "and not used, e.g. an incomplete status); a value not listed is quarantined",
    )
    lookback_days: int = Field(default=7, ge=0)
    identity: list[IdentityRule] = Field(
        default=[IdentityRule(attribute="studentID", person_field="hr_id")],
        description="How a student is matched to an HR record, tried in order",
    )
    write_back_timezone: TimeZone = Field(
        default="UTC", description="completionTimeZoneID of written events (an IANA zone)"
    )


class SapLearningToken(OAuth2ClientCredentials):
    """SAP's variant: JSON body with a structured scope, client id and secret as Basic."""

    def __init__(self, config: SuccessFactorsConfig) -> None:
        base = config.base_url.rstrip("/")
        super().__init__(f"{base}/{TOKEN_PATH}", config.client_id, config.client_secret)
        self.scope_body = {
            "userId": config.admin_user,
            "companyId": config.company_id,
            "userType": "admin",
            "resourceType": "learning_public_api",
        }

    def token_request(self) -> httpx.Request:
        request = httpx.Request(
            "POST",
            self.token_url,
            json={"grant_type": "client_credentials", "scope": self.scope_body},
        )
        basic = httpx.BasicAuth(self.client_id, self.client_secret.get_secret_value())
        return next(basic.auth_flow(request))


class _History(RestStream):
    path = HISTORY_PATH

    def __init__(self, client: RestClient, student: str, page_size: int) -> None:
        super().__init__(client)
        self.student = student
        self.page_size = page_size
        self._count = 0

    def params(self, token: Any) -> dict[str, Any]:
        escaped = self.student.replace("'", "''")
        return {
            "$filter": f"criteria/targetUserID eq '{escaped}'",
            "$top": self.page_size,
            "$skip": token or 0,
            "$count": "true",
        }

    def parse_page(self, response: httpx.Response) -> list[Any]:
        body = json_body(response)
        values = records_at(response, body, "value")
        count = body.get("@odata.count")
        self._count = count if isinstance(count, int) else 0
        return values

    def next_page(self, _response: httpx.Response, records: Sequence[Any], token: Any) -> Any:
        following = (token or 0) + len(records)
        return following if records and following < self._count else None


def _epoch_ms(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"{name}: {shown(value)} is not a time in epoch milliseconds")
    return datetime.fromtimestamp(value / 1000, UTC)


class SuccessFactorsConnector(HttpConnector[SuccessFactorsConfig], SupportsWriteBack):
    type_name = "successfactors"
    family = "lms"
    config_class = SuccessFactorsConfig
    service = "SuccessFactors Learning"

    def auth(self) -> httpx.Auth:
        return SapLearningToken(self.config)

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def students(self) -> list[str]:
        found = list(self.config.students)
        if self.config.students_file is not None:
            lines = self.config.students_file.read_text(encoding="utf-8").splitlines()
            found += [s.strip() for s in lines if s.strip() and not s.startswith("#")]
        return sorted(set(found))

    # --- reading ---------------------------------------------------------------------------

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        marks: dict[str, int] = dict(unpack_state(cursor).get("students", {}))
        lookback = int(timedelta(days=self.config.lookback_days).total_seconds() * 1000)
        with self.client() as client:
            for student in self.students():
                since = marks.get(student)
                try:
                    for page in _History(client, student, self.config.page_size).pages():
                        for raw in page.records:
                            item = self._item(student, raw)
                            when = raw.get("completionDate") if isinstance(raw, dict) else None
                            if isinstance(item, Completion) and isinstance(when, int):
                                if since is not None and when <= since - lookback:
                                    continue
                                marks[student] = max(marks.get(student, when), when)
                            yield item
                except MalformedPage as exc:
                    yield Rejected(STREAM, f"student {student}", exc.where, str(exc))
                    return  # no checkpoint: the cursor stays where it was
        yield Checkpoint(STREAM, pack_state({"students": marks}))

    def _item(self, student: str, raw: Any) -> Item:
        key = f"{student}/{text(raw, 'componentTypeID')}/{text(raw, 'componentID')}/" + text(
            raw, "completionDate"
        )
        try:
            record = as_record(raw)
            status = self._status(require(record, "completionStatusID"))
            if status == IGNORE:
                return Skipped(STREAM, key, "completionStatusID is ignored (statuses:)")
            return Completion(
                source_record_id=key,
                learner=PersonRef(self.system, student, {"studentID": student}),
                module_id=require(record, "componentID"),
                module_title=text(record, "title") or None,
                status=status,
                completed_at=_epoch_ms(record.get("completionDate"), "completionDate"),
                score=None,
                location=f"SuccessFactors learning history of {student}",
            )
        except BadValue as exc:
            return Rejected(STREAM, key, f"SuccessFactors learning history of {student}", str(exc))

    def _status(self, status_id: str) -> StatusChoice:
        status = self.config.statuses.get(status_id)
        if status is None:
            raise BadValue(
                f"completionStatusID {status_id!r} is not one of "  # an API code, not free text
                f"{', '.join(self.config.statuses)} (map it under statuses:, "
                "to completed, passed, failed or ignore)"
            )
        return status

    # --- write-back ------------------------------------------------------------------------

    def _history_text(self, client: RestClient, student: str) -> str:
        """Every string of the student's learning history, to look for reference tags."""
        parts: list[str] = []
        for page in _History(client, student, 100).pages():
            for raw in page.records:
                if isinstance(raw, dict):
                    parts += [v for v in raw.values() if isinstance(v, str)]
        return "\n".join(parts)

    def event(self, record: TranscriptRecord) -> dict[str, Any]:
        zone = ZoneInfo(self.config.write_back_timezone)
        noon = datetime.combine(record.observed_on, time(12), tzinfo=zone)
        return {
            "description": f"{record.title} [{reference(record)}]",
            "studentID": record.lms_user_id,
            "completionDate": int(noon.timestamp() * 1000),
            "completionTimeZoneID": self.config.write_back_timezone,
            "grade": "Pass",
            "creditHours": 0,
            "totalHours": 0,
            "comments": f"Recorded by adoptloop ({record.state}); {reference(record)}",
        }

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[Result]:
        results: dict[str, Result] = {}
        pending: list[TranscriptRecord] = []
        with self.client() as client:
            histories: dict[str, str] = {}
            for record in records:
                student = record.lms_user_id
                if student not in histories:
                    histories[student] = self._history_text(client, student)
                tag = reference(record)
                if tag in histories[student]:
                    results[record.key] = Result(record.key, "already-present", tag, "found")
                elif dry_run:
                    event = self.event(record)
                    detail = f"would post {event['description']!r} dated {record.observed_on}"
                    results[record.key] = Result(record.key, "would-write", tag, detail)
                else:
                    pending.append(record)
            for start in range(0, len(pending), MAX_EVENTS_PER_CALL):
                batch = pending[start : start + MAX_EVENTS_PER_CALL]
                results.update(self._post(client, batch))
        return [results[r.key] for r in records if r.key in results]

    def _post(self, client: RestClient, batch: Sequence[TranscriptRecord]) -> dict[str, Result]:
        body = {"externalLearningEvents": [self.event(r) for r in batch]}
        try:
            response = client.request("POST", EVENTS_PATH, json=body, accept=(400, 404, 422))
        except FatalSyncError as exc:
            if exc.__class__ is not FatalSyncError:  # auth and malformed answers stop the run
                raise
            return {r.key: Result(r.key, "failed", None, short(str(exc))) for r in batch}
        if response.status_code >= 400:
            detail = short(f"HTTP {response.status_code}: {response.text}")
            return {r.key: Result(r.key, "failed", None, detail) for r in batch}
        answer = short(response.text or f"HTTP {response.status_code}", 200)
        return {r.key: Result(r.key, "written", reference(r), answer) for r in batch}
