"""The pull reads its source in a thread while the batches before are written (issue 17,
point 1: the pull's store writes overlap its HTTP waits instead of adding to them)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from adoptloop.pipeline.read_ahead import SWITCH_SECONDS, read_ahead

WAIT = 10.0  # seconds a test waits for the other thread before it fails


def test_the_source_is_read_while_the_writer_still_works_on_the_items_before() -> None:
    """Issue 17 point 1: while the writer holds item 1, the source already produces item 2
    (read in line, the source would only be asked for it after the writer is done)."""
    second_asked = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        second_asked.set()
        yield 2

    read = read_ahead(source(), batch=1)
    assert next(read) == 1
    assert second_asked.wait(WAIT)  # the writer has not asked for more yet
    assert list(read) == [2]


def test_items_keep_their_order_and_a_source_error_comes_after_the_items_before_it() -> None:
    """Issue 17 point 1 (behaviour unchanged): the same items in the same order, checkpoints
    handed over at once, and the source's own exception raised after what it yielded."""

    def source() -> Iterator[str]:
        yield from [f"row {i}" for i in range(7)]
        yield "checkpoint"
        yield "row 7"
        raise ValueError("the source failed")

    got: list[str] = []

    def drain() -> None:
        for item in read_ahead(source(), flush=lambda i: i == "checkpoint", batch=3):
            got.append(item)

    with pytest.raises(ValueError, match="the source failed"):
        drain()
    assert got == [*(f"row {i}" for i in range(7)), "checkpoint", "row 7"]


def test_leaving_early_stops_the_thread_and_closes_the_source() -> None:
    """Issue 17 point 1: a writer that stops (an error, a stop at a checkpoint) stops the
    reading thread and closes the source's generator before it goes on; the source is not
    read far beyond what was written."""
    closed = threading.Event()
    produced: list[int] = []

    def source() -> Iterator[int]:
        try:
            for i in range(1_000_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    read = read_ahead(source(), batch=10, depth=2)
    assert next(read) == 0
    read.close()
    assert closed.is_set()
    assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())
    assert len(produced) <= 10 * (2 + 2)  # the queue, the batch being handed and the next


def test_the_reading_thread_gets_the_interpreter_back_quickly_while_it_reads() -> None:
    """Issue 17 point 2 (pull_vs_bare_fetch): while a source is read ahead the interpreter
    hands the GIL to the waiting thread after a short interval (an HTTP answer that arrives
    while the writer runs Python code is taken up soon), and the interval is restored after."""
    before = sys.getswitchinterval()
    seen: list[float] = []

    def source() -> Iterator[int]:
        seen.append(sys.getswitchinterval())
        yield 1

    read = read_ahead(source())
    assert list(read) == [1]
    assert seen == [min(before, SWITCH_SECONDS)]
    assert seen[0] < before
    assert sys.getswitchinterval() == before


def test_overlapping_read_aheads_give_the_switch_interval_back_once_the_last_ends() -> None:
    """Issue 17 (a reviewer's read): two read-aheads that overlap without nesting (the first
    ends before the second) leave the interval as it was before both, not the short one the
    second saw when it began."""
    before = sys.getswitchinterval()
    first = read_ahead(iter([1, 2]), batch=1)
    assert next(first) == 1  # started: the interval is short now
    second = read_ahead(iter([3, 4]), batch=1)
    assert next(second) == 3
    first.close()
    assert sys.getswitchinterval() < before  # the second still reads
    second.close()
    assert sys.getswitchinterval() == before
