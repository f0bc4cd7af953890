"""The pull's store writes per batch (issue 17, pull_vs_bare_fetch): a batch unparks and
resolves only the keys that wait, and runs no such statement when none does; records parked
or quarantined earlier (in an earlier run, or earlier in the same stream) are still taken up."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import Engine, select

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.connectors.people import hr_row
from adoptloop.domain import Checkpoint, Item, Rejected
from adoptloop.pipeline import heap, pull
from adoptloop.pipeline.pull import PullStage
from adoptloop.store import runs, schema
from adoptloop.store.db import open_store
from adoptloop.testing.kit import minimal_capabilities
from tests.support import sql_run


class _Config(ConnectorConfig):
    type: str = "listed-people"


class ListedPeople(Connector[_Config]):
    """An HR source that sends the listed rows: an hr_id, or ("bad", hr_id) for a refused row."""

    type_name: ClassVar[str] = "listed-people"
    family = "hris"
    config_class = _Config
    rows: ClassVar[Sequence[str | tuple[str, str]]] = ()

    def streams(self) -> Sequence[str]:
        return ("people",)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:  # noqa: ARG002
        for row in self.rows:
            if isinstance(row, tuple):
                yield Rejected(stream, row[1], f"people.csv {row[1]}", "status is empty")
            else:
                yield hr_row(
                    hr_id=row,
                    valid_from=date(2026, 1, 1),
                    first_name="A",
                    last_name=row,
                    role="rep",
                    active=True,
                )
        yield Checkpoint(stream, "read")


def _pull(engine: Engine, tmp: Path, rows: list[str | tuple[str, str]]) -> list[str]:
    """Pull the rows; the SQL statements the pull ran."""
    ListedPeople.rows = rows
    with engine.begin() as conn:
        run_id = runs.start_run(conn, "test", None)
    context = ConnectorContext("hr", tmp, minimal_capabilities(), date(2026, 3, 2))
    with sql_run(engine) as statements:
        PullStage(engine, run_id).pull(ListedPeople(_Config(), context))
    return statements


def _open_entries(engine: Engine) -> list[str]:
    q = schema.quarantine
    with engine.connect() as conn:
        return sorted(conn.execute(select(q.c.record_key).where(q.c.resolved.is_(False))).scalars())


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "BATCH_SIZE", 2)


@pytest.mark.usefixtures("small_batches")
def test_batches_with_nothing_parked_or_quarantined_run_no_unpark_or_resolve_statement(
    tmp_path: Path,
) -> None:
    """Issue 17 (pull store writes): the `unpark` and `resolve_quarantined` statements ran for
    every batch even when nothing waited; now none runs."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    statements = _pull(engine, tmp_path, ["E1", "E2", "E3", "E4", "E5"])
    assert any(s.startswith("INSERT INTO people") for s in statements)
    assert not [s for s in statements if s.startswith("DELETE FROM parked")]
    assert not [s for s in statements if s.startswith("UPDATE quarantine")]


@pytest.mark.usefixtures("small_batches")
def test_a_row_refused_early_in_a_stream_or_in_an_earlier_run_is_resolved_when_read_fine(
    tmp_path: Path,
) -> None:
    """Issue 17 (pull store writes): the keys that wait are read once per stream and kept up
    to date by its batches, so an entry opened by an earlier batch of the same stream, or by
    an earlier run, is still resolved when its record is stored."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    # E7 is refused, then sent fine three batches on; E8 is refused at the end
    _pull(engine, tmp_path, [("bad", "E7"), "E1", "E2", "E3", "E4", "E7", ("bad", "E8")])
    assert _open_entries(engine) == ["E8"]
    statements = _pull(engine, tmp_path, ["E1", "E2", "E8"])  # E8 fine in the next run
    assert _open_entries(engine) == []
    resolves = [s for s in statements if s.startswith("UPDATE quarantine")]
    assert len(resolves) == 1  # the batch with E8; the one with E1 and E2 runs none


def test_the_pull_runs_with_the_earlier_heap_frozen_and_unfreezes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (pull CPU): while a source is pulled, the objects that existed before are left
    out of the garbage collector's passes and young collections are rarer (full collections
    walked the heap about once a second at 10k reps, 2-3 CPU-s of the pull); afterwards, also
    when the source fails, neither holds."""
    thresholds = gc.get_threshold()
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    seen: list[tuple[int, int]] = []
    reading = ListedPeople.read

    def read(self: ListedPeople, stream: str, cursor: str | None) -> Iterator[Item]:
        seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))
        yield from reading(self, stream, cursor)

    monkeypatch.setattr(ListedPeople, "read", read)
    _pull(engine, tmp_path, ["E1", "E2"])
    assert seen
    assert min(frozen for frozen, _ in seen) > 0
    assert min(young for _, young in seen) >= heap.YOUNG > thresholds[0]
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
    with engine.connect() as conn:  # the rows were written
        assert sorted(conn.execute(select(schema.people.c.hr_id)).scalars()) == ["E1", "E2"]

    def failing(self: ListedPeople, stream: str, cursor: str | None) -> Iterator[Item]:
        raise RuntimeError("read failed")
        yield  # a generator

    monkeypatch.setattr(ListedPeople, "read", failing)
    with pytest.raises(RuntimeError):
        _pull(engine, tmp_path, ["E3"])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
