"""One run of the pipeline: pull (HRIS -> LMS -> CRM) -> adoption states -> translate ->
estimates (adoption.publish_estimates) -> deliver (delivery.target: lrs) -> publish (adoption.write_back) -> adoption table and report.

Each stage commits before the next reads, and every stage is idempotent: running again with
nothing changed pulls nothing new, adds no statement and sends nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import structlog

from adoptloop.adoption.metrics import MetricsRow
from adoptloop.connectors.base import FAMILY_ORDER, ConnectorContext, SupportsWriteBack
from adoptloop.connectors.registry import AnyConnector, Registry
from adoptloop.errors import AdoptloopError, ConfigError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline import adopt
from adoptloop.pipeline.estimates import current_estimates, publish_estimates
from adoptloop.pipeline.estimates_child import EstimatesChild, in_own_process
from adoptloop.pipeline.outcome import EXIT_CODES, judge
from adoptloop.pipeline.publish import publish
from adoptloop.pipeline.pull import PullStage, rescale_stored_ratings
from adoptloop.pipeline.rss import own_high_water_mb
from adoptloop.pipeline.suppression import Suppression
from adoptloop.pipeline.translate import TranslateStage
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.settings.model import Settings
from adoptloop.store import cursors, erasures, locks, runs, source_reads
from adoptloop.store.claims import DEFAULT_LEASE_SECONDS
from adoptloop.store.db import open_store, refresh_statistics, shrink_idle
from adoptloop.store.locks import node_id
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)

Progress = Callable[[str, int], None]


@dataclass
class RunResult:
    run_id: str
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    adoption: list[MetricsRow] = field(default_factory=list)
    adoption_csv: Path | None = None
    report: Path | None = None
    as_of: date | None = None
    problems: list[str] = field(default_factory=list)  # why the status is not "succeeded"

    @property
    def exit_code(self) -> int:
        """0 done; 65 done, but data over a limit needs a person; 75 stopped early."""
        return EXIT_CODES.get(self.status, 0)


def build_connectors(
    settings: Settings, registry: Registry, capabilities: CapabilityMap
) -> list[AnyConnector]:
    """Every enabled source's connector, HRIS first, then LMS, then CRM."""
    base_dir = settings.config_path.parent
    today = datetime.now(UTC).date()
    built = [
        registry.build(
            name,
            config,
            ConnectorContext(name, base_dir, capabilities, today, settings.roles.column),
        )
        for name, config in settings.sources.items()
        if config.enabled
    ]
    return sorted(built, key=lambda c: FAMILY_ORDER.index(c.family))


@dataclass
class Environment:
    """What a run is built from: settings, the store, the capability map, the connectors."""

    settings: Settings
    registry: Registry
    engine: Engine
    capabilities: CapabilityMap

    @classmethod
    def open(cls, settings: Settings, registry: Registry) -> Environment:
        capabilities = load_capability_map(
            settings.capability_map, default_window_days=settings.adoption.window_days
        )
        env = cls(settings, registry, open_store(settings.store.url), capabilities)
        env.check_write_back()
        env.check_output_dir()
        return env

    def check_output_dir(self) -> None:
        """adoption.output_dir must be a folder (or not exist yet): found before a run commits
        anything, not at its end."""
        folder = self.settings.adoption.output_dir
        if folder.exists() and not folder.is_dir():
            raise ConfigError(
                f"adoption.output_dir: {folder} is a file, not a folder; point "
                "adoption.output_dir at a folder (it is made if missing) or move the file"
            )

    def check_write_back(self) -> None:
        """Every source in adoption.write_back must be able to write to a transcript."""
        for connector in self.connectors():
            if connector.name in self.settings.adoption.write_back and not isinstance(
                connector, SupportsWriteBack
            ):
                raise ConfigError(
                    f"adoption.write_back: source {connector.name!r} ({connector.type_name}) "
                    "cannot write to an LMS transcript"
                )

    def rejected_share_limits(self) -> dict[str, float]:
        """Enabled source -> its max_rejected_share."""
        return {
            name: config.max_rejected_share
            for name, config in self.settings.sources.items()
            if config.enabled
        }

    def connectors(self) -> list[AnyConnector]:
        return build_connectors(self.settings, self.registry, self.capabilities)

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
def _stage(counts: dict[str, Any], name: str, engine: Engine) -> Iterator[dict[str, Any]]:
    started, cpu = datetime.now(UTC), time.process_time()
    bucket: dict[str, Any] = {}
    structlog.contextvars.bind_contextvars(stage=name)
    try:
        yield bucket
        # the planner statistics of the tables the stage filled, for the stages after it; part
        # of this stage's time (PostgreSQL only; store.db.refresh_statistics)
        analyzed = refresh_statistics(engine)
        if analyzed:
            log.info("statistics refreshed", stage=name, tables=analyzed)
    finally:
        bucket["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 3)
        # the translate stage's worker processes' peaks added up: logged, not a count
        workers = {k: bucket.pop(k) for k in ("workers_peak_rss_mb",) if k in bucket}
        counts[name] = bucket
        structlog.contextvars.unbind_contextvars("stage")
        # the process's peak RSS so far: the stage that raises it is the one to look at
        log.info(
            "stage done",
            stage=name,
            seconds=bucket["seconds"],
            # this process's CPU in the stage, all its threads (not its worker processes)
            cpu_seconds=round(time.process_time() - cpu, 3),
            peak_rss_mb=_peak_rss_mb(),
            **workers,
        )
    _release_memory(engine)  # after a stage that succeeded (a failed one may have no store)


@contextmanager
def _estimates_process(
    env: Environment, spawned: EstimatesChild | None
) -> Iterator[EstimatesChild | None]:
    """The run's estimates process (pipeline/estimates_child.py): `spawned` (started ahead by
    the command, EstimatesChild.spawn) or one started now, so that it imports the statistics
    libraries while the run pulls; None when the run publishes no estimates, the uplift extra
    is missing (the stage says so), or the store is in this process's memory (no other
    process can open it: computed here); a `spawned` one is then ended unused."""
    url = env.engine.url.render_as_string(hide_password=False)
    if not in_own_process(env.settings.adoption.publish_estimates, url):
        if spawned is not None:
            spawned.close()
        yield None
        return
    if spawned is not None:
        child = spawned.begin(url, env.capabilities)
    else:
        child = EstimatesChild.start(url, env.capabilities)
    try:
        yield child
    finally:
        child.close()


@contextmanager
def _beside(bucket: dict[str, Any], child: EstimatesChild | None) -> Iterator[None]:
    """Around a stage's work: add the estimates process's peak so far to the stage's workers'
    (`workers_peak_rss_mb`) when it was still running as the stage began. It runs beside the
    stages up to the estimates stage (its imports beside the pull, its reads and fits beside
    the states stage and, when they last longer, the translate stage); once it has answered,
    the stages after it do not count it."""
    ran = child is not None and child.running()
    try:
        yield
    finally:
        peak = child.high_water_mb() if child is not None and ran else None
        if peak is not None:
            total = bucket.get("workers_peak_rss_mb", 0.0) + peak
            bucket["workers_peak_rss_mb"] = round(total, 1)


_peak_seen = [0.0]  # the highest _peak_rss_mb reported so far in this process


def _peak_rss_mb() -> float:
    """This program's peak resident set so far, in MB (rss.own_high_water_mb). VmHWM is read
    as the larger of the kernel's recorded mark and the current RSS, so it can read 0.1 MB
    lower than before: the figure reported is the highest read so far."""
    _peak_seen[0] = max(_peak_seen[0], round(own_high_water_mb(), 1))
    return _peak_seen[0]


def _glibc(name: str) -> Callable[[int], int] | Callable[[int, int], int] | None:
    """A function of glibc's malloc, or None (another C library: musl, macOS)."""
    try:
        found: Callable[[int], int] | Callable[[int, int], int] | None = getattr(
            ctypes.CDLL(None), name, None
        )
    except OSError:
        return None
    return found


_MALLOC_TRIM = cast("Callable[[int], int] | None", _glibc("malloc_trim"))
_MALLOPT = cast("Callable[[int, int], int] | None", _glibc("mallopt"))
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def _one_malloc_arena() -> None:
    """Every thread allocates from the same malloc arena (glibc's M_ARENA_MAX = 1), unless the
    operator set MALLOC_ARENA_MAX. By default a thread gets an arena of its own, and memory
    freed in one arena is not reused by another: the pull's read-ahead thread and the
    translate writer kept about 17 MB more at 8,000 reps. Most allocations do not reach malloc
    (Python's small-object allocator; glibc's per-thread cache), so the threads rarely wait."""
    if _MALLOPT is not None and "MALLOC_ARENA_MAX" not in os.environ:
        _MALLOPT(_M_ARENA_MAX, 1)


def _release_memory(engine: Engine) -> None:
    """Between stages, give back what the stage that ended no longer uses: the idle SQLite
    connection's page cache, then the C heap's free pages (malloc_trim). Without it the next
    stage, whose threads allocate from other malloc arenas (the translate writer's 24 MB page
    cache), adds its memory on top of what the last stage freed but the process kept."""
    shrink_idle(engine)
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class RunInterrupted(AdoptloopError):
    """SIGTERM (or a lost run lock) stopped the run at a checkpoint; what was committed stays.

    The run is recorded as interrupted; the next start of `serve` (or the next `run` with the
    same schedule) resumes it: cursors were stored at the last checkpoint and every stage is
    idempotent, so it re-reads from there.
    """

    exit_code = 128 + signal.SIGTERM


def run_pipeline(
    env: Environment,
    *,
    progress: Progress | None = None,
    scheduled_for: str | None = None,
    as_of: date | None = None,
    pipeline: str = "nightly",
    sources: Collection[str] | None = None,
    stop: threading.Event | None = None,
    holder: str | None = None,
    allow_shrink: bool = False,
    estimates_process: EstimatesChild | None = None,
) -> RunResult:
    """One run, under the store's run lock (RunInProgress when another process holds it).

    `allow_shrink` applies the deletions of snapshot exports that shrank by more than the
    limit (pipeline/deletes.py) instead of holding them back. `estimates_process`: an
    estimates process the caller started ahead (EstimatesChild.spawn) for the run to use, or
    to end unused; the caller closes it too, for a run that never began.

    A (pipeline, scheduled_for) that already succeeded is skipped (status "skipped"); one that
    was interrupted or failed is resumed under its run id. `sources` limits the pull to those
    sources. `stop` is checked between connectors, every pull batch, between stages and
    between delivery batches; without one, SIGTERM sets it when this runs in the main thread.
    """
    _one_malloc_arena()  # before the run starts its threads
    holder = holder or node_id("run")
    lease = env.settings.schedule.lock_lease_seconds
    with (
        locks.hold(env.engine, locks.RUN, holder=holder, lease_seconds=lease) as kept,
        _stop_on_sigterm(stop) as stop_event,
    ):
        run_id = runs.open_run(env.engine, pipeline, scheduled_for, holder=holder)
        if run_id is None:
            log.info("already done; skipped", pipeline=pipeline, scheduled_for=scheduled_for)
            return RunResult("", "skipped")
        checkpoint = _Checkpoint(stop_event, kept.lost)
        rescale_stored_ratings(env.engine, env.capabilities)  # once, after a v2 -> v3 upgrade
        return _run(
            env,
            run_id,
            checkpoint,
            progress,
            as_of,
            sources,
            holder,
            allow_shrink,
            estimates_process,
        )


class _Checkpoint:
    def __init__(self, stop: threading.Event, lock_lost: threading.Event) -> None:
        self.stop = stop
        self.lock_lost = lock_lost

    def __call__(self) -> None:
        if self.lock_lost.is_set():
            raise RunInterrupted("lost the store's run lock; stopped at a checkpoint")
        if self.stop.is_set():
            raise RunInterrupted("stopped at a checkpoint (SIGTERM); the next start resumes")


@contextmanager
def _stop_on_sigterm(stop: threading.Event | None) -> Iterator[threading.Event]:
    if stop is not None:
        yield stop
        return
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(_signum: int, _frame: object) -> None:
        event.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(
    env: Environment,
    run_id: str,
    checkpoint: _Checkpoint,
    progress: Progress | None,
    as_of: date | None,
    sources: Collection[str] | None,
    holder: str,
    allow_shrink: bool = False,
    spawned: EstimatesChild | None = None,
) -> RunResult:
    structlog.contextvars.bind_contextvars(run_id=run_id)
    result = RunResult(run_id, "running")

    def tick(what: str, n: int) -> None:  # called by the pull stage after every batch
        checkpoint()
        if progress is not None:
            progress(what, n)

    try:
        with _estimates_process(env, spawned) as child:
            with _stage(result.counts, "pull", env.engine) as bucket, _beside(bucket, child):
                with env.engine.connect() as conn:
                    suppression = Suppression.load(conn, env.actor_key)
                stage = PullStage(
                    env.engine,
                    run_id,
                    progress=tick,
                    suppression=suppression,
                    roles=env.settings.roles.role_map(),
                    allow_shrink=allow_shrink,
                )
                pulled = [c for c in env.connectors() if sources is None or c.name in sources]
                for connector in pulled:  # unusable input stops the run before any source commits
                    with env.engine.connect() as conn:
                        restored = (
                            {}
                            if stage.rereads(connector)
                            else cursors.of_source(conn, connector.name)
                        )
                    connector.restore(restored)  # a source read whole is checked whole
                    connector.preflight()
                for connector in pulled:
                    checkpoint()
                    bucket[connector.name] = stage.pull(connector)
            checkpoint()
            result.as_of = env.as_of(as_of)
            kept = None  # the kept estimates, when the pull changed nothing they depend on
            if child is not None:  # the estimates' inputs are committed
                kept = current_estimates(env.engine, env.capabilities, result.as_of)
                if kept is None:
                    child.go(result.as_of)  # it reads and fits
                else:
                    child.close()  # nothing to read or fit: the kept estimates are current
            with _stage(result.counts, "states", env.engine) as bucket, _beside(bucket, child):
                bucket.update(adopt.refresh_states(env.engine, env.capabilities, result.as_of))
            checkpoint()
            with _stage(result.counts, "translate", env.engine) as bucket, _beside(bucket, child):
                translate = TranslateStage(
                    env.engine,
                    env.translate_context(),
                    run_id,
                    env.settings.xapi.version,
                    # its workers wait for the estimates' answer (translate_worker.py)
                    workers_when=None if child is None else lambda: not child.running(),
                )
                bucket.update(translate.run())
                if translate.workers_peak_rss_mb is not None:
                    bucket["workers_peak_rss_mb"] = translate.workers_peak_rss_mb
            checkpoint()
            caused = None  # the estimates stage's estimates, for the report
            if env.settings.adoption.publish_estimates:
                with (
                    _stage(result.counts, "estimates", env.engine) as bucket,
                    _beside(bucket, child),
                ):
                    counts, caused = publish_estimates(
                        env.engine, translate, env.capabilities, result.as_of, child, kept=kept
                    )
                    bucket.update(counts)
                checkpoint()
            with _stage(result.counts, "deliver", env.engine) as bucket:
                bucket.update(_deliver(env, run_id, stop=checkpoint.stop, worker=holder))
            checkpoint()
            if env.settings.adoption.write_back:
                with _stage(result.counts, "publish", env.engine) as bucket:
                    bucket.update(
                        publish(
                            env.engine,
                            env.connectors(),
                            env.capabilities,
                            env.settings.adoption.write_back,
                            dry_run=env.settings.adoption.write_back_dry_run,
                        )
                    )
                checkpoint()
            with _stage(result.counts, "adoption", env.engine) as bucket:
                outputs = adopt.write_outputs(
                    env.engine,
                    env.capabilities,
                    result.as_of,
                    by=env.settings.adoption.by,
                    output_dir=env.settings.adoption.output_dir,
                    options=adopt.report_options(env.settings),
                    estimates=caused,
                )
                result.adoption, result.adoption_csv = outputs.rows, outputs.csv
                result.report = outputs.report
                bucket["rows"] = len(result.adoption)
            with env.engine.connect() as conn:
                reads = source_reads.latest_reads(conn)
            outcome = judge(reads, env.rejected_share_limits(), stage.stopped)
            result.status, result.problems = outcome.status, outcome.problems
    except RunInterrupted as exc:
        result.status = "interrupted"
        with env.engine.begin() as conn:
            runs.finish_run(conn, run_id, "interrupted", result.counts, error=str(exc))
        log.warning("run interrupted; the next start resumes it", reason=str(exc))
        raise
    except AdoptloopError as exc:
        result.status = "failed"
        with env.engine.begin() as conn:
            runs.finish_run(conn, run_id, "failed", result.counts, error=str(exc))
        log.error("run failed", error=str(exc))  # noqa: TRY400 - the message is the cause; no traceback
        raise
    except BaseException as exc:
        with env.engine.begin() as conn:
            runs.finish_run(
                conn, run_id, "interrupted", result.counts, error=exc.__class__.__name__
            )
        raise
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    with env.engine.begin() as conn:
        error = "; ".join(result.problems) or None
        runs.finish_run(conn, run_id, result.status, result.counts, error=error)
    log.info("run finished", run_id=run_id, status=result.status, stages=_seconds(result.counts))
    for problem in result.problems:
        log.warning("needs attention", problem=problem)
    return result


def _seconds(counts: dict[str, Any]) -> dict[str, Any]:
    return {name: stage.get("seconds") for name, stage in counts.items() if isinstance(stage, dict)}


def delivery_lease_seconds(settings: Settings) -> float:
    """How long a claimed outbox row stays reserved: longer than a batch can take to send."""
    configured = settings.schedule.delivery.lease_seconds
    lrs = settings.delivery.lrs
    if configured is not None or lrs is None:
        return configured or DEFAULT_LEASE_SECONDS
    return lrs.max_retry_seconds + 2 * lrs.timeout_seconds + 60


def _deliver(
    env: Environment,
    run_id: str,
    *,
    stop: threading.Event | None = None,
    worker: str | None = None,
) -> dict[str, Any]:
    delivery = env.settings.delivery
    if delivery.target == "store" or delivery.lrs is None:
        return {"target": "store", "sent": 0}
    # here: a run delivering to the store imports no HTTP client
    from adoptloop.pipeline.deliver import deliver, lrs_client  # noqa: PLC0415

    with lrs_client(delivery.lrs, env.settings.xapi.version) as client:
        counts = deliver(
            env.engine,
            client,
            run_id,
            batch_size=delivery.lrs.batch_size,
            concurrency=delivery.lrs.concurrency,
            worker=worker,
            lease_seconds=delivery_lease_seconds(env.settings),
            stop=stop,
        )
    return {"target": "lrs", **counts.as_dict()}


def run_erasure(env: Environment, hr_id: str) -> RunResult:
    """Erase one person (see pipeline/erase.py), then re-issue and deliver what that changed.

    Under the store's run lock, like a run: an erasure never interleaves with a sync.
    """
    lease = env.settings.schedule.lock_lease_seconds
    with locks.hold(env.engine, locks.RUN, holder=node_id("erase"), lease_seconds=lease):
        return _erase(env, hr_id)


def _erase(env: Environment, hr_id: str) -> RunResult:
    from adoptloop.pipeline.erase import erase_person  # noqa: PLC0415 - erasures only

    with env.engine.begin() as conn:
        run_id = runs.start_run(conn, "erase", None)
    result = RunResult(run_id, "running")
    ctx = env.translate_context()
    translate = TranslateStage(env.engine, ctx, run_id, env.settings.xapi.version)
    rules = {c.name: c.identity_rules for c in env.connectors()}
    try:
        with env.engine.begin() as conn:
            erased = erase_person(
                conn,
                translate.finalizer,
                Suppression.load(conn, env.actor_key),
                rules,
                hr_id,
                run_id=run_id,
                now=translate.now,
            )
        # the statements naming them in passing (as the observing manager): voided and
        # re-issued without them
        translated = result.counts["translate"] = translate.run()
        counts = erased.counts
        counts["statements_voided"] += sum(t["voided"] for t in translated.values())
        counts["statements_reissued"] += sum(t["statements"] for t in translated.values())
        with env.engine.begin() as conn:
            erasures.update_counts(conn, erased.erasure_id, counts)
        # the whole erasure's counts: the statements naming them in passing are only known now
        log.info("person erased", erasure_id=erased.erasure_id, **counts)
        result.counts["erase"] = {"erasure_id": erased.erasure_id, **counts}
        result.counts["deliver"] = _deliver(env, run_id)
    except BaseException as exc:
        with env.engine.begin() as conn:
            runs.finish_run(conn, run_id, "failed", result.counts, error=exc.__class__.__name__)
        raise
    with env.engine.begin() as conn:
        runs.finish_run(conn, run_id, "succeeded", result.counts)
    with env.engine.connect() as conn:
        erasures.vacuum(conn.execution_options(isolation_level="AUTOCOMMIT"))
    result.status = "succeeded"
    return result
