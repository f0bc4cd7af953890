"""`xapi-lrs`: completions read from an LRS, for LMSs that already emit xAPI (or cmi5).

Reads statements with the configured verbs (completed, passed, failed by default), oldest
`stored` first, from the `stored` watermark of the last run (`since` is exclusive, so
nothing is read twice), following `more` links. A voiding statement in the feed becomes a
tombstone for the completion it voids. Statements adoptloop made itself (they carry its
version extension) are skipped, so pointing this at the delivery LRS cannot loop.

The learner is identified by the actor: `account.name` (with its homePage) or the `mbox`
address, matched to HR records by the `identity` rules (attributes `account_name`, `mbox`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import httpx
import orjson
from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig
from adoptloop.domain import (
    Checkpoint,
    Completion,
    CompletionStatus,
    Deleted,
    Item,
    PersonRef,
    Rejected,
)
from adoptloop.mappings.identity import IdentityRule
from adoptloop.settings.model import LRSSettings
from adoptloop.xapi import vocab
from adoptloop.xapi.lrs import LRSClient

_OWN_EXTENSION = "/extensions/" + vocab.EXT_VERSION


class XapiSourceConfig(ConnectorConfig):
    type: Literal["xapi-lrs"]
    lrs: LRSSettings
    verbs: dict[str, CompletionStatus] = Field(
        default={
            vocab.COMPLETED.id: "completed",
            vocab.PASSED.id: "passed",
            vocab.FAILED.id: "failed",
        },
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


class XapiSourceConnector(Connector[XapiSourceConfig]):
    type_name = "xapi-lrs"
    family = "lms"
    config_class = XapiSourceConfig

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return ("completions",)

    def client(self) -> LRSClient:
        lrs = self.config.lrs
        auth = None
        if lrs.username is not None and lrs.password is not None:
            auth = httpx.BasicAuth(lrs.username.get_secret_value(), lrs.password.get_secret_value())
        return LRSClient(
            lrs.endpoint,
            auth=auth,
            timeout=lrs.timeout_seconds,
            verify=lrs.verify_tls,
            max_retry_seconds=lrs.max_retry_seconds,
        )

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        watermarks: dict[str, str] = orjson.loads(cursor) if cursor else {}
        with self.client() as lrs:
            for verb in [*self.config.verbs, vocab.VOIDED.id]:
                last = watermarks.get(verb)
                for statement in lrs.statements(verb=verb, since=last):
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
        where = f"statement {statement_id}"
        if _is_own(statement):
            return None
        verb = statement.get("verb", {}).get("id")
        target = statement.get("object", {})
        if verb == vocab.VOIDED.id:
            if target.get("objectType") == "StatementRef" and target.get("id"):
                return Deleted("completion", str(target["id"]), location=where)
            return None
        status = self.config.verbs.get(str(verb))
        if status is None:
            return None
        definition = target.get("definition") or {}
        if self.config.activity_types and definition.get("type") not in self.config.activity_types:
            return None
        learner = _learner(self.system, statement.get("actor") or {})
        if learner is None:
            return Rejected(stream, statement_id, where, "the actor has neither account nor mbox")
        try:
            completed_at = datetime.fromisoformat(
                str(statement.get("timestamp", "")).replace("Z", "+00:00")
            )
        except ValueError:
            return Rejected(stream, statement_id, where, "timestamp is not an ISO 8601 date-time")
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
            location=where,
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
