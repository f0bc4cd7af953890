"""`xapi-lrs`: completions read from an LRS, for LMSs that already emit xAPI (or cmi5).

Reads statements with the configured verbs (completed, passed, failed by default), oldest
`stored` first, from the `stored` watermark of the last run (`since` is exclusive, so
nothing is read twice), following `more` links. A voiding statement in the feed becomes a
tombstone for the completion it voids. Statements adoptloop made itself (they carry its
version extension) are skipped, so pointing this at the delivery LRS cannot loop.

The learner is identified by the actor: `account.name` (with its homePage) or the `mbox`
address, matched to HR records by the `identity` rules (attributes `account_name`, `mbox`).

The statements are read with the HTTP kit (`StatementsStream`, a `RestStream`); the verbs are
recognised by their ADL IRIs, declared here: a connector knows no xAPI package.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

import httpx
import orjson
from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig
from adoptloop.connectors.rest import MalformedPage, RestStream, json_body
from adoptloop.domain import (
    Checkpoint,
    Completion,
    CompletionStatus,
    Deleted,
    Item,
    PersonRef,
    Rejected,
)
from adoptloop.fields import LRSSettings
from adoptloop.http.auth import basic_or_client_credentials
from adoptloop.http.client import RestClient, where
from adoptloop.mappings.identity import IdentityRule

COMPLETED: Final = "http://adlnet.gov/expapi/verbs/completed"
PASSED: Final = "http://adlnet.gov/expapi/verbs/passed"
FAILED: Final = "http://adlnet.gov/expapi/verbs/failed"
VOIDED: Final = "http://adlnet.gov/expapi/verbs/voided"
XAPI_VERSION: Final = "1.0.3"  # the X-Experience-API-Version header of every request
PAGE_SIZE: Final = 500  # statements per page (`limit`)
_OWN_EXTENSION: Final = "/extensions/adoptloop-version"  # what adoptloop stamps on its own


class XapiSourceConfig(ConnectorConfig):
    type: Literal["xapi-lrs"]
    lrs: LRSSettings
    verbs: dict[str, CompletionStatus] = Field(
        default={COMPLETED: "completed", PASSED: "passed", FAILED: "failed"},
        description="Verb IRI -> completion status; statements with other verbs are ignored",
    )
    activity_types: list[str] = Field(
        default=[],
        description="Only objects of these activity types (empty: any), e.g. the course type",
    )
    identity: list[IdentityRule] = Field(
        default=[IdentityRule(attribute="mbox", person_field="email")],
        description="How an actor is matched to an HR record: attributes mbox, account_name",
    )
    language: str = "en-US"


class StatementsStream(RestStream):
    """GET statements?verb=...&since=..., oldest `stored` first, following every `more` link.

    A `more` link is relative to the LRS's origin (or absolute); the stream stops at the
    first page without one, or at a link it has already followed.
    """

    path = "statements"

    def __init__(
        self,
        client: RestClient,
        endpoint: str,
        *,
        verb: str,
        since: str | None,
        limit: int = PAGE_SIZE,
    ) -> None:
        super().__init__(client)
        self._base = httpx.URL(endpoint.rstrip("/") + "/")
        self._query = {"limit": str(limit), "ascending": "true"}
        if since is not None:
            self._query["since"] = since
        self._query["verb"] = verb
        self._followed: set[str] = set()

    def url(self, token: Any) -> str:
        return self.path if token is None else str(self._base.join(token))

    def params(self, token: Any) -> dict[str, Any] | None:
        return dict(self._query) if token is None else None  # a `more` link has its query

    def parse_page(self, response: httpx.Response) -> list[Any]:
        statements = self._body(response).get("statements") or []
        if not isinstance(statements, list):
            raise MalformedPage("statements is not an array", where=where(response.request))
        return statements

    def next_page(self, response: httpx.Response, _records: Sequence[Any], _token: Any) -> Any:
        more = self._body(response).get("more") or ""
        if not isinstance(more, str) or not more or more in self._followed:
            return None
        self._followed.add(more)
        return more

    @staticmethod
    def _body(response: httpx.Response) -> Mapping[str, Any]:
        body = json_body(response)
        if not isinstance(body, dict):
            raise MalformedPage("expected a StatementResult object", where=where(response.request))
        return body


class XapiSourceConnector(Connector[XapiSourceConfig]):
    type_name = "xapi-lrs"
    family = "lms"
    config_class = XapiSourceConfig

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return ("completions",)

    def client(self) -> RestClient:
        """Retries bounded by `lrs.max_retry_seconds` of wall-clock time, like delivery's."""
        lrs = self.config.lrs
        return RestClient(
            lrs.endpoint,
            service=f"LRS ({self.name})",
            auth=basic_or_client_credentials(lrs),
            headers={"X-Experience-API-Version": XAPI_VERSION},
            timeout=lrs.timeout_seconds,
            verify=lrs.verify_tls,
            max_attempts=None,
            max_retry_seconds=None,
            max_elapsed_seconds=lrs.max_retry_seconds,
        )

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        watermarks: dict[str, str] = orjson.loads(cursor) if cursor else {}
        endpoint = self.config.lrs.endpoint
        with self.client() as client:
            for verb in [*self.config.verbs, VOIDED]:
                last = watermarks.get(verb)
                pages = StatementsStream(client, endpoint, verb=verb, since=last).pages()
                for statement in (s for page in pages for s in page.records):
                    stored = statement.get("stored")
                    item = self._item(stream, statement)
                    if item is not None:
                        yield item
                    if isinstance(stored, str) and (last is None or stored > last):
                        last = stored
                if last is not None:
                    watermarks[verb] = last
                    yield Checkpoint(
                        stream, orjson.dumps(watermarks, option=orjson.OPT_SORT_KEYS).decode()
                    )
        yield Checkpoint(stream, orjson.dumps(watermarks, option=orjson.OPT_SORT_KEYS).decode())

    def _item(self, stream: str, statement: Mapping[str, Any]) -> Item | None:
        statement_id = str(statement.get("id", ""))
        location = f"statement {statement_id}"
        if _is_own(statement):
            return None
        verb = statement.get("verb", {}).get("id")
        target = statement.get("object", {})
        if verb == VOIDED:
            if target.get("objectType") == "StatementRef" and target.get("id"):
                return Deleted("completion", str(target["id"]), location=location)
            return None
        status = self.config.verbs.get(str(verb))
        if status is None:
            return None
        definition = target.get("definition") or {}
        if self.config.activity_types and definition.get("type") not in self.config.activity_types:
            return None
        learner = _learner(self.system, statement.get("actor") or {})
        if learner is None:
            return Rejected(
                stream, statement_id, location, "the actor has neither account nor mbox"
            )
        try:
            completed_at = datetime.fromisoformat(
                str(statement.get("timestamp", "")).replace("Z", "+00:00")
            )
        except ValueError:
            return Rejected(
                stream, statement_id, location, "timestamp is not an ISO 8601 date-time"
            )
        names = definition.get("name") or {}
        title = names.get(self.config.language) or next(iter(names.values()), None)
        return Completion(
            source_record_id=statement_id,
            learner=learner,
            module_id=str(target.get("id", "")),
            module_title=title if isinstance(title, str) else None,
            status=status,
            completed_at=completed_at,
            score=_score(statement.get("result") or {}),
            location=location,
        )


def _is_own(statement: Mapping[str, Any]) -> bool:
    extensions = (statement.get("context") or {}).get("extensions") or {}
    return any(str(key).endswith(_OWN_EXTENSION) for key in extensions)


def _learner(system: str, actor: Mapping[str, Any]) -> PersonRef | None:
    account = actor.get("account") or {}
    mbox = str(actor.get("mbox", "")).removeprefix("mailto:").lower()
    attributes = {}
    if mbox:
        attributes["mbox"] = mbox
    if account.get("name"):
        attributes["account_name"] = str(account["name"])
    if not attributes:
        return None
    external = f"{account.get('homePage', '')}|{account['name']}" if account.get("name") else mbox
    return PersonRef(system, external, attributes)


def _score(result: Mapping[str, Any]) -> float | None:
    score = result.get("score") or {}
    if isinstance(score.get("scaled"), int | float):
        return max(0.0, min(100.0, round(100 * float(score["scaled"]), 2)))
    raw, low, high = score.get("raw"), score.get("min"), score.get("max")
    if (
        isinstance(raw, int | float)
        and isinstance(low, int | float)
        and isinstance(high, int | float)
    ) and high > low:
        return round(100 * (float(raw) - float(low)) / (float(high) - float(low)), 2)
    return None
