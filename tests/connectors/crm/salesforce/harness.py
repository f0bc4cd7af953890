"""Building the connector against the fake org, and running it through the real pipeline
(pull -> SQLite store -> translate) to compare stores and statements."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.connectors.crm.salesforce.connector import SalesforceConnector
from adoptloop.connectors.files.people import PeopleFileConfig, PeopleFileConnector
from adoptloop.domain import Checkpoint, CoachingObservation, Item
from adoptloop.fields import Resolved
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline.pull import PullStage
from adoptloop.pipeline.translate import TranslateStage
from adoptloop.store import cursors, quarantine, runs, schema, source_reads
from adoptloop.store.db import open_store
from adoptloop.store.source_reads import SourceRead
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.scenario import (
    QUESTION_CLOSING_TEXT,
    QUESTION_OPENING,
    write_people,
)

SOURCE = "crm"


def capability_map() -> CapabilityMap:
    five = {"scale": "five-point"}
    return CapabilityMap(
        CapabilityMapFile.model_validate(
            {
                "scales": {"five-point": {"min": 1, "max": 5}},
                "capabilities": [
                    {"id": "opening", "name": "Opening the call", "threshold": 0.75},
                    {"id": "objection-handling", "name": "Objection handling", "threshold": 0.75},
                    {"id": "closing", "name": "Closing with a commitment", "threshold": 0.75},
                ],
                "coaching_items": {
                    "Opening_Rating__c": {"capability": "opening", **five},
                    "Objection_Handling_Rating__c": {"capability": "objection-handling", **five},
                    QUESTION_OPENING: {"capability": "opening", **five},
                    QUESTION_CLOSING_TEXT: {"capability": "closing", **five},
                },
            }
        )
    )


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def make_config(org: FakeOrg, private_pem: str, **overrides: Any) -> SalesforceConfig:
    data: dict[str, Any] = {
        "type": "salesforce",
        "auth": {
            "type": "jwt-bearer",
            "client_id": org.client_id,
            "username": org.username,
            "private_key": Resolved(private_pem),
        },
        "api_version": org.version,
        "timezone": "Europe/Madrid",
        "sync": {"bulk_above_rows": None, "page_size": 2000},
    }
    if "auth" in overrides:  # another flow: replace, don't merge
        data["auth"] = overrides.pop("auth")
    return SalesforceConfig.model_validate(merge(data, overrides))


class Sleeps(list[float]):
    """An injected sleep that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def context(capabilities: CapabilityMap, base_dir: Path) -> ConnectorContext:
    return ConnectorContext(SOURCE, base_dir, capabilities, date(2026, 3, 2))


def connector(
    org: FakeOrg,
    config: SalesforceConfig,
    capabilities: CapabilityMap,
    sleeps: Sleeps | None = None,
    *,
    ahead: timedelta = timedelta(0),
) -> SalesforceConnector:
    """`ahead`: how far this machine's clock runs ahead of the org's."""
    return SalesforceConnector(
        config,
        context(capabilities, Path()),
        sleep=sleeps if sleeps is not None else Sleeps(),
        clock=lambda: org.now + ahead,
    )


def read(
    conn: SalesforceConnector, stream: str, cursor: str | None = None
) -> tuple[list[Item], str | None]:
    """Everything a stream yields, and its last checkpoint's cursor."""
    items = list(conn.read(stream, cursor))
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    return [i for i in items if not isinstance(i, Checkpoint)], (
        checkpoints[-1].cursor if checkpoints else cursor
    )


def records(items: Iterable[Item], kind: type[Any]) -> list[Any]:
    return [i for i in items if isinstance(i, kind)]


def raw_ratings(observation: CoachingObservation) -> list[tuple[str, float]]:
    """(item, raw value) of each rating, in the observation's order."""
    return [(r.item, r.raw) for r in observation.ratings]


class Pipeline:
    """The real pull and translate stages on a SQLite store, with HR people from a CSV file."""

    def __init__(
        self, folder: Path, org: FakeOrg, config: SalesforceConfig, capabilities: CapabilityMap
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.org = org
        self.config = config
        self.capabilities = capabilities
        self.engine = open_store(f"sqlite:///{folder / 'store.db'}")
        self.people = PeopleFileConnector(
            PeopleFileConfig.model_validate(
                {"type": "file-people", "path": str(write_people(folder))}
            ),
            ConnectorContext("hris", folder, capabilities, date(2026, 3, 2)),
        )
        self.sleeps = Sleeps()
        self.runs = 0
        self.last: SalesforceConnector | None = None
        self.pull_stage: PullStage | None = None

    def run(self) -> dict[str, dict[str, int]]:
        self.runs += 1
        with self.engine.begin() as conn:
            run_id = runs.start_run(conn, "test", f"run-{self.runs}")
        pull = self.pull_stage = PullStage(self.engine, run_id)
        pull.pull(self.people)
        self.last = connector(self.org, self.config, self.capabilities, self.sleeps)
        with self.engine.connect() as conn:  # as the run does: kept state, then the pre-flight
            self.last.restore(cursors.of_source(conn, SOURCE))
        self.last.preflight()
        counts = pull.pull(self.last)
        ctx = TranslateContext(
            ns=Namespace("https://xapi.example-pharma.com/adoptloop"),
            actors=Pseudonymizer("https://hr.example-pharma.com", b"0123456789abcdef0123"),
            capabilities=self.capabilities,
        )
        TranslateStage(self.engine, ctx, run_id).run()
        return counts

    def read_of_crm(self) -> SourceRead:
        """What the store says about the CRM source's latest read."""
        with self.engine.connect() as conn:
            return source_reads.latest_reads(conn)[SOURCE]

    def live(self) -> dict[str, list[dict[str, Any]]]:
        """The store's current (non-deleted) CRM rows, without bookkeeping columns."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for name in ("interactions", "observations"):
                table = schema.metadata.tables[name]
                rows = conn.execute(
                    select(table).where(table.c.deleted.is_(False)).order_by(table.c.record_id)
                ).mappings()
                out[name] = [
                    {k: v for k, v in r.items() if k not in ("translated_digest",)} for r in rows
                ]
            live_ids = [r["record_id"] for r in out["observations"]]
            ratings = schema.ratings
            out["ratings"] = [
                dict(r)
                for r in conn.execute(
                    select(ratings)
                    .where(ratings.c.record_id.in_(live_ids))
                    .order_by(ratings.c.record_id, ratings.c.item)
                ).mappings()
            ]
            identities = schema.identities
            # which rule matched first is history (a remembered match is kept), the hr_id is state
            out["identities"] = [
                dict(r)
                for r in conn.execute(
                    select(
                        identities.c.system, identities.c.external_id, identities.c.hr_id
                    ).order_by(identities.c.external_id)
                ).mappings()
            ]
        return out

    def standing(self) -> dict[str, dict[str, Any]]:
        """Statements in force (not voided), by statement key: body without the id."""
        emitted, outbox = schema.emitted, schema.outbox
        with self.engine.connect() as conn:
            keys = dict(
                conn.execute(
                    select(emitted.c.statement_id, emitted.c.key).where(emitted.c.voided.is_(False))
                ).all()
            )
            payloads = conn.execute(
                select(outbox.c.statement_id, outbox.c.payload).where(
                    outbox.c.statement_id.in_(list(keys))
                )
            ).all()
        standing: dict[str, dict[str, Any]] = {}
        for statement_id, payload in payloads:
            body = json.loads(payload)
            body.pop("id")
            standing[keys[statement_id]] = body
        return standing

    def statements(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.outbox.c.payload).order_by(schema.outbox.c.seq)).all()
        return [json.loads(r[0]) for r in rows]

    def quarantine(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return quarantine.entries(conn, limit=1000)

    def cursor(self, stream: str) -> str | None:
        with self.engine.connect() as conn:
            return cursors.get_cursor(conn, SOURCE, stream)
