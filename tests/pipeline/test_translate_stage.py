"""pipeline/translate.py: a store row becomes the typed record its translator takes; the stage
writes a batch while it translates the next."""

from __future__ import annotations

import gc
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from structlog.testing import capture_logs

from adoptloop.domain import Rating
from adoptloop.mappings.capability_map import OutOfScaleError
from adoptloop.mappings.records import StoredObservation
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline import heap, translate_worker
from adoptloop.pipeline import translate as translate_stage
from adoptloop.pipeline.translate import BatchTranslator, as_record
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import commits as commits_module
from adoptloop.store import outbox, schema, translation
from adoptloop.store.db import STREAM_CACHE_KIB, open_store
from adoptloop.store.translation import RatingValues
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace
from tests.store.rows import completion_row
from tests.support import DEMO_CONFIG, translate_workers_first

DEMO_CAPABILITIES = DEMO_CONFIG.parent / "demo" / "capabilities.yaml"


def _observation() -> dict[str, Any]:
    return {
        "source": "crm",
        "record_id": "R1",
        "observer_hr_id": "M1",
        "observed_hr_id": "E1",
        "visit_date": date(2026, 3, 2),
        "timezone": "UTC",
        "status": "submitted",
        "counted": True,
        "submitted_at": None,
        "modified_at": None,
        "has_next_step": False,
        "names_capability": False,
        "word_count": 0,
        "deleted": False,
        "digest": "d",
        "translated_digest": None,
    }


def _rating(item: str, raw: float, low: float | None, high: float | None) -> RatingValues:
    """A rating as translation.ratings_of reads it."""
    scaled = 0.0 if low is None or high is None else (raw - low) / (high - low)
    return (item, "x", raw, low, high, scaled)


def test_a_rating_keeps_the_scale_it_was_stored_with() -> None:
    record = as_record("observations", _observation(), [_rating("Opening_Rating__c", 3, 0, 4)])
    assert isinstance(record, StoredObservation)
    assert record.ratings == (Rating("Opening_Rating__c", "x", 3, 0, 4, 0.75),)


def test_a_rating_stored_without_a_scale_is_rated_by_the_capability_map_it_is_back_in() -> None:
    """A v2 rating whose item was missing from the map at the upgrade is translatable again
    once the map has the item (instead of staying unscaled for ever)."""
    capabilities = load_capability_map(DEMO_CAPABILITIES)
    row = _rating("Opening_Rating__c", 4, None, None)
    record = as_record("observations", _observation(), [row], capabilities)
    assert isinstance(record, StoredObservation)
    assert record.ratings == (capabilities.rate("Opening_Rating__c", 4),)
    assert record.ratings[0].scale_min == 1.0
    assert record.ratings[0].scaled == 0.75


def test_a_rating_without_a_scale_whose_item_is_not_mapped_is_not_translatable() -> None:
    capabilities = load_capability_map(DEMO_CAPABILITIES)
    with pytest.raises(KeyError, match="Gone_Rating__c"):
        as_record(
            "observations", _observation(), [_rating("Gone_Rating__c", 2, None, None)], capabilities
        )
    with pytest.raises(KeyError):
        as_record("observations", _observation(), [_rating("Opening_Rating__c", 2, None, None)])
    with pytest.raises(OutOfScaleError):
        as_record(
            "observations",
            _observation(),
            [_rating("Opening_Rating__c", 9, None, None)],
            capabilities,
        )


def _store_with_completions(tmp_path: Path, count: int) -> Engine:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        conn.execute(
            schema.completions.insert(),
            [
                completion_row("lms", f"C{n:03d}", hr_id=f"E{n}", digest=f"d{n}")
                for n in range(count)
            ],
        )
    return engine


def _translated_hr_ids(engine: Engine) -> list[str]:
    """The stage run once on `engine` (then disposed): its statements' hr_ids, in outbox order."""
    try:
        translate_stage.TranslateStage(engine, _context(), "run-1").run()
        with engine.connect() as conn:
            made = conn.execute(select(schema.outbox.c.hr_id).order_by(schema.outbox.c.seq))
            return list(made.scalars())
    finally:
        engine.dispose()


def _context() -> TranslateContext:
    return TranslateContext(
        ns=Namespace("https://adoptloop.example.com/xapi"),
        actors=Pseudonymizer("https://adoptloop.example.com", b"k" * 16),
        capabilities=load_capability_map(DEMO_CAPABILITIES),
    )


def test_a_batch_is_written_while_the_next_one_is_translated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 point 2 (translate: overlap writes with translating the next batch): the
    outbox insert of batch 1 waits until batch 2 is being translated, which only happens when
    the writes run beside the translation; every statement is then written, in order."""
    engine = _store_with_completions(tmp_path, 6)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    next_batch = threading.Event()
    translating = translate_stage.BatchTranslator.translate

    def translate_batch(self: Any, name: str, rows: Any, *args: Any) -> Any:
        if rows[0]["record_id"] == "C002":
            next_batch.set()
        return translating(self, name, rows, *args)

    enqueue = outbox.enqueue_values

    def enqueue_after_the_next_batch_started(conn: Any, rows: Any, run_id: str) -> None:
        if rows and not next_batch.wait(timeout=20):
            raise AssertionError("batch 2 was not translated while batch 1 was being written")
        enqueue(conn, rows, run_id)

    monkeypatch.setattr(translate_stage.BatchTranslator, "translate", translate_batch)
    monkeypatch.setattr(outbox, "enqueue_values", enqueue_after_the_next_batch_started)
    try:
        counts = translate_stage.TranslateStage(engine, _context(), "run-1").run()
        with engine.connect() as conn:
            made = conn.execute(select(schema.outbox.c.hr_id).order_by(schema.outbox.c.seq))
            hr_ids = list(made.scalars())
            marked = conn.execute(
                select(schema.completions.c.translated_digest).order_by(
                    schema.completions.c.record_id
                )
            ).scalars()
            assert list(marked) == [f"d{n}" for n in range(6)]
    finally:
        engine.dispose()
    assert counts["completions"]["statements"] == 6
    assert hr_ids == [f"E{n}" for n in range(6)]


def test_a_failed_write_rolls_back_and_stops_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 point 2 (translate, the writer): an error writing a batch is raised by the
    stage, and nothing of the uncommitted batches stays (no statement, no row marked)."""
    engine = _store_with_completions(tmp_path, 6)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    enqueue = outbox.enqueue_values

    def fail_on_the_second_batch(conn: Any, rows: Any, run_id: str) -> None:
        if rows and rows[0][3] == "E2":
            raise RuntimeError("disk full")
        enqueue(conn, rows, run_id)

    monkeypatch.setattr(outbox, "enqueue_values", fail_on_the_second_batch)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            translate_stage.TranslateStage(engine, _context(), "run-1").run()
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema.outbox)).scalar() == 0
            marked = conn.execute(select(schema.completions.c.translated_digest)).scalars()
            assert set(marked) == {None}
    finally:
        engine.dispose()


def test_the_writer_commits_every_few_seconds_even_when_batches_give_no_statements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the 100k-rep growth point): the writer committed only every 50,000
    statements, so a table whose rows give none (adoption_states) was marked in one
    transaction of over a minute and the run lock's heartbeat could not renew. Now a
    transaction also ends after COMMIT_SECONDS: with a clock that moves 10 s per look, each
    batch is committed before the next is written, as another connection sees."""
    engine = _store_with_completions(tmp_path, 6)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)

    class Clock:
        now = 0.0

        def monotonic(self) -> float:
            self.now += 10.0
            return self.now

    monkeypatch.setattr(commits_module, "time", Clock())
    seen: list[int] = []
    enqueue = outbox.enqueue_values

    def enqueue_and_look(conn: Any, rows: Any, run_id: str) -> None:
        with engine.connect() as other:
            marked = select(func.count()).where(schema.completions.c.translated_digest.is_not(None))
            seen.append(other.execute(marked).scalar_one())
        enqueue(conn, rows, run_id)

    monkeypatch.setattr(outbox, "enqueue_values", enqueue_and_look)
    try:
        translate_stage.TranslateStage(engine, _context(), "run-1").run()
    finally:
        engine.dispose()
    assert seen == [0, 2, 4]


def test_the_stage_reads_with_a_small_page_cache_beside_its_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 point 2 (memory with the writer thread): the connection that reads the changed
    rows keeps SQLite's small streaming cache, so the writer's connection adds no second 24 MB
    cache to the process."""
    engine = _store_with_completions(tmp_path, 3)
    caches: list[int] = []
    reading = translation.changed_rows

    def changed_rows(conn: Any, *args: Any) -> Any:
        caches.append(conn.exec_driver_sql("PRAGMA cache_size").scalar())
        return reading(conn, *args)

    monkeypatch.setattr(translation, "changed_rows", changed_rows)
    try:
        translate_stage.TranslateStage(engine, _context(), "run-1").run()
    finally:
        engine.dispose()
    assert caches
    assert set(caches) == {-STREAM_CACHE_KIB}


def test_the_stage_reads_the_bounds_of_many_batches_a_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (translate_vs_naive): the stage's process reads the bounds of 20 batches with
    one query (each query is a read transaction that starts on a page cache the writer's
    commits made stale; one a batch cost it ~0.45 CPU-s at 10k reps), and cuts them into the
    same batches, written in read order."""
    engine = _store_with_completions(tmp_path, 30)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    limits: list[int] = []
    keys = translation.changed_keys

    def changed_keys(conn: Any, name: str, after: Any, limit: int) -> Any:
        limits.append(limit)
        return keys(conn, name, after, limit)

    batches: list[list[str]] = []
    translating = translate_stage.BatchTranslator.translate

    def translate_batch(self: Any, name: str, rows: Any, *args: Any) -> Any:
        batches.append([r["record_id"] for r in rows])
        return translating(self, name, rows, *args)

    monkeypatch.setattr(translation, "changed_keys", changed_keys)
    monkeypatch.setattr(translate_stage.BatchTranslator, "translate", translate_batch)
    hr_ids = _translated_hr_ids(engine)
    assert limits == [2 * 20] * 4  # one query a table: the 15 batches' bounds at once
    assert batches == [[f"C{n:03d}", f"C{n + 1:03d}"] for n in range(0, 30, 2)]
    assert hr_ids == [f"E{n}" for n in range(30)]


def test_the_stage_translates_with_the_earlier_heap_frozen_and_unfreezes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (translate speed): while the stage runs, the objects that existed before it are
    left out of the garbage collector's full passes (gc.freeze), which walked the whole heap
    every few thousand statements, and young collections are rarer; afterwards, also when the
    stage fails, neither holds."""
    thresholds = gc.get_threshold()
    engine = _store_with_completions(tmp_path, 3)
    frozen: list[int] = []
    reading = translation.changed_rows

    young: list[int] = []

    def changed_rows(conn: Any, *args: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        young.append(gc.get_threshold()[0])
        return reading(conn, *args)

    monkeypatch.setattr(translation, "changed_rows", changed_rows)
    try:
        translate_stage.TranslateStage(engine, _context(), "run-1").run()
        assert frozen
        assert min(frozen) > 0
        assert min(young) >= heap.YOUNG > thresholds[0]
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds

        def failing(conn: Any, *args: Any) -> Any:
            raise RuntimeError("read failed")

        monkeypatch.setattr(translation, "changed_keys", failing)
        with pytest.raises(RuntimeError):
            translate_stage.TranslateStage(engine, _context(), "run-2").run()
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds
    finally:
        engine.dispose()


def test_a_first_translation_looks_up_no_earlier_statements_and_a_later_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (translate speed): while nothing was emitted yet, no batch reads `emitted`
    (there is nothing to compare with); once something was, every batch does, so a changed
    record still voids and revises its statement."""
    engine = _store_with_completions(tmp_path, 3)
    lookups: list[list[str]] = []
    looking = outbox.emitted_for

    def emitted_for(conn: Any, refs: Any) -> Any:
        lookups.append(list(refs))
        return looking(conn, refs)

    monkeypatch.setattr(outbox, "emitted_for", emitted_for)
    try:
        first = translate_stage.TranslateStage(engine, _context(), "run-1").run()
        assert first["completions"]["statements"] == 3
        assert lookups == []
        with engine.begin() as conn:
            conn.execute(
                schema.completions.update()
                .where(schema.completions.c.record_id == "C001")
                .values(score=80.0, digest="changed")
            )
        second = translate_stage.TranslateStage(engine, _context(), "run-2").run()
        assert lookups == [["completions/lms/C001"]]
        assert second["completions"]["statements"] == 1
        assert second["completions"]["voided"] == 1
    finally:
        engine.dispose()


def _translate_twice(tmp_path: Path) -> tuple[list[Any], int]:
    """A first translation of 40 completions, then one after 10 changed and 5 were deleted (so
    revisions and voiding statements too), 4 rows a batch: what the store holds after each
    (outbox, `emitted`, marks) and the batches the worker made."""
    tmp_path.mkdir()
    engine = _store_with_completions(tmp_path, 40)
    t = schema.completions
    held: list[Any] = []
    worker_batches = 0
    try:
        for run in ("run-1", "run-2"):
            if run == "run-2":
                with engine.begin() as conn:
                    changed = t.c.record_id.in_([f"C{n:03d}" for n in range(0, 20, 2)])
                    conn.execute(t.update().where(changed).values(module_title="Two", digest="e"))
                    gone = t.c.record_id.in_([f"C{n:03d}" for n in range(21, 31, 2)])
                    conn.execute(t.update().where(gone).values(deleted=True, digest="x"))
            stage = translate_stage.TranslateStage(engine, _context(), run)
            stage.translator.now = "2026-03-05T00:00:00.000Z"  # the voiding statements' time
            with capture_logs() as logs:
                stage.run()
            worker_batches += sum(e.get("worker_batches", 0) for e in logs)
            with engine.connect() as conn:
                o, e = schema.outbox, schema.emitted
                held.append(
                    conn.execute(
                        select(o.c.statement_id, o.c.kind, o.c.hr_id, o.c.payload).order_by(o.c.seq)
                    ).all()
                )
                held.append(conn.execute(select(e).order_by(e.c.record_ref, e.c.key)).all())
                held.append(conn.execute(select(t.c.record_id, t.c.translated_digest)).all())
    finally:
        engine.dispose()
    return held, worker_batches


def test_a_large_translation_is_shared_with_a_worker_process_and_makes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 point 2 (translate at the kernel's speed): once a run has translated
    WORKER_AFTER records, batches go to a worker process as well (building, validating and
    serialising are pure Python: a second interpreter uses the second core), and the store
    ends up exactly as when the stage translates alone: the same statements, bytes and order,
    the same revisions and voiding statements, the same `emitted` rows and marks."""
    translate_workers_first(monkeypatch)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 4)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 100_000)
    alone, none = _translate_twice(tmp_path / "alone")
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 8)
    shared, worker_batches = _translate_twice(tmp_path / "shared")
    assert none == 0
    assert worker_batches > 0
    assert len(alone[0]) == 40
    assert len(alone[3]) == 40 + 10 * 2 + 5  # each revision voids the statement before it
    assert shared == alone


def test_the_translate_worker_leaves_interrupts_to_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (a reviewer's read): Ctrl-C or a service stop signals the whole process group;
    the worker ignores SIGINT and SIGTERM, so the stage's process stops at a checkpoint and
    shuts it down, instead of losing its worker mid-batch and failing the run."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(gc, "freeze", lambda: None)  # this process is not the worker
    try:
        translator = BatchTranslator(_context(), "1.0.3", "2026-03-02T10:00:00Z")
        translate_worker._start(translator, f"sqlite:///{tmp_path / 'store.db'}", False)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        translate_worker._worker.clear()
        for sig, handler in saved.items():
            signal.signal(sig, handler)


class _ThreadWorkers:
    """A stand-in for the workers' process pool: each batch read and made by a worker
    (translate_worker._Worker, its own connection to the store) in a thread of this process,
    a little slowly, as a worker busy with the batches sent to it would. The workers count as
    started (their `_started` done) once the test sets `started`."""

    def __init__(
        self, *_: Any, max_workers: int, initargs: tuple[BatchTranslator, str, bool], **__: Any
    ) -> None:
        translator, url, earlier = initargs
        self.worker = translate_worker._Worker(translator, url, earlier=earlier)
        self.pool = ThreadPoolExecutor(max_workers=max_workers)
        self.made = 0
        self.started: Future[None] = Future()

    def submit(self, task: Any, *args: Any) -> Future[Any]:
        if task is not translate_worker._translate:  # a worker's start (_started)
            return self.started

        def slowly() -> Any:
            time.sleep(0.02)
            self.made += 1
            return self.worker.translate(*args)

        return self.pool.submit(slowly)

    def shutdown(self, **_: Any) -> None:
        self.pool.shutdown()


def test_the_workers_start_at_once_and_the_stage_translates_until_one_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (translate_vs_naive: neither core idles): the stage starts its workers as soon
    as it has read the bounds of WORKER_AFTER due records, and translates the batches itself
    only until a worker is ready, instead of waiting for a fresh interpreter's start (before,
    the workers started only after the stage had translated WORKER_AFTER records alone, one
    core idle, and the stage then waited for them). Once one is ready the stage's process
    translates no batch itself, also while they are busy, and reads only each batch's bounds:
    the workers read the rows on their own connections; the outbox keeps read order."""
    engine = _store_with_completions(tmp_path, 20)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 4)
    pools: list[_ThreadWorkers] = []

    def workers(*args: Any, **kwargs: Any) -> _ThreadWorkers:
        pools.append(_ThreadWorkers(*args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(translate_worker, "ProcessPoolExecutor", workers)
    here: list[bool] = []  # per batch the stage's thread made: whether the workers had started
    translating = translate_stage.BatchTranslator.translate

    def translate_batch(self: Any, *args: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            here.append(bool(pools))
            if len(here) == 2 and pools:  # a worker is ready after the stage's second batch
                pools[0].started.set_result(None)
        return translating(self, *args)

    rows_read: list[bool] = []  # per batch's rows read: whether in the stage's thread
    reading = translation.changed_rows

    def changed_rows(conn: Any, *args: Any) -> Any:
        rows_read.append(threading.current_thread() is threading.main_thread())
        return reading(conn, *args)

    monkeypatch.setattr(translate_stage.BatchTranslator, "translate", translate_batch)
    monkeypatch.setattr(translation, "changed_rows", changed_rows)
    try:
        counts = translate_stage.TranslateStage(engine, _context(), "run-1").run()
        with engine.connect() as conn:
            made = conn.execute(select(schema.outbox.c.hr_id).order_by(schema.outbox.c.seq))
            hr_ids = list(made.scalars())
    finally:
        engine.dispose()
    assert here == [True, True]  # made here while the workers, already started, got ready
    assert pools[0].made == 20 // 2 - 2
    assert rows_read == [True, True] + [False] * (20 // 2 - 2)
    assert counts["completions"]["statements"] == 20
    assert hr_ids == [f"E{n}" for n in range(20)]


def test_the_workers_wait_for_the_estimates_process_and_the_stage_translates_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (memory: what the run's processes hold at once): while `workers_when` says no
    (the run: its estimates process is still reading and fitting), the stage starts no worker
    and makes the batches itself; asked again at each batch, the workers start once it says
    yes. The outbox keeps read order either way."""
    engine = _store_with_completions(tmp_path, 20)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 4)
    pools: list[_ThreadWorkers] = []

    asked: list[bool] = []  # each answer, in order
    started_after: list[int] = []  # how many answers were given when the workers started

    def workers(*args: Any, **kwargs: Any) -> _ThreadWorkers:
        started_after.append(len(asked))
        pools.append(_ThreadWorkers(*args, **kwargs))
        pools[-1].started.set_result(None)  # ready at once
        return pools[-1]

    monkeypatch.setattr(translate_worker, "ProcessPoolExecutor", workers)
    here: list[bool] = []  # per batch the stage's thread made: whether the workers had started
    translating = translate_stage.BatchTranslator.translate

    def translate_batch(self: Any, *args: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            here.append(bool(pools))
        return translating(self, *args)

    monkeypatch.setattr(translate_stage.BatchTranslator, "translate", translate_batch)
    answered = iter([False] * 5)  # the estimates answer at the sixth time the stage asks

    def estimates_answered() -> bool:
        asked.append(next(answered, True))
        return asked[-1]

    try:
        stage = translate_stage.TranslateStage(
            engine, _context(), "run-1", workers_when=estimates_answered
        )
        counts = stage.run()
        with engine.connect() as conn:
            made = conn.execute(select(schema.outbox.c.hr_id).order_by(schema.outbox.c.seq))
            hr_ids = list(made.scalars())
    finally:
        engine.dispose()
    assert asked[:6] == [False] * 5 + [True]
    assert started_after == [6]  # at the first yes, not before
    assert here  # the batches made while it said no: here, in the stage's process
    assert not any(here)
    assert pools[0].made == 20 // 2 - len(here)  # the rest by the workers
    assert counts["completions"]["statements"] == 20
    assert hr_ids == [f"E{n}" for n in range(20)]


def test_the_next_tables_batches_are_sent_while_the_last_ones_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (translate_vs_naive: neither core idles): the stage does not wait at the end
    of a table until its last batches are written: the next table's batches go to the workers
    meanwhile (before, the workers sat idle while the last few batches of each table were
    written), and the outbox still keeps read order, table after table."""
    engine = _store_with_completions(tmp_path, 12)
    with engine.begin() as conn:
        conn.execute(
            schema.development_actions.insert(),
            [
                {
                    "source": "crm",
                    "record_id": f"A{n:03d}",
                    "hr_id": f"P{n}",
                    "capability_id": "opening",
                    "agreed_on": date(2026, 3, 2),
                    "status": "agreed",
                    "digest": f"a{n}",
                    "deleted": False,
                }
                for n in range(12)
            ],
        )
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 4)
    events: list[tuple[str, str]] = []  # ("sent", table) and ("written", table), in order

    class Workers(_ThreadWorkers):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.started.set_result(None)

        def submit(self, task: Any, *args: Any) -> Future[Any]:
            if task is translate_worker._translate:
                events.append(("sent", args[0][0]))
            return super().submit(task, *args)

    monkeypatch.setattr(translate_worker, "ProcessPoolExecutor", Workers)
    marking = translation.mark_translated

    def mark_slowly(conn: Any, table_name: str, rows: Any) -> None:
        time.sleep(0.05)  # a writer slower than the workers
        marking(conn, table_name, rows)
        events.append(("written", table_name))

    monkeypatch.setattr(translation, "mark_translated", mark_slowly)
    try:
        counts = translate_stage.TranslateStage(engine, _context(), "run-1").run()
        with engine.connect() as conn:
            made = conn.execute(select(schema.outbox.c.hr_id).order_by(schema.outbox.c.seq))
            hr_ids = list(made.scalars())
    finally:
        engine.dispose()
    last_completions = max(i for i, e in enumerate(events) if e == ("written", "completions"))
    first_actions = events.index(("sent", "development_actions"))
    assert first_actions < last_completions
    assert counts["development_actions"]["statements"] == 12
    assert hr_ids == [f"E{n}" for n in range(12)] + [f"P{n}" for n in range(12)]


def test_a_translation_its_workers_read_resumes_after_a_failure_to_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (workers read their own rows): a translation whose batches the worker
    processes read from the store stops at a failed write with what it committed before;
    the next run translates the rest, and the store ends up exactly as after an uninterrupted
    translation in one process: the same statements, bytes and order, `emitted` rows, marks."""
    translate_workers_first(monkeypatch)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 4)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 100_000)
    alone, _ = _translate_twice(tmp_path / "alone")
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 8)
    monkeypatch.setattr(translate_stage, "COMMIT_ROWS", 1)  # each batch committed
    (tmp_path / "stopped").mkdir()
    engine = _store_with_completions(tmp_path / "stopped", 40)
    enqueue = outbox.enqueue_values

    def fail_at_the_sixth_batch(conn: Any, rows: Any, run_id: str) -> None:
        if rows and rows[0][3] == "E20":
            raise RuntimeError("disk full")
        enqueue(conn, rows, run_id)

    t, o, e = schema.completions, schema.outbox, schema.emitted
    try:
        monkeypatch.setattr(outbox, "enqueue_values", fail_at_the_sixth_batch)
        with pytest.raises(RuntimeError, match="disk full"):
            translate_stage.TranslateStage(engine, _context(), "run-1").run()
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(o)).scalar() == 20
        monkeypatch.setattr(outbox, "enqueue_values", enqueue)
        with capture_logs() as logs:
            translate_stage.TranslateStage(engine, _context(), "run-2").run()
        with engine.connect() as conn:
            resumed = [
                conn.execute(
                    select(o.c.statement_id, o.c.kind, o.c.hr_id, o.c.payload).order_by(o.c.seq)
                ).all(),
                conn.execute(select(e).order_by(e.c.record_ref, e.c.key)).all(),
                conn.execute(select(t.c.record_id, t.c.translated_digest)).all(),
            ]
    finally:
        engine.dispose()
    assert sum(entry.get("worker_batches", 0) for entry in logs) > 0
    assert resumed == alone[:3]


def test_the_workers_peak_memory_is_reported_and_is_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (peak RSS measured honestly): the translate stage's worker processes hold
    memory of their own beside the run's process; the stage reports their high-water marks
    added up (the `stage done` line's workers_peak_rss_mb, which bench/run.py adds to the run's
    peak), read from each worker's own VmHWM, not its ru_maxrss, which Linux starts at the
    parent's high-water mark: a stage started by a process holding 400 MB more still reports
    what the workers held themselves."""
    translate_workers_first(monkeypatch)
    if not Path("/proc/self/status").exists():
        pytest.skip("VmHWM is Linux's (/proc)")
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 4)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 8)
    engine = _store_with_completions(tmp_path, 40)
    ballast = bytearray(400 * 2**20)  # touched: resident in this process, not in the workers
    for k in range(0, len(ballast), 4096):
        ballast[k] = 1
    try:
        stage = translate_stage.TranslateStage(engine, _context(), "run-1")
        with capture_logs() as logs:
            stage.run()
        alone = translate_stage.TranslateStage(engine, _context(), "run-2")
        alone.run()  # nothing left to translate: no worker starts
    finally:
        del ballast
        engine.dispose()
    assert sum(e.get("worker_batches", 0) for e in logs) > 0
    peak = stage.workers_peak_rss_mb
    assert peak is not None
    # fresh interpreters with the translators imported: tens of MB each, not the 400 MB this
    # process held when it started them
    workers = translate_worker.WORKERS
    assert workers * 15 < peak < workers * 250
    assert alone.workers_peak_rss_mb is None


@pytest.mark.parametrize(("count", "looked_up"), [(5, True), (6, False), (9, False)])
def test_a_table_whose_due_rows_one_read_finds_has_its_batches_looked_up_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, looked_up: bool
) -> None:
    """Issue 17 (incremental run): when the first read of a table's keys finds all of its due
    rows, each batch looks its rows up by their keys; otherwise every batch walks the key."""
    engine = _store_with_completions(tmp_path, count)
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 2)
    monkeypatch.setattr(translate_stage, "_BOUNDS", 3)  # 6 keys a read
    given: list[Any] = []
    reading = translation.changed_rows

    def changed_rows(conn: Any, *args: Any) -> Any:
        given.append(args[-1])
        return reading(conn, *args)

    monkeypatch.setattr(translation, "changed_rows", changed_rows)
    hr_ids = _translated_hr_ids(engine)
    ids = [("lms", f"C{n:03d}") for n in range(count)]
    batches = [ids[n : n + 2] for n in range(0, count, 2)]
    assert given == (batches if looked_up else [None] * len(batches))
    assert hr_ids == [f"E{n}" for n in range(count)]
