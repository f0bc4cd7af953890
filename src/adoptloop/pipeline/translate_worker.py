"""The translate stage's second process: batches translated beside the stage's own.

Building, validating and serialising statements is pure Python, so a thread would wait for
the one interpreter lock; a process of its own runs on the other core. `Offload.translate`
sends a batch (the rows, their ratings, what they emitted before) to one worker process and
returns a future of its `Batch`; while the worker is busy with `_IN_FLIGHT` batches, the stage
translates the next one itself, so neither process waits for the other. The stage writes the
batches in the order it read them, whoever made them, so the outbox is the same either way
(the same `BatchTranslator`, pickled once into the worker, makes the same bytes).

The worker starts only once a run has translated `after` records in the stage's own process:
small and incremental runs never pay the worker's start (a fresh interpreter importing the
translators, about half a second, during which the stage goes on translating).
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

_IN_FLIGHT = 2  # batches sent to the worker and not yet back, at most


class Offload:
    """Batches translated here or in the worker process (see the module's docstring)."""

    def __init__(self, translator: BatchTranslator, *, after: int) -> None:
        self._translator = translator
        self._after = after  # records translated here before the worker starts
        self._local = 0
        self._pool: ProcessPoolExecutor | None = None
        self._sent: list[Future[Batch]] = []
        self.batches = 0  # batches the worker translated (or is translating)

    def __enter__(self) -> Offload:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=kind is not None)
            self._pool = None

    def translate(
        self,
        name: str,
        rows: list[dict[str, Any]],
        ratings: dict[tuple[str, str], list[RatingValues]],
        emitted: dict[str, EmittedRow],
    ) -> Future[Batch]:
        """The batch's future: sent to the worker when it has room, else made here at once."""
        self._sent = [f for f in self._sent if not f.done()]
        if self._local >= self._after and len(self._sent) < _IN_FLIGHT:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    # a fresh interpreter: forking would copy the stage's threads' locks
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self._translator,),
                )
            sent = self._pool.submit(_translate, name, rows, ratings, emitted)
            self._sent.append(sent)
            self.batches += 1
            return sent
        made: Future[Batch] = Future()
        made.set_result(self._translator.translate(name, rows, ratings, emitted))
        self._local += len(rows)
        return made


# The worker process's translator, set once when the process starts (_start).
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
