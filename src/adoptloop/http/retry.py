"""The one retry policy of every outbound call (tenacity): what is retried, how long to wait,
when to stop.

- Only `RetriableError` is retried (connect errors, timeouts, 408/425/429/5xx as `status.classify`
  decides); anything else propagates at once, and the last RetriableError is re-raised when
  the policy gives up.
- The wait is the error's `retry_after` when the server set one (Retry-After), otherwise
  exponential backoff with jitter: 1, 2, 4, ... seconds plus up to one second, at most 60.
- Stopping is bounded by any of: the number of attempts; the total waiting, the next wait
  included (a wait that would pass the budget is not started); the wall-clock time since the
  first attempt. Each caller picks its bounds; at least one is required.
- `sleep` is injected so tests record the waits instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from adoptloop.errors import RetriableError

Sleep = Callable[[float], None]

_backoff = wait_exponential_jitter(initial=1, max=60, jitter=1)


def _wait(state: RetryCallState) -> float:
    """Seconds before the next attempt: the server's Retry-After, else backoff with jitter."""
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, RetriableError) and exc.retry_after is not None:
        return exc.retry_after
    return float(_backoff(state))


class _stop_after_waiting(stop_base):  # noqa: N801 - named like tenacity's own stop conditions
    """Stop when the waits so far plus the next one would pass `max_seconds`."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds

    def __call__(self, state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.max_seconds


def retrying(
    *,
    sleep: Sleep = time.sleep,
    max_attempts: int | None = None,
    max_wait_seconds: float | None = None,
    max_elapsed_seconds: float | None = None,
) -> Retrying:
    """A tenacity `Retrying` for one call: `for attempt in retrying(...): with attempt: ...`."""
    stops: list[stop_base] = []
    if max_attempts is not None:
        stops.append(stop_after_attempt(max_attempts))
    if max_wait_seconds is not None:
        stops.append(_stop_after_waiting(max_wait_seconds))
    if max_elapsed_seconds is not None:
        stops.append(stop_after_delay(max_elapsed_seconds))
    if not stops:
        raise ValueError("a retry policy needs a bound: attempts, waiting or elapsed time")
    return Retrying(
        retry=retry_if_exception_type(RetriableError),
        stop=stop_any(*stops),
        wait=_wait,
        sleep=sleep,
        reraise=True,
    )
