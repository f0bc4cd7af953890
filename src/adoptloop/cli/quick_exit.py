"""Ending the `adoptloop run` process without freeing its heap.

At the end of a run the interpreter's own teardown (every module's and object's deallocation,
most of them the run's caches) took 0.17 s from the store's last close to the process's exit
(strace, 10,000 reps), 0.3-0.75 s on a loaded machine: a tenth of a nightly incremental run,
for nothing anyone reads. A command whose work is committed calls `ready` with
its store's engine: the engine is disposed (SQLite checkpoints its WAL and removes it as the
last connection closes), and the process may then end with `os._exit` once the command has
returned (`leave`, called by `cli.app.main` only: an in-process call of the app, as the tests
make, is never ended).

`leave` ends the process only when nothing the normal exit would still do is left undone:
- the command called `ready` and the engine had no connection checked out when disposed;
- no thread but the main one is alive (the normal exit would join the non-daemon ones; the
  executors' and the run lock's threads have ended by then) and no multiprocessing child is;
- the exit status is an int (0, 2, 65, 75, ...: what the command raised, kept as is);
- stdout and stderr flush without an error; then every `atexit` handler runs (logging's
  shutdown, multiprocessing's and weakref finalizers' clean-up) and both are flushed again.
Otherwise it returns and the interpreter exits as usual.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

_ready: ContextVar[bool] = ContextVar("adoptloop_quick_exit_ready", default=False)


def ready(engine: Engine) -> None:
    """The command's work is committed: close the store (dispose `engine`) and allow `leave`
    to end the process, unless a connection is still checked out (closed only at exit)."""
    checked_out = getattr(engine.pool, "checkedout", None)  # QueuePool's count (SQLite, psycopg)
    idle = checked_out is not None and checked_out() == 0
    engine.dispose()  # a new pool: the count must be read before
    _ready.set(idle)


def allowed() -> bool:
    """Whether `leave` would end the process now (see the module's docstring)."""
    if not _ready.get():
        return False
    if threading.enumerate() != [threading.main_thread()]:
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is None or not multiprocessing.active_children()


def leave(code: object) -> None:
    """End the process with `code` without the interpreter's teardown, when `allowed`;
    otherwise return (the caller lets the interpreter exit as usual)."""
    if not isinstance(code, int) or isinstance(code, bool) or not allowed():
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: the normal exit reports it
        return
    atexit._run_exitfuncs()  # the handlers the normal exit would run
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = 120  # what the interpreter exits with when it cannot flush them
    os._exit(code)
