"""The translate stage's worker processes: batches read and translated beside the stage's own
process.

Building, validating and serialising statements is pure Python, so a thread would wait for
the one interpreter lock; processes of their own run on the other cores. A batch is a `Span`
of a table's rows due for translation, its bounds read by the stage (`changed_keys`: keys
only). `Offload.send` hands it to a pool of `WORKERS` processes, each with its own read-only
use of the store: a worker reads the span's rows, their ratings and what they emitted before
(`read`), translates them and returns the `Batch`. The stage writes the batches in the order
it read their bounds, whoever made them, so the outbox is the same either way (the same
`BatchTranslator`, pickled once into each worker, makes the same bytes from the same rows; a
span's rows are not written by anyone until its batch is, so a worker reads what the stage
would have read).

The workers start once the stage has read the bounds of `after` due records (`Offload.seen`;
the stage reads the bounds of many batches at once): small and incremental runs never pay a
worker's start (a fresh interpreter importing the translators, about half a second of CPU
each); a store in memory, which no other process can open, is translated in the stage's
process alone. Until a worker is ready (`Offload.local`), the stage translates the batches
itself (`Offload.here`) instead of waiting for the workers' start, so the interpreters start
beside the stage's first batches (at 10k reps, issue 17: they started only after the stage
had translated 5,000 records alone, one core idle, and then the stage waited for them). From
then on the stage's process only reads bounds, sends spans and writes batches: the reads are
the workers', and two workers, one a core, keep both cores busy whichever process the machine
runs. The stage may also hold the workers back (`start_when`): the run does while its
estimates process is still reading and fitting (pipeline/estimates_child.py), so the two
workers do not share the cores with it, and the memory of all three is never held at once;
meanwhile the stage translates the batches itself, beside the estimates on the other core.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from adoptloop.mappings.translate import record_ref
from adoptloop.pipeline.rss import high_water_mb
from adoptloop.store import outbox, translation
from adoptloop.store.db import create_store_engine, sqlite_path, streaming

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Connection, Engine

    from adoptloop.pipeline.translate import Batch, BatchTranslator
    from adoptloop.store.outbox import EmittedRow
    from adoptloop.store.translation import RatingValues

WORKERS = 2  # worker processes
_IN_FLIGHT = 2 * WORKERS  # batches sent to the workers and not yet back, at most: one each
# being made, one each waiting

# A batch: a table's rows due for translation with `after` < (source, record_id) <= `through`;
# `keys`: their keys, to be looked up (few of the table's rows are due: changed_rows), or None.
Span = tuple[str, tuple[str, str], tuple[str, str], "list[tuple[str, str]] | None"]

# What a batch's translation reads: BatchTranslator.translate's arguments after the table.
Read = tuple[
    list[dict[str, Any]], dict[tuple[str, str], list["RatingValues"]], dict[str, "EmittedRow"]
]


def read(conn: Connection, span: Span, *, earlier: bool) -> Read:
    """The span's rows, the observations' ratings, and (`earlier`: anything was emitted
    before the stage) what the rows' records emitted before; the read transaction ended."""
    name, after, through, keys = span
    rows = translation.changed_rows(conn, name, after, through, keys)
    ratings = translation.ratings_of(conn, rows) if name == "observations" else {}
    emitted = (
        outbox.emitted_for(conn, [record_ref(name, r["source"], r["record_id"]) for r in rows])
        if earlier
        else {}
    )
    conn.rollback()  # ends the read transaction (PostgreSQL; SQLite: the WAL snapshot)
    return rows, ratings, emitted


class Offload:
    """Batches translated here or in the worker processes (see the module's docstring)."""

    def __init__(
        self,
        translator: BatchTranslator,
        engine: Engine,
        *,
        after: int,
        earlier: bool,
        start_when: Callable[[], bool] | None = None,
    ) -> None:
        self._translator = translator
        # asked before the workers start, once `after` records were seen: False holds them back
        # (the batches are made here meanwhile) and it is asked again at the next batch
        self._start_when = start_when
        self._url = engine.url.render_as_string(hide_password=False)
        self._earlier = earlier
        shared = engine.dialect.name != "sqlite" or sqlite_path(self._url) is not None
        self._after = after if shared else None  # due records seen before the workers start
        self._seen = 0
        self._pool: ProcessPoolExecutor | None = None
        self._ready: list[Future[None]] = []  # one per worker: done once a worker has started
        self._sent: list[Future[Batch]] = []
        self._others: set[int] = set()  # this process's children before the workers started
        self.batches = 0  # batches the workers translated (or are translating)
        # the workers' peak RSS added up, MB, read as they stop (None: none started, or no /proc)
        self.workers_peak_rss_mb: float | None = None

    def __enter__(self) -> Offload:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._pool is not None:
            self.workers_peak_rss_mb = self._workers_peak_mb()
            self._pool.shutdown(wait=True, cancel_futures=kind is not None)
            self._pool = None

    def _workers_peak_mb(self) -> float | None:
        """The high-water marks of the workers still running, added up (an upper bound of
        what they held at once)."""
        children = multiprocessing.active_children()
        peaks = [high_water_mb(c.pid) for c in children if c.pid not in self._others]
        known = [p for p in peaks if p is not None]
        return round(sum(known), 1) if known else None

    def seen(self, due: int) -> None:
        """The stage read the bounds of `due` more records: the workers start once `after`
        were and `start_when` allows it (each worker's start is sent a no-op, `_started`,
        which is done once it runs)."""
        self._seen += due
        self._start()

    def _start(self) -> None:
        if self._pool is not None or self._after is None or self._seen < self._after:
            return
        if self._start_when is not None and not self._start_when():
            return
        self._others = {c.pid for c in multiprocessing.active_children() if c.pid}
        self._pool = ProcessPoolExecutor(
            max_workers=WORKERS,
            # a fresh interpreter: forking would copy the stage's threads' locks
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self._translator, self._url, self._earlier),
        )
        self._ready = [self._pool.submit(_started) for _ in range(WORKERS)]

    def local(self) -> bool:
        """Whether the next batch is made here (`here`): no worker has started yet (or none
        will: too few records due, or the store is in this process's memory)."""
        self._start()  # held back by `start_when` until now
        if self._ready and any(f.done() for f in self._ready):
            for ready in self._ready:
                if ready.done():
                    ready.result()  # a worker that could not start fails the stage here
            self._ready = []
        return self._pool is None or bool(self._ready)

    def room(self) -> bool:
        """Whether the workers take a batch now: fewer than _IN_FLIGHT sent are not back."""
        self._sent = [f for f in self._sent if not f.done()]
        return len(self._sent) < _IN_FLIGHT

    def send(self, span: Span) -> Future[Batch]:
        """The batch's future, read and made by a worker (once `local` is False)."""
        if self._pool is None:
            raise RuntimeError("the translate workers have not started")
        sent = self._pool.submit(_translate, span)
        self._sent.append(sent)
        self.batches += 1
        return sent

    def here(self, conn: Connection, span: Span) -> Future[Batch]:
        """The batch's future, read on `conn` and made here at once."""
        made: Future[Batch] = Future()
        made.set_result(
            self._translator.translate(span[0], *read(conn, span, earlier=self._earlier))
        )
        return made


class _Worker:
    """A worker process's translator and its read-only use of the store."""

    def __init__(self, translator: BatchTranslator, url: str, *, earlier: bool) -> None:
        self.translator = translator
        self.earlier = earlier
        self.engine = create_store_engine(url)
        # one connection for the process's life, with the small streaming cache: each batch's
        # pages are read once (closed with the process)
        self._open = contextlib.ExitStack()
        self.conn = self._open.enter_context(streaming(self.engine))

    def translate(self, span: Span) -> Batch:
        return self.translator.translate(span[0], *read(self.conn, span, earlier=self.earlier))


# The worker process's translator and store, set once when the process starts (_start).
_worker: list[_Worker] = []


def _start(translator: BatchTranslator, url: str, earlier: bool) -> None:
    # Ctrl-C or a service manager's stop signals the whole process group: the stage's process
    # stops at its next checkpoint and shuts the worker down; killed at once, the worker would
    # fail the stage instead (BrokenProcessPool) and the run be recorded failed, not stopped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker.append(_Worker(translator, url, earlier=earlier))
    gc.freeze()  # what the worker imported is never garbage: left out of every collection


def _started() -> None:
    """Nothing: done once a worker process has started (its initializer, _start, ran)."""


def _translate(span: Span) -> Batch:
    return _worker[0].translate(span)
