"""The translate stage's worker processes: batches translated beside the stage's own process.

Building, validating and serialising statements is pure Python, so a thread would wait for
the one interpreter lock; processes of their own run on the other cores. `Offload.send`
sends a batch (the rows, their ratings, what they emitted before) to a pool of `WORKERS`
processes and returns a future of its `Batch`. The stage writes the batches in the order it
read them, whoever made them, so the outbox is the same either way (the same
`BatchTranslator`, pickled once into each worker, makes the same bytes).

The workers start only once a run has translated `after` records in the stage's own process
(`Offload.local`, `Offload.here`): small and incremental runs never pay a worker's start (a
fresh interpreter importing the translators, about half a second, during which the stage goes
on translating). From then on the stage's process only reads, sends and writes: that is about
as much CPU as the translating (issue 17, at 10k reps), so two workers, one a core, keep both
cores busy whichever process the machine runs, where one worker had to wait whenever the
stage's process translated a batch of its own (its writer thread and the executor's thread
feeding the worker waited for that pure Python: see translate._AHEAD).
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adoptloop.pipeline.translate import Batch, BatchTranslator
    from adoptloop.store.outbox import EmittedRow
    from adoptloop.store.translation import RatingValues

WORKERS = 2  # worker processes
_IN_FLIGHT = 2 * WORKERS  # batches sent to the workers and not yet back, at most: one each
# being made, one each waiting


class Offload:
    """Batches translated here or in the worker processes (see the module's docstring)."""

    def __init__(self, translator: BatchTranslator, *, after: int) -> None:
        self._translator = translator
        self._after = after  # records translated here before the workers start
        self._local = 0
        self._pool: ProcessPoolExecutor | None = None
        self._sent: list[Future[Batch]] = []
        self.batches = 0  # batches the workers translated (or are translating)

    def __enter__(self) -> Offload:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=kind is not None)
            self._pool = None

    def local(self) -> bool:
        """Whether the next batch is made here (`here`): fewer than `after` records were."""
        return self._local < self._after

    def room(self) -> bool:
        """Whether the workers take a batch now: fewer than _IN_FLIGHT sent are not back."""
        self._sent = [f for f in self._sent if not f.done()]
        return len(self._sent) < _IN_FLIGHT

    def send(
        self,
        name: str,
        rows: list[dict[str, Any]],
        ratings: dict[tuple[str, str], list[RatingValues]],
        emitted: dict[str, EmittedRow],
    ) -> Future[Batch]:
        """The batch's future, made by a worker (the first batch sent starts them)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                # a fresh interpreter: forking would copy the stage's threads' locks
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self._translator,),
            )
        sent = self._pool.submit(_translate, name, rows, ratings, emitted)
        self._sent.append(sent)
        self.batches += 1
        return sent

    def here(
        self,
        name: str,
        rows: list[dict[str, Any]],
        ratings: dict[tuple[str, str], list[RatingValues]],
        emitted: dict[str, EmittedRow],
    ) -> Future[Batch]:
        """The batch's future, made here at once."""
        made: Future[Batch] = Future()
        made.set_result(self._translator.translate(name, rows, ratings, emitted))
        self._local += len(rows)
        return made


# A worker process's translator, set once when the process starts (_start).
_worker: list[BatchTranslator] = []


def _start(translator: BatchTranslator) -> None:
    # Ctrl-C or a service manager's stop signals the whole process group: the stage's process
    # stops at its next checkpoint and shuts the worker down; killed at once, the worker would
    # fail the stage instead (BrokenProcessPool) and the run be recorded failed, not stopped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker.append(translator)
    gc.freeze()  # what the worker imported is never garbage: left out of every collection


def _translate(
    name: str,
    rows: list[dict[str, Any]],
    ratings: dict[tuple[str, str], list[RatingValues]],
    emitted: dict[str, EmittedRow],
) -> Batch:
    return _worker[0].translate(name, rows, ratings, emitted)
