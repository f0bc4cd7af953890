"""The exception tree, organised by how each error is handled.

- ConfigError: the configuration is wrong; fatal, exit status 2, nothing written.
- StoreVersionError: the store was written by a newer adoptloop; fatal, exit status 2.
- RetriableError: network trouble, 429, 5xx; tenacity retries only these.
- SkippableRecord: one source record cannot become a domain record; it goes to quarantine.
- FatalSyncError: the sync cannot continue (bad credentials, a vendor error we cannot skip).
"""

from __future__ import annotations


class AdoptloopError(Exception):
    """Base of every error adoptloop raises on purpose. Each kind has its exit status (see
    docs/operations.md); 70 (EX_SOFTWARE) is for one that names none, which is a bug."""

    exit_code = 70


class ConfigError(AdoptloopError):
    """The configuration cannot be used. The message says where and how to fix it."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class StoreVersionError(AdoptloopError):
    """The store's schema is newer than this adoptloop understands."""

    exit_code = 2


class RetriableError(AdoptloopError):
    """A transient failure: retrying later may succeed (exit 75 once retries are spent)."""

    exit_code = 75

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalSyncError(AdoptloopError):
    """A stage cannot continue; what was committed so far stays committed."""

    exit_code = 3


class SkippableRecord(AdoptloopError):
    """One source record cannot become a domain record; it is quarantined with the reason."""

    def __init__(self, reason: str, *, record_key: str, location: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.record_key = record_key
        self.location = location
