"""Translate: changed store rows -> validated statements in the outbox.

Reads only rows whose digest differs from the digest last translated, in (source, record_id)
order, so the outbox order (and thus an export) is the same in every fresh store. For each
statement key the draft's digest is compared with what was emitted before:

- same digest: nothing (re-running adds no statement);
- new key: revision 1;
- changed: the old statement is voided and revision n + 1 is sent;
- a key the record no longer produces (deleted, un-submitted, rating removed): voided.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from adoptloop import __version__
from adoptloop.domain import Rating
from adoptloop.mappings.records import (
    AdoptionTransitions,
    StoredAction,
    StoredCompletion,
    StoredObservation,
    StoredRecord,
)
from adoptloop.mappings.translate import TRANSLATORS, Draft, TranslateContext, record_ref
from adoptloop.pipeline.heap import heap_frozen
from adoptloop.pipeline.translate_worker import Offload, Span
from adoptloop.store import outbox, quarantine, translation
from adoptloop.store.commits import Commits
from adoptloop.store.db import streaming
from adoptloop.store.outbox import EmittedRow, EmittedValues
from adoptloop.store.quarantine import QuarantineEntry
from adoptloop.store.translation import RatingValues
from adoptloop.xapi import _validate_fast, canonical, vocab
from adoptloop.xapi.ids import StatementIds
from adoptloop.xapi.validate import XAPIVersion, validate_statement

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from adoptloop.mappings.capability_map import CapabilityMap

log = structlog.get_logger(__name__)

Enqueued = tuple[str, str, bytes, str | None]  # outbox.enqueue_values' statement_id, kind, ...
BATCH_SIZE = 250  # records read and translated at a time (_AHEAD + 1 batches held at once)
COMMIT_ROWS = 50_000  # statements and translated marks written between commits, at most
COMMIT_SECONDS = 5.0  # a write transaction is not held longer (the run lock's heartbeat waits)
WORKER_AFTER = 5_000  # due records whose bounds the stage reads before its workers start


@dataclass
class TranslateCounts:
    records: int = 0
    statements: int = 0
    voided: int = 0
    unchanged: int = 0
    invalid: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Finalizer:
    """Draft -> statement with id and version stamp, validated, as canonical bytes."""

    def __init__(self, ctx: TranslateContext, version: XAPIVersion) -> None:
        self.ctx = ctx
        self.ids = StatementIds(ctx.ns.base)
        self.version = version
        self._version_key = ctx.ns.extension(vocab.EXT_VERSION)
        self._memo = _validate_fast.Memo()  # Agents, verbs, Activities validated, by identity

    def finalize(self, statement_id: str, body: dict[str, Any]) -> tuple[bytes, list[str]]:
        statement = self.stamped(statement_id, body)
        return canonical.dumps(statement), self.problems(statement)

    def stamped(self, statement_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The draft with its id and the adoptloop version in context.extensions."""
        statement = {**body, "id": statement_id}
        context = dict(statement.get("context", {}))
        context["extensions"] = {**context.get("extensions", {}), self._version_key: __version__}
        statement["context"] = context
        return statement

    def problems(self, statement: dict[str, Any]) -> list[str]:
        """validate_statement's problems; parts shared by statements are checked once."""
        if _validate_fast.valid(statement, self.version, self._memo):
            return []  # the full validator's verdict (see _validate_fast)
        return [str(p) for p in validate_statement(statement, version=self.version)]

    def voiding(self, voided_id: str, when: str) -> tuple[str, bytes]:
        statement_id = self.ids.voiding(voided_id)
        body = {
            "actor": self.ctx.system_agent(),
            "verb": self.ctx.verb(vocab.VOIDED),
            "object": {"objectType": "StatementRef", "id": voided_id},
            "timestamp": when,
        }
        payload, problems = self.finalize(statement_id, body)
        if problems:  # a voiding statement is fixed-shape: invalid means a bug, not bad data
            raise AssertionError(f"voiding statement invalid: {problems}")
        return statement_id, payload


def as_record(
    table: str,
    row: dict[str, Any],
    ratings: Sequence[RatingValues],
    capabilities: CapabilityMap | None = None,
) -> StoredRecord:
    """A store row (and its ratings, as translation.ratings_of reads them) as the record its
    translator takes; a rating stored without a scale is rated by `capabilities` (KeyError
    when it cannot be)."""
    if table == "completions":
        return StoredCompletion(*_COMPLETION_FIELDS(row))
    if table == "development_actions":
        return StoredAction(*_ACTION_FIELDS(row))
    if table == "observations":
        rated = tuple([_rating(r, capabilities) for r in ratings])
        return StoredObservation(*[*_OBSERVATION_FIELDS(row), rated])
    return AdoptionTransitions(
        source=row["source"],
        record_id=row["record_id"],
        hr_id=row["hr_id"],
        capability_id=row["capability_id"],
        trained_at=row["trained_at"],
        transitions=tuple(
            (state, date.fromisoformat(on)) for state, on in orjson.loads(row["transitions"])
        ),
        deleted=row["deleted"],
    )


def _fields_of(record: type[Any], *, but: str = "") -> Callable[[dict[str, Any]], Any]:
    """The row's values of the fields of `record` (but one), in their order: the record's
    positional arguments, taken from the row at C speed."""
    names = [f.name for f in fields(record) if f.name != but]
    return itemgetter(*names)


_COMPLETION_FIELDS = _fields_of(StoredCompletion)
_ACTION_FIELDS = _fields_of(StoredAction)
_OBSERVATION_FIELDS = _fields_of(StoredObservation, but="ratings")


def _rating(values: RatingValues, capabilities: CapabilityMap | None) -> Rating:
    item, capability_id, raw, scale_min, scale_max, scaled = values
    if scale_min is None or scale_max is None:
        # stored before v3 while its item was not in the capability map: rated as pull rates
        # it now that the map has it again (KeyError or OutOfScaleError while it has not)
        if capabilities is None:
            raise KeyError(f"coaching item {item!r} has no scale")
        return capabilities.rate(item, raw)
    return Rating(item, capability_id, raw, scale_min, scale_max, scaled)


class BatchTranslator:
    """Store rows -> the statements and bookkeeping of one batch (`translate`), given what the
    rows' records emitted before. Reads and writes nothing, so it runs in the stage's process
    or, pickled once, in its worker process (pipeline/translate_worker.py) alike."""

    def __init__(self, ctx: TranslateContext, version: XAPIVersion, now: str) -> None:
        self.ctx = ctx
        self.finalizer = Finalizer(ctx, version)
        self.now = now  # the voiding statements' timestamp

    def translate(
        self,
        name: str,
        rows: Sequence[dict[str, Any]],
        ratings: dict[tuple[str, str], list[RatingValues]],
        emitted: dict[str, EmittedRow],
    ) -> Batch:
        """The batch's statements and bookkeeping, for the writer to write; `emitted`: what
        the rows' records emitted before (outbox.emitted_for)."""
        translator = TRANSLATORS[name]
        refs = [record_ref(name, r["source"], r["record_id"]) for r in rows]
        by_ref: dict[str, dict[str, EmittedRow]] = defaultdict(dict)
        for earlier in emitted.values():
            by_ref[earlier.record_ref][earlier.key] = earlier
        batch = Batch(name)
        queue, saves, bad, counts = batch.queue, batch.saves, batch.bad, batch.counts
        retry: set[str] = set()  # rows that could not be translated stay pending
        for row, ref in zip(rows, refs, strict=True):
            counts.records += 1
            try:
                record = as_record(
                    name,
                    row,
                    ratings.get((row["source"], row["record_id"]), []),
                    self.ctx.capabilities,
                )
                drafts = translator(record, self.ctx)
            except (KeyError, ValueError) as exc:
                # e.g. the capability map no longer has an item or capability this row uses:
                # keep what was emitted, say why, and retry once the map or the row changes
                counts.invalid += 1
                bad.append(
                    QuarantineEntry(
                        row["source"],
                        "statements",
                        ref,
                        f"{name} {row['record_id']}",
                        f"cannot translate with the current capability map: {exc!s}",
                    )
                )
                retry.add(ref)
                continue
            previous = by_ref.get(ref, {})
            for draft in drafts:
                problems = self.emit(
                    ref, draft, previous.pop(draft.key, None), queue, saves, counts
                )
                if problems:
                    counts.invalid += 1
                    bad.append(
                        QuarantineEntry(
                            row["source"],
                            "statements",
                            draft.key,
                            f"{name} {row['record_id']}",
                            "statement would be invalid: " + "; ".join(problems[:3]),
                        )
                    )
            for stale in previous.values():  # keys this record no longer produces
                if not stale.voided:
                    self.void(stale, queue, saves, counts)
        batch.translated = [
            (r["source"], r["record_id"], r["digest"])
            for r, ref in zip(rows, refs, strict=True)
            if ref not in retry
        ]
        return batch

    def emit(
        self,
        ref: str,
        draft: Draft,
        before: EmittedRow | None,
        queue: list[Enqueued],
        saves: list[EmittedValues],
        counts: TranslateCounts,
    ) -> list[str]:
        digest = canonical.digest(draft.body)
        if before is not None and before.digest == digest and not before.voided:
            counts.unchanged += 1
            return []
        revision = before.revision + 1 if before is not None else 1
        statement_id = self.finalizer.ids.statement(draft.key, revision)
        payload, problems = self.finalizer.finalize(statement_id, draft.body)
        if problems:
            return problems
        if before is not None and not before.voided:
            self.void(before, queue, saves, counts, save=False)
        queue.append((statement_id, draft.kind, payload, draft.hr_id))
        counts.statements += 1
        saves.append(
            (draft.key, ref, draft.hr_id, statement_id, revision, digest, False, before is not None)
        )
        return []

    def void(
        self,
        row: EmittedRow,
        queue: list[Enqueued],
        saves: list[EmittedValues],
        counts: TranslateCounts,
        *,
        save: bool = True,
    ) -> None:
        void_id, payload = self.finalizer.voiding(row.statement_id, self.now)
        queue.append((void_id, "voided", payload, None))
        counts.voided += 1
        if save:
            saves.append(
                (
                    row.key,
                    row.record_ref,
                    row.hr_id,
                    row.statement_id,
                    row.revision,
                    row.digest,
                    True,
                    True,
                )
            )


class TranslateStage:
    def __init__(
        self,
        engine: Engine,
        ctx: TranslateContext,
        run_id: str,
        version: XAPIVersion = "1.0.3",
        *,
        workers_when: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        # asked before the worker processes start: False holds them back (translate_worker.py)
        self._workers_when = workers_when
        self.run_id = run_id
        self.ctx = ctx
        self.now = canonical.timestamp(datetime.now(UTC))
        self.translator = BatchTranslator(ctx, version, self.now)
        self.finalizer = self.translator.finalizer
        self._earlier = True  # whether anything was emitted before (run() finds out)
        # the worker processes' peak RSS added up, MB (None: the run made every batch here)
        self.workers_peak_rss_mb: float | None = None

    def run(self) -> dict[str, dict[str, int]]:
        with self.engine.connect() as conn:
            # in a first translation nothing was emitted before: no batch need look it up (the
            # stage writes a record's keys once, so it never finds what it wrote itself)
            self._earlier = outbox.any_emitted(conn)
        with (
            heap_frozen(),
            _Writer(self.engine, self.run_id) as writer,
            Offload(
                self.translator,
                self.engine,
                after=WORKER_AFTER,
                earlier=self._earlier,
                start_when=self._workers_when,
            ) as offload,
        ):
            counts = {name: self._table(name, writer, offload).as_dict() for name in TRANSLATORS}
        self.workers_peak_rss_mb = offload.workers_peak_rss_mb
        return counts

    def _table(self, name: str, writer: _Writer, offload: Offload) -> TranslateCounts:
        """Reads the bounds of the table's next batches of changed rows, has each batch read
        and translated (here until a worker has started, then by the workers, see _AHEAD) and
        hands the batches to the writer in the order their bounds were read. The writer may
        still be writing the table's last batches when the next table's begin."""
        counts = TranslateCounts()
        last: tuple[str, str] = ("", "")
        # batches translated or being translated (here or in the worker), written in order
        made: deque[Future[Batch]] = deque()
        jobs: deque[Span] = deque()  # batches whose bounds were read, not yet translated
        exhausted = False
        remote = offload.batches
        # the reads go through the store in key order, each page once: a small page cache
        # (the writer's connection keeps the large one its random index writes need)
        with streaming(self.engine) as conn:
            while True:
                if not jobs and not exhausted:
                    keys = translation.changed_keys(conn, name, last, BATCH_SIZE * _BOUNDS)
                    conn.rollback()  # ends the read transaction
                    exhausted = len(keys) < BATCH_SIZE * _BOUNDS
                    # the first read found all of the table's due rows (few, as in an
                    # incremental run): each batch looks its rows up by their keys instead of
                    # walking the key past the rows that are not due (changed_rows)
                    lookup = exhausted and last == ("", "")
                    jobs.extend(_spans(name, last, keys, lookup))
                    last = keys[-1] if keys else last
                    offload.seen(len(keys))
                ahead = len(made) <= _AHEAD
                if jobs and ahead and offload.local():
                    made.append(offload.here(conn, jobs.popleft()))
                elif jobs and ahead and offload.room():
                    made.append(offload.send(jobs.popleft()))
                elif made and made[0].done() and not writer.busy:
                    writer.submit(_counted(made.popleft().result(), counts))
                elif not jobs and not made:
                    break  # everything read and translated, and handed to the writer
                else:  # until a batch is back from the workers or the writer is idle
                    waiting: list[Future[Any]] = [f for f in made if not f.done()]
                    wait([*waiting, *writer.writing], return_when=FIRST_COMPLETED)
        log.info(
            "translated", table=name, worker_batches=offload.batches - remote, **counts.as_dict()
        )
        return counts

    def replace(self, conn: Connection, ref: str, drafts: Sequence[Draft]) -> TranslateCounts:
        """Make `drafts` what `ref` emits now, as the table loop does for one record: an
        unchanged draft sends nothing, a changed one voids its key's statement and sends the
        next revision, a key `ref` no longer produces is voided (pipeline/estimates.py)."""
        counts = TranslateCounts(records=1)
        previous = {row.key: row for row in outbox.emitted_for(conn, [ref]).values()}
        queue: list[Enqueued] = []
        saves: list[EmittedValues] = []
        emit = self.translator.emit
        for draft in drafts:
            problems = emit(ref, draft, previous.pop(draft.key, None), queue, saves, counts)
            if problems:  # built from numbers and ids only: invalid means a bug, not bad data
                raise AssertionError(f"{draft.kind} statement invalid: {problems}")
        for stale in previous.values():
            if not stale.voided:
                self.translator.void(stale, queue, saves, counts)
        outbox.save_emitted_values(conn, saves)
        outbox.enqueue_values(conn, queue, self.run_id)
        return counts


def _spans(
    name: str, after: tuple[str, str], keys: Sequence[tuple[str, str]], lookup: bool
) -> list[Span]:
    """The batches of BATCH_SIZE records (the last one may be smaller) of the due `keys`, read
    in order after `after`, as spans (table, after, through, their keys when `lookup`)."""
    spans: list[Span] = []
    for start in range(0, len(keys), BATCH_SIZE):
        batch = list(keys[start : start + BATCH_SIZE])
        spans.append((name, after, batch[-1], batch if lookup else None))
        after = batch[-1]
    return spans


def _counted(batch: Batch, counts: TranslateCounts) -> Batch:
    """`batch`, its counts added to the table's."""
    for f in fields(TranslateCounts):
        setattr(counts, f.name, getattr(counts, f.name) + getattr(batch.counts, f.name))
    return batch


# batches made (or being made by the workers) but not yet handed to the writer, at most,
# beyond the one whose bounds were read last. Once its workers have started (translate_worker),
# the stage's process only reads each batch's bounds, hands the batch to the workers and writes
# the batches back in read order. At 10k reps (issue 17) it read and sent the rows, wrote, and
# translated a batch whenever its one worker had two to make (a third of all batches): 11.3
# CPU-s against the worker's ~7, and while it translated, its writer thread (whose driver gives
# up and takes back the interpreter lock for every row) and the executor's thread that hands
# the worker its next batch waited for that pure Python; the worker sat idle about a quarter
# of the stage. Now the stage's process uses ~6.5 CPU-s, the two workers the rest (~12).
# Eight, not four: the writer's commits (eleven at 10k reps, each ~0.13 CPU-s, a WAL
# checkpoint in some) hold it for as long as the two workers take to make about eight batches
# of observations; with four they sat idle until the commit was done (measured under load:
# the workers waited ~35 % of their time for a batch, ~25 % now). The batches held cost the
# stage's process ~10 MB more at most (observations: ~1.5 MB a batch).
_AHEAD = 8
# the batches whose bounds one read of keys gives (BATCH_SIZE each): 20 x 250 keys a query
# instead of one query per batch (each one a read transaction that starts on a page cache the
# writer's commits made stale)
_BOUNDS = 20


@dataclass
class Batch:
    """What translating a batch of `table` rows writes, in one go."""

    table: str
    queue: list[Enqueued] = field(default_factory=list)  # statements, in the order made
    saves: list[EmittedValues] = field(default_factory=list)  # `emitted` rows
    bad: list[QuarantineEntry] = field(default_factory=list)
    # the rows to mark translated: (source, record_id, the digest read with the row)
    translated: list[tuple[str, str, str]] = field(default_factory=list)
    counts: TranslateCounts = field(default_factory=TranslateCounts)


class _Writer:
    """Writes translated batches on a connection of its own, in a thread of its own, so that
    the store's work (index pages, commits: the sqlite3 and psycopg drivers release the GIL
    while the database works) overlaps translating the next batch. One batch is written at a
    time, in the order submitted; `submit` first waits for the batch before it, so at most one
    batch waits in memory. Several batches go in one transaction (random statement ids make
    every commit rewrite many index pages), committed after COMMIT_ROWS rows or COMMIT_SECONDS
    (a table whose rows give no statements, adoption_states at 100,000 reps, was once marked
    in one transaction of over a minute, and the run lock's heartbeat could not renew);
    what was written since the last commit is committed on a clean exit and rolled back when
    the stage fails, and a write's error is raised in the stage's thread."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.engine = engine
        self.run_id = run_id
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate-writer")
        self._pending: Future[None] | None = None
        self._conn: Connection | None = None  # opened, used and closed in the writer thread
        self._commits: Commits | None = None

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._pending = None
            try:
                self._thread.submit(self._finish, commit=kind is None).result()
            finally:
                self._thread.shutdown()

    def submit(self, batch: Batch) -> None:
        self.wait()
        self._pending = self._thread.submit(self._write, batch)

    @property
    def busy(self) -> bool:
        """Whether the batch submitted last is still being written."""
        return bool(self.writing)

    @property
    def writing(self) -> list[Future[None]]:
        """The write of the batch submitted last, while it is being written."""
        return [self._pending] if self._pending is not None and not self._pending.done() else []

    def wait(self) -> None:
        """Until the batch submitted last is written (its error, if any, raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, batch: Batch) -> None:
        if self._conn is None or self._commits is None:
            self._conn = self.engine.connect()
            self._commits = Commits(self._conn, rows=COMMIT_ROWS, seconds=COMMIT_SECONDS)
        conn, commits = self._conn, self._commits

        def write() -> None:
            outbox.save_emitted_values(conn, batch.saves)
            outbox.enqueue_values(conn, batch.queue, self.run_id)
            quarantine.quarantine(conn, self.run_id, batch.bad)
            translation.mark_translated(conn, batch.table, batch.translated)

        commits.write(write, len(batch.queue) + len(batch.translated))

    def _finish(self, *, commit: bool) -> None:
        conn, self._conn = self._conn, None
        commits, self._commits = self._commits, None
        if conn is None or commits is None:
            return
        try:
            if commit:
                commits.close()
            else:
                conn.rollback()
        finally:
            conn.close()
