"""Reading a source while the previous items are written: a connector's items from a thread.

A pull alternates between waiting on the source (an HTTP answer, a file) and writing to the
store. `read_ahead` runs the source's generator in a thread that stays at most `depth` batches
ahead, so the source's waits overlap the store's writes (the sqlite3 module and sockets release
the GIL while they work). The items come out in the same order; an exception the source raises
comes out after the items it yielded before it, as it would without the thread. Leaving the
loop early (an error while writing, a stop at a checkpoint) stops the thread and closes the
source's generator before `read_ahead` returns.

While a source is read ahead, the interpreter's switch interval is short (SWITCH_SECONDS):
the reading thread mostly waits on sockets, and when an answer arrives it needs the GIL back,
which a writer busy in Python code gives up only when the interval has run out (5 ms by
default). A request takes a few such hand-overs (send, status line, body), so with the
default the next request of a backfill's thousand-odd would go out milliseconds late each
time; the source's requests are the pull's critical path (`pull_vs_bare_fetch`).
"""

from __future__ import annotations

import contextvars
import queue
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

BATCH = 200  # items handed over at a time
# batches the source may be ahead of the writer, at most: a page's worth of records (a Bulk
# result chunk is 5,000 rows), so that the source goes on to its next requests while the
# writer still has the page before to write, instead of waiting for it after a few batches
DEPTH = 25
_PUT_WAIT = 0.1  # seconds between looks at the stop flag while the writer is behind
SWITCH_SECONDS = 0.0005  # the interpreter's switch interval while a source is read ahead


class _ShortSwitch:
    """The short switch interval while at least one source is read ahead: set by the first,
    given back (as it was before the first) by the last, whichever order they end in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._before = 0.0

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                self._before = sys.getswitchinterval()
                sys.setswitchinterval(min(self._before, SWITCH_SECONDS))
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._before)


_SHORT_SWITCH = _ShortSwitch()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def read_ahead(
    items: Iterator[T],
    *,
    flush: Callable[[T], bool] = lambda _item: False,
    batch: int = BATCH,
    depth: int = DEPTH,
) -> Generator[T, None, None]:
    """`items`, read in a thread; a batch is handed over when full or after an item for which
    `flush` is true (a checkpoint: the writer commits it without waiting for more)."""
    handed: queue.Queue[list[T] | _Raised | object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(thing: list[T] | _Raised | object) -> bool:
        while not stop.is_set():
            try:
                handed.put(thing, timeout=_PUT_WAIT)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        pending: list[T] = []
        try:
            for item in items:
                pending.append(item)
                if len(pending) >= batch or flush(item):
                    if not put(pending):
                        return
                    pending = []
            if pending and not put(pending):
                return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            if pending:
                put(pending)
            put(_Raised(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    context = contextvars.copy_context()  # the log's bound fields (connector, stream, run)
    thread = threading.Thread(target=context.run, args=(produce,), name="read-ahead", daemon=True)
    _SHORT_SWITCH.enter()
    try:
        thread.start()
        while True:
            got = handed.get()
            if got is _END:
                return
            if isinstance(got, _Raised):
                raise got.exc
            assert isinstance(got, list)  # noqa: S101 - the only other kind handed over
            yield from got
    finally:
        stop.set()
        if thread.ident is not None:  # started
            thread.join()
        _SHORT_SWITCH.leave()
