"""The one retry policy: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import itertools

import pytest

from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.http.retry import retrying


class Flaky:
    """Fails with the given errors in turn, then answers "ok"; counts the calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retriable_errors_are_retried_until_the_call_succeeds() -> None:
    sleeps: list[float] = []
    call = Flaky(RetriableError("503"), RetriableError("reset"))
    assert retrying(sleep=sleeps.append, max_attempts=5)(call) == "ok"
    assert call.calls == 3
    assert len(sleeps) == 2


def test_other_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    call = Flaky(FatalSyncError("401"))
    with pytest.raises(FatalSyncError, match="401"):
        retrying(sleep=sleeps.append, max_attempts=5)(call)
    assert call.calls == 1
    assert sleeps == []


def test_the_wait_is_the_servers_retry_after_when_it_gave_one() -> None:
    sleeps: list[float] = []
    call = Flaky(RetriableError("429", retry_after=7), RetriableError("429", retry_after=0.5))
    retrying(sleep=sleeps.append, max_attempts=5)(call)
    assert sleeps == [7, 0.5]


def test_without_retry_after_the_wait_backs_off_exponentially_with_at_most_a_second_of_jitter() -> (
    None
):
    sleeps: list[float] = []
    call = Flaky(*(RetriableError("503") for _ in range(8)))
    retrying(sleep=sleeps.append, max_attempts=10)(call)
    for n, wait in enumerate(sleeps):
        base = min(2.0**n, 60.0)
        assert base <= wait <= min(base + 1, 60.0), (n, sleeps)
    assert sleeps[-1] == 60.0  # 1, 2, 4, ..., 64 is capped at a minute


def test_giving_up_after_max_attempts_reraises_the_last_retriable_error() -> None:
    sleeps: list[float] = []
    call = Flaky(*(RetriableError(f"attempt {n}") for n in range(1, 10)))
    with pytest.raises(RetriableError, match="attempt 3"):
        retrying(sleep=sleeps.append, max_attempts=3)(call)
    assert call.calls == 3
    assert len(sleeps) == 2


def test_a_wait_that_would_pass_the_waiting_budget_is_not_started() -> None:
    sleeps: list[float] = []
    call = Flaky(*(RetriableError("429", retry_after=40) for _ in range(10)))
    with pytest.raises(RetriableError):
        retrying(sleep=sleeps.append, max_wait_seconds=100)(call)
    assert sleeps == [40, 40]  # a third 40 s wait would make 120 s
    assert call.calls == 3


def test_the_elapsed_time_bound_counts_the_clock_not_the_waits() -> None:
    sleeps: list[float] = []
    call = Flaky(RetriableError("503", retry_after=7), RetriableError("503", retry_after=9))
    assert retrying(sleep=sleeps.append, max_elapsed_seconds=5)(call) == "ok"
    assert sleeps == [7, 9]  # the injected sleep takes no time, so 5 s never pass


def test_an_elapsed_time_bound_that_has_passed_stops_at_the_first_failure() -> None:
    sleeps: list[float] = []
    call = Flaky(*(RetriableError("503") for _ in range(3)))
    with pytest.raises(RetriableError):
        retrying(sleep=sleeps.append, max_elapsed_seconds=0)(call)
    assert call.calls == 1
    assert sleeps == []


def test_the_first_bound_reached_stops_the_retries() -> None:
    sleeps: list[float] = []
    waits = itertools.count(10, 10)
    call = Flaky(*(RetriableError("429", retry_after=next(waits)) for _ in range(10)))
    with pytest.raises(RetriableError):
        retrying(sleep=sleeps.append, max_attempts=6, max_wait_seconds=35)(call)
    assert sleeps == [10, 20]  # 10 + 20 + 30 would pass 35 s before 6 attempts are made


def test_a_policy_without_any_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="bound"):
        retrying()
