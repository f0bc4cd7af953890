"""Issue 17, estimates stage, point 4 (the stage's peak memory): the pages the estimates'
inputs were read through are given back before the first fit, so SQLite's page cache (up to
32 MB a connection) does not sit under the statistics libraries and their working memory.

SQLite's own count of the memory it holds (sqlite3_memory_used, all connections of the
process) is read through the sqlite3 module's library.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from adoptloop.adoption import raters, uplift
from adoptloop.adoption.estimates import estimates_as_of
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import adoption as store
from tests.adoption.test_incremental_states import _pull
from tests.adoption.test_kept_estimates import AS_OF, capabilities, org
from tests.support import require

__all__ = ["capabilities", "org"]  # the fixtures this module uses


def _sqlite_memory_used() -> Callable[[], int]:
    import _sqlite3  # the C extension: its library's own functions

    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError) as exc:
        require("sqlite3_memory_used", f"not exported by {_sqlite3.__file__}: {exc}")
        raise
    used.restype = ctypes.c_int64
    return lambda: int(used())


def test_the_read_s_page_cache_is_given_back_before_the_first_fit(
    org: Path, engine: Engine, capabilities: CapabilityMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 4: SQLite holds no more memory when the first fit (uplift or leniency) starts
    than before the computation began, although reading the inputs filled megabytes of it."""
    used = _sqlite_memory_used()
    _pull(engine, org, capabilities)
    seen: dict[str, int] = {}

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.setdefault(name, used())
            seen.setdefault("first fit", used())
            return real(*args, **kwargs)

        return call

    def read_spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:  # the last read, after the ratings'
            yield from real(*args, **kwargs)
            seen["read"] = used()

        return call

    monkeypatch.setattr(uplift, "_imputation", spy("uplift", uplift._imputation))
    monkeypatch.setattr(raters, "_fit", spy("leniency", raters._fit))
    monkeypatch.setattr(
        "adoptloop.adoption.uplift.first_completions", read_spy(store.first_completions)
    )
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA shrink_memory")
        before = used()
        found = estimates_as_of(conn, capabilities, AS_OF)
    assert found.fits["uplift"]["fitted"]
    assert found.fits["leniency"]["fitted"]
    read = seen["read"] - before
    assert read > 1_000_000, seen  # the inputs were read through the page cache
    assert seen["first fit"] - before < read / 10, seen


def test_no_frame_of_the_fits_outlives_the_computation(
    org: Path, engine: Engine, capabilities: CapabilityMap
) -> None:
    """Point 4: the fits' pandas frames, which sit in reference cycles, are freed when the
    estimates are computed, not at the cyclic collector's next full pass (some time into the
    next stage, whose peak they would add to)."""
    _pull(engine, org, capabilities)
    gc.collect()
    gc.disable()  # no collection but the computation's own
    try:
        with engine.connect() as conn:
            found = estimates_as_of(conn, capabilities, AS_OF)
        left = [o for o in gc.get_objects() if type(o).__name__ in {"NumpyBlock", "DataFrame"}]
    finally:
        gc.enable()
    assert found.fits["uplift"]["fitted"]
    assert found.fits["leniency"]["fitted"]
    assert left == []
