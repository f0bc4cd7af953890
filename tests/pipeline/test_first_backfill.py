"""A first backfill into an empty store (issue 17, pull_vs_bare_fetch: the CRM pull's write
path): the read names its keys nowhere (its snapshot has nothing to compare) and its batches
look up no stored digests; a later read compares as before, and a record the backfill repeats
in a later batch is stored as any other read would store it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, select

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.connectors.people import hr_row
from adoptloop.domain import Checkpoint, DeletedKind, FieldInteraction, Item, PersonRef, Snapshot
from adoptloop.pipeline import pull
from adoptloop.pipeline.pull import PullStage
from adoptloop.store import identities, records, runs, schema
from adoptloop.store.db import open_store
from adoptloop.testing.kit import minimal_capabilities
from tests.support import sql_run


class _Config(ConnectorConfig):
    type: str = "listed-calls"


class ListedCalls(Connector[_Config]):
    """A CRM whose calls stream is a whole export of the listed (id, channel) calls."""

    type_name: ClassVar[str] = "listed-calls"
    family = "crm"
    config_class = _Config
    calls: ClassVar[Sequence[tuple[str, str]]] = ()

    def streams(self) -> Sequence[str]:
        return ("calls",)

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:  # noqa: ARG002
        return ("interaction",)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:  # noqa: ARG002
        rep = PersonRef("crm", "U1")
        for record_id, channel in self.calls:
            yield FieldInteraction(
                record_id, rep, date(2026, 2, 1), channel, "Detail", "Done", None
            )
        yield Snapshot(stream)
        yield Checkpoint(stream, "read")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        person = hr_row(
            hr_id="E1",
            valid_from=date(2025, 1, 1),
            first_name="A",
            last_name="B",
            role="rep",
            active=True,
        )
        records.upsert_people(conn, [person])
        identities.remember(conn, [identities.Identity("crm", "U1", "E1", "test")])
    return engine


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "BATCH_SIZE", 2)


def _pull(engine: Engine, tmp: Path, calls: list[tuple[str, str]]) -> tuple[dict[str, Any], str]:
    """Pull the calls: the stream's counts, and the SQL the pull ran, one statement a line."""
    ListedCalls.calls = calls
    with engine.begin() as conn:
        run_id = runs.start_run(conn, "test", None)
    context = ConnectorContext("crm", tmp, minimal_capabilities(), date(2026, 3, 2))
    with sql_run(engine) as statements:
        counts = PullStage(engine, run_id).pull(ListedCalls(_Config(), context))
    return counts["calls"], "\n".join(statements)


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    t = schema.interactions
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t).order_by(t.c.record_id))]


def test_a_first_backfill_writes_no_snapshot_keys_and_looks_up_no_stored_digests(
    engine: Engine, tmp_path: Path
) -> None:
    """Issue 17: the first read of a snapshot stream into an empty store skips the work that
    only compares with what was stored before; the next read compares again (and deletes the
    call it no longer lists)."""
    calls = [("C1", "Face"), ("C2", "Face"), ("C3", "Phone"), ("C4", "Phone"), ("C5", "Face")]
    counts, sql = _pull(engine, tmp_path, calls)
    assert counts["inserted"] == 5
    assert "adoptloop_snapshot_named (key" not in sql
    assert "SELECT record_id, digest" not in sql
    counts, sql = _pull(engine, tmp_path, calls[:4])
    assert (counts["unchanged"], counts["deleted"]) == (4, 1)
    assert "adoptloop_snapshot_named (key" in sql
    assert "SELECT record_id, digest" in sql
    assert [(r[1], r[-1]) for r in _stored(engine)] == [
        ("C1", False),
        ("C2", False),
        ("C3", False),
        ("C4", False),
        ("C5", True),
    ]


def test_a_first_backfill_that_repeats_a_record_stores_it_as_a_later_read_would(
    engine: Engine, tmp_path: Path
) -> None:
    """Issue 17: a record a first backfill repeats in a later batch (the insert without the
    lookup fails on it and is undone) is written with the lookup: the same stored rows and
    counts as reading the same export into a store that already held a row of the source."""
    calls = [("C1", "Face"), ("C2", "Face"), ("C3", "Phone"), ("C1", "Phone"), ("C4", "Face")]
    counts, _ = _pull(engine, tmp_path, calls)
    assert (counts["inserted"], counts["updated"]) == (4, 1)
    fresh_rows = _stored(engine)

    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.connect() as conn, other.begin() as into:
        for table in (schema.people, schema.identities):
            into.execute(table.insert(), [dict(r._mapping) for r in conn.execute(select(table))])
    _pull(other, tmp_path, [("C0", "Face")])  # a row stored before: not a first read
    counts, _ = _pull(other, tmp_path, calls)
    assert (counts["inserted"], counts["updated"]) == (4, 1)
    assert [r for r in _stored(other) if r[1] != "C0"] == fresh_rows
