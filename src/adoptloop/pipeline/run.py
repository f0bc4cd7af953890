"""One run of the pipeline: pull (HRIS -> LMS -> CRM) -> translate -> deliver -> adoption.

Each stage commits before the next reads, and every stage is idempotent: running again with
nothing changed pulls nothing new, adds no statement and sends nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine

from adoptloop.adoption.engine import COLUMNS, GroupRow, adoption_table
from adoptloop.connectors.base import FAMILY_ORDER, ConnectorContext
from adoptloop.connectors.registry import AnyConnector, Registry
from adoptloop.errors import AdoptloopError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline.deliver import deliver
from adoptloop.pipeline.erase import erase_person, vacuum
from adoptloop.pipeline.pull import PullStage
from adoptloop.pipeline.translate import TranslateStage
from adoptloop.settings import Settings
from adoptloop.store import bookkeeping
from adoptloop.store.db import open_store
from adoptloop.store.erasures import ErasureList
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.lrs import LRSClient
from adoptloop.xapi.vocab import Namespace

log = structlog.get_logger(__name__)

Progress = Callable[[str, int], None]


@dataclass
class RunResult:
    run_id: str
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    adoption: list[GroupRow] = field(default_factory=list)
    adoption_csv: Path | None = None
    as_of: date | None = None


@dataclass
class Environment:
    """What a run is built from: settings, the store, the capability map, the connectors."""

    settings: Settings
    registry: Registry
    engine: Engine
    capabilities: CapabilityMap

    @classmethod
    def open(cls, settings: Settings, registry: Registry) -> Environment:
        capabilities = CapabilityMap.load(
            settings.capability_map, default_window_days=settings.adoption.window_days
        )
        return cls(settings, registry, open_store(settings.store.url), capabilities)

    def connectors(self) -> list[AnyConnector]:
        base_dir = self.settings.config_path.parent
        today = datetime.now(UTC).date()
        built = [
            self.registry.build(
                name, config, ConnectorContext(name, base_dir, self.capabilities, today)
            )
            for name, config in self.settings.sources.items()
            if config.enabled
        ]
        return sorted(built, key=lambda c: FAMILY_ORDER.index(c.family))

    def translate_context(self) -> TranslateContext:
        xapi = self.settings.xapi
        return TranslateContext(
            ns=Namespace(xapi.namespace),
            actors=Pseudonymizer(
                xapi.actor.home_page, xapi.actor.key.get_secret_value().encode("utf-8")
            ),
            capabilities=self.capabilities,
            language=xapi.language,
        )

    @property
    def actor_key(self) -> bytes:
        return self.settings.xapi.actor.key.get_secret_value().encode("utf-8")

    def as_of(self, override: date | None = None) -> date:
        return override or self.settings.adoption.as_of or datetime.now(UTC).date()


@contextmanager
def _stage(counts: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    started = datetime.now(UTC)
    bucket: dict[str, Any] = {}
    structlog.contextvars.bind_contextvars(stage=name)
    try:
        yield bucket
    finally:
        structlog.contextvars.unbind_contextvars("stage")
        bucket["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 3)
        counts[name] = bucket


def run_pipeline(
    env: Environment,
    *,
    progress: Progress | None = None,
    scheduled_for: str | None = None,
    as_of: date | None = None,
) -> RunResult:
    with env.engine.begin() as conn:
        run_id = bookkeeping.start_run(conn, "nightly", scheduled_for)
    structlog.contextvars.bind_contextvars(run_id=run_id)
    result = RunResult(run_id, "running")
    try:
        with _stage(result.counts, "pull") as bucket:
            with env.engine.connect() as conn:
                erased = ErasureList.load(conn, env.actor_key)
            stage = PullStage(
                env.engine, env.capabilities, run_id, progress=progress, erased=erased
            )
            for connector in env.connectors():
                bucket[connector.name] = stage.pull(connector)
        with _stage(result.counts, "translate") as bucket:
            translate = TranslateStage(
                env.engine, env.translate_context(), run_id, env.settings.xapi.version
            )
            bucket.update(translate.run())
        with _stage(result.counts, "deliver") as bucket:
            bucket.update(_deliver(env, run_id))
        with _stage(result.counts, "adoption") as bucket:
            result.as_of = env.as_of(as_of)
            with env.engine.connect() as conn:
                result.adoption = adoption_table(
                    conn, env.capabilities, result.as_of, env.settings.adoption.by
                )
            result.adoption_csv = write_csv(
                result.adoption, env.settings.adoption.output_dir / "adoption.csv"
            )
            bucket["rows"] = len(result.adoption)
        result.status = "succeeded"
    except AdoptloopError as exc:
        result.status = "failed"
        with env.engine.begin() as conn:
            bookkeeping.finish_run(conn, run_id, "failed", result.counts, error=str(exc))
        log.error("run failed", error=str(exc))  # noqa: TRY400 - the message is the cause; no traceback
        raise
    except BaseException as exc:
        with env.engine.begin() as conn:
            bookkeeping.finish_run(
                conn, run_id, "interrupted", result.counts, error=exc.__class__.__name__
            )
        raise
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    with env.engine.begin() as conn:
        bookkeeping.finish_run(conn, run_id, "succeeded", result.counts)
    log.info("run finished", run_id=run_id, status=result.status)
    return result


def _deliver(env: Environment, run_id: str) -> dict[str, Any]:
    delivery = env.settings.delivery
    if delivery.target == "store" or delivery.lrs is None:
        return {"target": "store", "sent": 0}
    with LRSClient(delivery.lrs, xapi_version=env.settings.xapi.version) as client:
        counts = deliver(env.engine, client, run_id, batch_size=delivery.lrs.batch_size)
    return {"target": "lrs", **counts.as_dict()}


def write_csv(rows: list[GroupRow], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            record = row.as_record()
            writer.writerow({k: "" if record[k] is None else record[k] for k in COLUMNS})
    tmp.replace(path)
    return path


def run_erasure(env: Environment, hr_id: str) -> RunResult:
    """Erase one person (see pipeline/erase.py), then re-issue and deliver what that changed."""
    with env.engine.begin() as conn:
        run_id = bookkeeping.start_run(conn, "erase", None)
    result = RunResult(run_id, "running")
    ctx = env.translate_context()
    translate = TranslateStage(env.engine, ctx, run_id, env.settings.xapi.version)
    try:
        with env.engine.begin() as conn:
            erased = erase_person(
                conn, translate.finalizer, env.actor_key, hr_id, run_id=run_id, now=translate.now
            )
        result.counts["erase"] = {"erasure_id": erased.erasure_id, **erased.counts}
        result.counts["translate"] = translate.run()
        result.counts["deliver"] = _deliver(env, run_id)
    except BaseException as exc:
        with env.engine.begin() as conn:
            bookkeeping.finish_run(
                conn, run_id, "failed", result.counts, error=exc.__class__.__name__
            )
        raise
    with env.engine.begin() as conn:
        bookkeeping.finish_run(conn, run_id, "succeeded", result.counts)
    with env.engine.connect() as conn:
        vacuum(conn.execution_options(isolation_level="AUTOCOMMIT"))
    result.status = "succeeded"
    return result
