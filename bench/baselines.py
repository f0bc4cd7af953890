"""Baselines bench/run.py measures in the same run as the pipeline, so that its ratios hold on
a busy or slow machine:

- the bare **kernel** (`kernel`): the records the full run translated, read back from its
  store (not timed), turned into statements by the same translators, validated by the same
  validator, serialized to canonical JSON and appended to the outbox of a fresh store through
  `outbox.enqueue_values` (one commit per 20,000 statements), as bench/xapi_bench.py does
  (the fresh store is of the run's kind: a SQLite file, or a new database on the bench's
  PostgreSQL server; bench/stores.py):
  build + validate + serialize + store, and nothing else (no reads, no `emitted` bookkeeping,
  no marks);
- a **naive** pipeline (`naive`) over the same statements: the same translators, then a
  pydantic model of the xAPI statement (`model_validate`, `model_dump_json`) and one INSERT
  per statement into the outbox of a fresh store (one commit per 20,000 statements);
- a **bare fetch** (`bare_fetch`): the API requests the full run's pull made to the fake
  Salesforce org, replayed as they came by a bare httpx loop (one connection, no parsing) that
  discards the answers.

`translate_vs_kernel` and `translate_vs_naive` divide the translate stage's statements/s by
these; `pull_vs_bare_fetch` divides the CRM pull's rows/s by the bare loop's on the same rows.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from adoptloop.mappings.translate import TRANSLATORS, Draft, TranslateContext
from adoptloop.pipeline.translate import Finalizer, as_record
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import schema, translation
from adoptloop.store.db import open_store
from adoptloop.store.outbox import PENDING, enqueue_values
from adoptloop.store.schema import utcnow
from adoptloop.xapi.canonical import dumps
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace

FreshStore = Callable[[], contextlib.AbstractContextManager[Engine]]  # bench/stores.py's fresh()
COMMIT = 20_000  # statements per transaction, as bench/xapi_bench.py
READ = 2_000  # records read back from the run's store at a time (not timed)


def context(org: Path, namespace: str, home_page: str, key: str) -> TranslateContext:
    """The translate context of the bench's config (same namespace, actor key, map)."""
    return TranslateContext(
        ns=Namespace(namespace),
        actors=Pseudonymizer(home_page, key.encode("utf-8")),
        capabilities=load_capability_map(org / "capabilities.yaml", default_window_days=90),
    )


def _drafts(
    store: str, ctx: TranslateContext, limit: int | None
) -> Iterator[tuple[list[Draft], float]]:
    """The drafts of every record the run's store holds, table by table as the translate
    stage goes, a batch of records at a time, with the seconds the translators took (reading
    is not part of any baseline)."""
    engine = open_store(store)
    made = 0
    try:
        with engine.connect() as conn:
            for name, translator in TRANSLATORS.items():
                table = schema.metadata.tables[name]
                last = ("", "")
                while limit is None or made < limit:
                    rows = [
                        dict(r)
                        for r in conn.execute(
                            table.select()
                            .where(
                                (table.c.source > last[0])
                                | ((table.c.source == last[0]) & (table.c.record_id > last[1]))
                            )
                            .order_by(table.c.source, table.c.record_id)
                            .limit(READ)
                        ).mappings()
                    ]
                    if not rows:
                        break
                    last = (rows[-1]["source"], rows[-1]["record_id"])
                    ratings = translation.ratings_of(conn, rows) if name == "observations" else {}
                    started = time.perf_counter()
                    drafts: list[Draft] = []
                    for row in rows:
                        record = as_record(
                            name,
                            row,
                            ratings.get((row["source"], row["record_id"]), []),
                            ctx.capabilities,
                        )
                        drafts.extend(translator(record, ctx))
                    built = time.perf_counter() - started
                    if limit is not None:
                        drafts = drafts[: limit - made]
                    made += len(drafts)
                    yield drafts, built
    finally:
        engine.dispose()


def kernel(
    store: str, ctx: TranslateContext, fresh: FreshStore, limit: int | None = None
) -> dict[str, Any]:
    """Build + validate + serialize + store (outbox.enqueue_values) of the run's statements
    (`store`: the run's store URL), into a `fresh` store."""
    finalizer = Finalizer(ctx, "1.0.3")
    spent = 0.0
    done = invalid = 0
    with fresh() as engine:
        pending: list[tuple[str, str, bytes, str | None]] = []
        for drafts, built in _drafts(store, ctx, limit):
            spent += built
            started = time.perf_counter()
            for d in drafts:
                statement_id = finalizer.ids.statement(d.key, 1)
                statement = finalizer.stamped(statement_id, d.body)
                invalid += bool(finalizer.problems(statement))
                pending.append((statement_id, d.kind, dumps(statement), d.hr_id))
            if len(pending) >= COMMIT:
                with engine.begin() as conn:
                    enqueue_values(conn, pending, "baseline")
                pending = []
            spent += time.perf_counter() - started
            done += len(drafts)
        started = time.perf_counter()
        with engine.begin() as conn:
            enqueue_values(conn, pending, "baseline")
        spent += time.perf_counter() - started
    return _rate(done, spent, invalid=invalid)


# --- the naive pipeline's statement model ------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Account(_Model):
    homePage: str  # noqa: N815 - xAPI's own names
    name: str


class Agent(_Model):
    objectType: Literal["Agent"] = "Agent"  # noqa: N815
    account: Account


class Verb(_Model):
    id: str
    display: dict[str, str]


class Definition(_Model):
    type: str | None = None
    name: dict[str, str] | None = None


class Activity(_Model):
    objectType: Literal["Activity"] = "Activity"  # noqa: N815
    id: str
    definition: Definition | None = None


class StatementRef(_Model):
    objectType: Literal["StatementRef"]  # noqa: N815
    id: str


class Score(_Model):
    scaled: float | None = Field(default=None, ge=-1, le=1)
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class Result(_Model):
    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None


class ContextActivities(_Model):
    parent: list[Activity] | None = None
    grouping: list[Activity] | None = None
    category: list[Activity] | None = None
    other: list[Activity] | None = None


class Context(_Model):
    instructor: Agent | None = None
    contextActivities: ContextActivities | None = None  # noqa: N815
    extensions: dict[str, Any] | None = None


class Statement(_Model):
    id: str
    actor: Agent
    verb: Verb
    object: Activity | StatementRef = Field(discriminator="objectType")
    result: Result | None = None
    context: Context | None = None
    timestamp: datetime


def naive(
    store: str, ctx: TranslateContext, fresh: FreshStore, limit: int | None = None
) -> dict[str, Any]:
    """Build, then pydantic model_validate + model_dump_json + one INSERT per statement, into
    a `fresh` store."""
    finalizer = Finalizer(ctx, "1.0.3")
    spent = 0.0
    done = 0
    outbox = schema.outbox.insert()
    with fresh() as engine:
        conn = engine.connect()
        try:
            since_commit = 0
            for drafts, built in _drafts(store, ctx, limit):
                spent += built
                started = time.perf_counter()
                now = utcnow()
                for d in drafts:
                    statement_id = finalizer.ids.statement(d.key, 1)
                    model = Statement.model_validate(finalizer.stamped(statement_id, d.body))
                    conn.execute(
                        outbox,
                        {
                            "statement_id": statement_id,
                            "kind": d.kind,
                            "hr_id": d.hr_id,
                            "payload": model.model_dump_json(exclude_none=True),
                            "created_run": "baseline",
                            "state": PENDING,
                            "created_at": now,
                        },
                    )
                since_commit += len(drafts)
                if since_commit >= COMMIT:
                    conn.commit()
                    since_commit = 0
                spent += time.perf_counter() - started
                done += len(drafts)
            started = time.perf_counter()
            conn.commit()
            spent += time.perf_counter() - started
        finally:
            conn.close()
    return _rate(done, spent)


def _rate(done: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "statements": done,
        "seconds": round(seconds, 2),
        "per_second": round(done / seconds) if seconds else None,
        **extra,
    }


# --- the bare fetch ------------------------------------------------------------------------


def bare_fetch(base_url: str, cert: Path, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds a bare httpx loop (one connection) takes to make `requests` (as the fake logged
    them) and read every answer whole, discarding it."""
    started = time.perf_counter()
    received = 0
    trust = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(base_url=base_url, verify=trust, timeout=600) as client:
        for r in requests:
            response = client.request(
                r["method"], r["path"], headers=r["headers"], content=r["body"] or None
            )
            received += len(response.content)
    seconds = time.perf_counter() - started
    return {
        "requests": len(requests),
        "seconds": round(seconds, 2),
        "mb": round(received / 2**20, 1),
    }
