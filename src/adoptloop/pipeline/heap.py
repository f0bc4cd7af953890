"""The cyclic garbage collector while a bulk stage runs.

A bulk stage (pull, translate) allocates a few containers per record, and the records it holds
in flight (batches read ahead, batches waiting for the writer) outlive the young collections,
so they reach the oldest generation and die there: full collections then run every second or
so, each walking the whole heap (measured in a pull at 10k reps: 21 full collections, 3.6-5.2 s
of collecting in all, every one of them holding the interpreter lock; the pull's CPU went from
17.5-19.8 to 14.8-15.8 s with this; in translate about a fifth of the stage's CPU time).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG = 10_000  # net container allocations between young collections while a stage runs


@contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects that exist before the stage (modules, settings, what earlier stages keep)
    left out of the collector's passes while the stage runs (gc.freeze), and young
    collections every YOUNG net allocations instead of 700. The stage's own garbage is still
    collected; afterwards the frozen objects are collectable again (gc.unfreeze) and the
    thresholds are restored."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
