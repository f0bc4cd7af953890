"""The standard checks every connector must pass, as a reusable pytest base class.

A connector's test module describes its vendor once, as a `FakeVendor` on a `FakeApi`, and
subclasses `ConnectorContract` with two factory methods; pytest then runs the standard checks
on it:

    class TestMyLmsContract(ConnectorContract):
        stream = "completions"
        table = "completions"

        def make_vendor(self) -> MyFakeLms:
            return MyFakeLms()

        def make_connector(self, vendor, context, sleep):
            config = MyLmsConfig(type="my-lms", base_url=vendor.api.base_url, page_size=2, ...)
            return MyLmsConnector(config, context, transport=vendor.api.transport(), sleep=sleep)

The checks: every page is read; the cursor makes the next read return only what changed;
an empty source gives a checkpoint and nothing else; a malformed page is quarantined with a
reason and the cursor does not move past it; a bad record is quarantined and the rest is
read; 401 fails at once without retrying; 429 waits the Retry-After seconds; 5xx answers are
retried until a success; retries are bounded; and, through the real pull stage and a SQLite
store, bad data never loses what is already stored. The connector's injected `sleep` goes to
the one retry policy (`adoptloop.http.retry`), so the checks see every wait without waiting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pytest
import structlog.testing

from adoptloop.connectors.base import Connector, ConnectorContext
from adoptloop.domain import (
    Account,
    Checkpoint,
    Deleted,
    Item,
    Person,
    Record,
    Rejected,
    Role,
    Skipped,
    Snapshot,
    Stopped,
)
from adoptloop.errors import RetriableError
from adoptloop.http.client import AuthFailed
from adoptloop.mappings.capability_map import Capability, CapabilityMap, CapabilityMapFile, Scale
from adoptloop.mappings.roles import RoleMap
from adoptloop.pipeline.pull import PullStage
from adoptloop.store import cursors, quarantine, records
from adoptloop.store.db import open_store
from adoptloop.testing.fake_api import FakeApi, status_response

if TYPE_CHECKING:
    from sqlalchemy import Engine

RUN_DATE = date(2024, 3, 10)


@dataclass
class RecordingSleep:
    """An injected `sleep`: remembers each wait instead of sleeping."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeVendor(Protocol):
    """A vendor's data behind a FakeApi, paged the vendor's way at the size the connector asks."""

    api: FakeApi

    def add(self, count: int) -> list[str]:
        """Add `count` valid records, changed after every existing one; return their keys."""

    def add_bad(self) -> str:
        """Add one record that cannot become a domain record; return its record key."""

    def break_page(self, number: int) -> None:
        """Make page `number` (1-based) of the next listing malformed, once."""


def minimal_capabilities(modules: dict[str, list[str]] | None = None) -> CapabilityMap:
    spec = CapabilityMapFile(
        scales={"five-point": Scale(min=1, max=5)},
        capabilities=[
            Capability(id="objection-handling", name="Objection handling", threshold=0.75)
        ],
        modules=modules or {},
    )
    return CapabilityMap(spec)


def make_context(
    capabilities: CapabilityMap | None = None,
    *,
    name: str = "source",
    run_date: date = RUN_DATE,
    base_dir: Path = Path(),
) -> ConnectorContext:
    return ConnectorContext(
        name=name,
        base_dir=base_dir,
        capabilities=capabilities or minimal_capabilities(),
        run_date=run_date,
    )


def drain(connector: Connector[Any], stream: str, cursor: str | None = None) -> list[Item]:
    return list(connector.read(stream, cursor))


def domain_records(items: Sequence[Item]) -> list[Record]:
    skip = (Rejected, Skipped, Checkpoint, Deleted, Stopped, Snapshot)
    return [i for i in items if not isinstance(i, skip)]


def rejected(items: Sequence[Item]) -> list[Rejected]:
    return [i for i in items if isinstance(i, Rejected)]


def last_cursor(items: Sequence[Item]) -> str | None:
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    return checkpoints[-1].cursor if checkpoints else None


def check(condition: object, message: str) -> None:
    """`assert` for a shipped module: fails the test with the message (asserts may be stripped)."""
    if not condition:
        pytest.fail(message)


def key_of(record: Record) -> str:
    if isinstance(record, Person):
        return record.hr_id
    if isinstance(record, Account):
        return record.ref.external_id
    return record.source_record_id


class ConnectorContract:
    """Subclass as `Test<Name>Contract`, set `stream` and `table`, fill in the factories."""

    stream: ClassVar[str]
    table: ClassVar[str]  # where the stream's records land: "people" or "completions"
    min_requests: ClassVar[int] = 3  # for 5 records at page size 2; 1 for an unpaged report
    broken_page: ClassVar[int] = 2  # the page `break_page` spoils; 1 for an unpaged report
    # an HRIS: the `roles:` map for the role values (job titles) the fake vendor sends; without
    # one, a title the default map does not know is quarantined like in a real run
    roles: ClassVar[Mapping[str, Role]] = {}

    logs: list[MutableMapping[str, Any]]

    @pytest.fixture(autouse=True)
    def _capture_logs(self) -> Iterator[None]:
        """Each check's log events, in `self.logs` (and no output left to other tests' state)."""
        with structlog.testing.capture_logs() as logs:
            self.logs = logs
            yield

    # --- what a connector's test module provides -------------------------------------------

    def make_vendor(self) -> FakeVendor:
        raise NotImplementedError

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> Connector[Any]:
        raise NotImplementedError

    def capabilities(self) -> CapabilityMap:
        return minimal_capabilities()

    def seed_people(self, _vendor: FakeVendor) -> list[Person]:
        """HR rows the vendor's learners resolve to (LMS connectors); none for an HRIS."""
        return []

    def record_key(self, record: Record) -> str:
        return key_of(record)

    def max_attempts(self, connector: Connector[Any]) -> int:
        """Tries per request; a connector whose config nests it (e.g. under `sync:`) says so."""
        return int(getattr(connector.config, "max_attempts", 0))

    # --- helpers ---------------------------------------------------------------------------

    def _build(self, vendor: FakeVendor, sleep: RecordingSleep | None = None) -> Connector[Any]:
        return self.make_connector(
            vendor, make_context(self.capabilities()), sleep or RecordingSleep()
        )

    def _keys(self, items: Sequence[Item]) -> list[str]:
        return [self.record_key(r) for r in domain_records(items)]

    # --- the standard checks ---------------------------------------------------------------

    def _same_keys(self, items: Sequence[Item], expected: Sequence[str]) -> None:
        got = sorted(self._keys(items))
        check(got == sorted(expected), f"read records {got}, expected {sorted(expected)}")

    def _ends_with_checkpoint(self, items: Sequence[Item]) -> None:
        check(
            bool(items) and isinstance(items[-1], Checkpoint),
            f"the read must end with a Checkpoint; it ended with {items[-1:]!r}",
        )

    def test_reads_every_page(self) -> None:
        vendor = self.make_vendor()
        expected = vendor.add(5)
        items = drain(self._build(vendor), self.stream)
        self._same_keys(items, expected)
        self._ends_with_checkpoint(items)
        check(
            len(vendor.api.requests) >= self.min_requests,
            f"5 records at page size 2 take at least {self.min_requests} requests",
        )

    def test_cursor_reads_only_what_changed_since(self) -> None:
        vendor = self.make_vendor()
        vendor.add(3)
        cursor = last_cursor(drain(self._build(vendor), self.stream))
        check(cursor is not None, "the first read gave no cursor")
        added = vendor.add(2)
        items = drain(self._build(vendor), self.stream, cursor)
        got = sorted(set(self._keys(items)))
        check(got == sorted(added), f"read {got} with the cursor; only {sorted(added)} changed")
        self._ends_with_checkpoint(items)

    def test_empty_source_gives_a_checkpoint_and_nothing_else(self) -> None:
        vendor = self.make_vendor()
        items = drain(self._build(vendor), self.stream)
        check(
            not domain_records(items) and not rejected(items),
            f"an empty source gave records: {items!r}",
        )
        self._ends_with_checkpoint(items)
        again = drain(self._build(vendor), self.stream, last_cursor(items))
        check(domain_records(again) == [], f"re-read of an empty source gave {again!r}")

    def test_malformed_page_is_quarantined_and_the_cursor_stays(self) -> None:
        vendor = self.make_vendor()
        vendor.add(5)
        vendor.break_page(self.broken_page)
        items = drain(self._build(vendor), self.stream)
        bad = rejected(items)
        check(len(bad) == 1, f"expected the bad page quarantined once, got {bad!r}")
        check(bool(bad[0].reason), "a quarantined page needs a reason")
        after = items[items.index(bad[0]) :]
        check(
            not any(isinstance(i, Checkpoint) for i in after),
            "a Checkpoint after the bad page would move the cursor past it",
        )

    def test_bad_record_is_quarantined_and_the_rest_is_read(self) -> None:
        vendor = self.make_vendor()
        good = vendor.add(2)
        bad_key = vendor.add_bad()
        good += vendor.add(1)
        items = drain(self._build(vendor), self.stream)
        self._same_keys(items, good)
        bad = rejected(items)
        check([r.record_key for r in bad] == [bad_key], f"expected {bad_key} quarantined: {bad!r}")
        check(bool(bad[0].reason), "a quarantined record needs a reason")
        self._ends_with_checkpoint(items)

    def test_auth_failure_fails_at_once_without_retrying(self) -> None:
        vendor = self.make_vendor()
        vendor.add(1)
        vendor.api.fail_always(status_response(401))
        sleep = RecordingSleep()
        with pytest.raises(AuthFailed):
            drain(self._build(vendor, sleep), self.stream)
        check(sleep.calls == [], f"a 401 must not be retried; waited {sleep.calls}")

    def test_429_waits_the_retry_after_seconds_then_reads(self) -> None:
        vendor = self.make_vendor()
        expected = vendor.add(3)
        vendor.api.fail_next(status_response(429, retry_after=7))
        sleep = RecordingSleep()
        items = drain(self._build(vendor, sleep), self.stream)
        self._same_keys(items, expected)
        check(sleep.calls == [7.0], f"expected one wait of 7 s (Retry-After), got {sleep.calls}")

    def test_5xx_answers_are_retried_until_success(self) -> None:
        vendor = self.make_vendor()
        expected = vendor.add(3)
        vendor.api.fail_next(status_response(503), status_response(502))
        sleep = RecordingSleep()
        items = drain(self._build(vendor, sleep), self.stream)
        self._same_keys(items, expected)
        check(len(sleep.calls) == 2, f"expected two waits (503, 502), got {sleep.calls}")

    def test_retries_are_bounded(self) -> None:
        vendor = self.make_vendor()
        vendor.add(1)
        vendor.api.fail_always(status_response(503))
        sleep = RecordingSleep()
        connector = self._build(vendor, sleep)
        with pytest.raises(RetriableError):
            drain(connector, self.stream)
        attempts = self.max_attempts(connector)
        check(
            len(sleep.calls) == attempts - 1,
            f"{attempts} attempts wait {attempts - 1} times; waited {len(sleep.calls)}",
        )

    def test_bad_data_never_loses_what_is_stored(self, tmp_path: Path) -> None:
        vendor = self.make_vendor()
        engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        vendor.add(3)
        first = self._pull(engine, vendor, "run-1")
        before = self._stored(engine)
        cursor = self._cursor(engine)
        check(first["read"] == 3, f"the first run read {first}")
        check(before > 0, "the first run stored nothing")

        bad_key = vendor.add_bad()
        vendor.add(4)
        vendor.break_page(self.broken_page)
        self._pull(engine, vendor, "run-2")  # completes: nothing raised
        check(self._stored(engine) >= before, "records stored by run 1 were lost in run 2")
        check(self._cursor(engine) == cursor, "a malformed page must not advance the cursor")
        with engine.connect() as conn:
            entries = [(e["record_key"], e["reason"]) for e in quarantine.entries(conn)]
        check(bool(entries), "the malformed page was not quarantined")
        check(all(reason for _, reason in entries), f"quarantine without reasons: {entries}")

        self._pull(engine, vendor, "run-3")  # the page is fine again: everything arrives
        check(self._stored(engine) >= before + 4, "run 3 did not store the 4 new records")
        with engine.connect() as conn:
            keys = [e["record_key"] for e in quarantine.entries(conn)]
        check(bad_key in keys, f"the bad record {bad_key} is not in quarantine: {keys}")

    def _pull(self, engine: Engine, vendor: FakeVendor, run_id: str) -> dict[str, int]:
        with engine.begin() as conn:  # the HR rows the learners resolve to, as an HRIS would
            records.upsert_people(conn, self.seed_people(vendor))
        connector = self._build(vendor)
        stage = PullStage(engine, run_id, roles=RoleMap(self.roles) if self.roles else None)
        return stage.pull(connector)[self.stream]

    def _stored(self, engine: Engine) -> int:
        with engine.connect() as conn:
            return records.stored_count(conn, self.table)

    def _cursor(self, engine: Engine) -> str | None:
        with engine.connect() as conn:
            return cursors.get_cursor(conn, "source", self.stream)


__all__ = [
    "RUN_DATE",
    "ConnectorContract",
    "FakeVendor",
    "RecordingSleep",
    "check",
    "domain_records",
    "drain",
    "key_of",
    "last_cursor",
    "make_context",
    "minimal_capabilities",
    "rejected",
]
