"""A Bulk read maps its chunks in two threads, in order (issue 17 point 2, pull_vs_bare_fetch:
the next chunk's lookups are on the wire while this one is turned into records)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from adoptloop.connectors.crm.salesforce.sync import in_order
from adoptloop.domain import Checkpoint, Item

WAIT = 10.0  # seconds a test waits for the other thread before it fails


def _items(n: int) -> list[Item]:
    return [Checkpoint("s", str(n))]


def test_the_next_chunk_is_mapped_while_the_caller_still_holds_this_one() -> None:
    """Issue 17 point 2: while the caller has chunk 1's items, chunk 2's work (its lookups)
    has already started in another thread; read in line it would start only after."""
    second_started = threading.Event()

    def work(n: int) -> list[Item]:
        if n == 2:
            second_started.set()
        return _items(n)

    chunks = in_order(iter([(1, "a", True), (2, "b", True), (3, "c", False)]), work)
    assert next(chunks) == (_items(1), "a")
    assert second_started.wait(WAIT)
    assert list(chunks) == [(_items(2), "b"), (_items(3), "c")]


def test_chunks_keep_their_order_whichever_thread_finishes_first() -> None:
    """Issue 17 point 2 (behaviour unchanged): the items of each chunk come in the chunks'
    order, each with what followed it in the source (its checkpoint)."""
    first_may_finish = threading.Event()

    def work(n: int) -> list[Item]:
        if n == 1:
            assert first_may_finish.wait(WAIT)
        else:
            first_may_finish.set()  # chunk 2 finishes before chunk 1
        return _items(n)

    got = list(in_order(iter([(n, n * 10, True) for n in range(1, 6)]), work))
    assert got == [(_items(n), n * 10) for n in range(1, 6)]


def test_a_failing_chunk_raises_where_its_items_would_have_come() -> None:
    """Issue 17 point 2 (behaviour unchanged): a lookup that fails (an exhausted budget) raises
    after the chunks before it, and no chunk after it is handed on."""

    def work(n: int) -> list[Item]:
        if n == 2:
            raise RuntimeError("chunk 2")
        return _items(n)

    chunks = in_order(iter([(1, "a", True), (2, "b", True), (3, "c", True)]), work)
    assert next(chunks) == (_items(1), "a")
    with pytest.raises(RuntimeError, match="chunk 2"):
        next(chunks)
    assert list(chunks) == []


def test_a_source_that_fails_hands_on_the_chunks_it_gave_before() -> None:
    """Issue 17 point 2 (behaviour unchanged): a Bulk page that cannot be fetched raises only
    after the chunks (and so the checkpoints, e.g. the new job's) read before it."""

    def source() -> Iterator[tuple[int, str, bool]]:
        yield 1, "job created", True
        raise RuntimeError("page 2")

    chunks = in_order(source(), _items)
    assert next(chunks) == (_items(1), "job created")
    with pytest.raises(RuntimeError, match="page 2"):
        next(chunks)


def test_leaving_early_closes_the_source() -> None:
    """Issue 17 point 2: a caller that stops (an error while writing) closes the source's
    generator, as a read in line would, once the chunks under way are done."""
    closed = threading.Event()

    def source() -> Iterator[tuple[int, int, bool]]:
        try:
            n = 0
            while True:
                n += 1
                yield n, n, True
        finally:
            closed.set()

    chunks = in_order(source(), _items)
    assert next(chunks) == (_items(1), 1)
    chunks.close()
    assert closed.is_set()


def test_the_source_is_not_read_past_a_page_before_the_caller_asks() -> None:
    """Issue 17 point 2 (API calls unchanged): the chunks of a page already fetched are mapped
    ahead, but the next page (a request) is asked for only when the caller wants its rows, so
    a read stopped after a page costs no request a read in line would not have made."""
    asked: list[int] = []

    def source() -> Iterator[tuple[int, str, bool]]:
        for n, in_hand in ((1, True), (2, False), (3, False)):
            asked.append(n)
            yield n, f"after {n}", in_hand

    chunks = in_order(source(), _items)
    assert next(chunks) == (_items(1), "after 1")
    assert next(chunks) == (_items(2), "after 2")
    assert asked == [1, 2]  # page 2 (chunk 3) not fetched yet
    chunks.close()
    assert asked == [1, 2]
