"""Snapshot reads at pull: what a whole export no longer lists is deleted, unless it shrank by
more than the limit (held back, read again next run, applied with allow_shrink)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

from sqlalchemy import Engine, select

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.connectors.people import hr_row
from adoptloop.domain import Checkpoint, DeletedKind, Item, Snapshot
from adoptloop.pipeline.outcome import judge
from adoptloop.pipeline.pull import PullStage
from adoptloop.store import cursors, runs, schema, source_reads
from adoptloop.store.db import open_store
from adoptloop.testing.kit import minimal_capabilities


class _Config(ConnectorConfig):
    type: str = "snapshot-people"


class SnapshotPeople(Connector[_Config]):
    """An HR export of the given ids, read whole each time (a new content hash per list)."""

    type_name: ClassVar[str] = "snapshot-people"
    family = "hris"
    config_class = _Config
    ids: ClassVar[Sequence[str]] = ()

    def streams(self) -> Sequence[str]:
        return ("people",)

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        return ("person",) if stream == "people" else ()

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        fingerprint = ",".join(self.ids)
        if fingerprint == cursor:
            yield Checkpoint(stream, fingerprint)  # unchanged: not read again
            return
        for hr_id in self.ids:
            yield hr_row(
                hr_id=hr_id,
                valid_from=date(2026, 1, 1),
                first_name="A",
                last_name=hr_id,
                role="rep",
                active=True,
            )
        yield Snapshot(stream)
        yield Checkpoint(stream, fingerprint)


def _pull(engine: Engine, tmp: Path, ids: list[str], *, allow_shrink: bool = False) -> PullStage:
    SnapshotPeople.ids = ids
    with engine.begin() as conn:
        run_id = runs.start_run(conn, "test", None)
    stage = PullStage(engine, run_id, allow_shrink=allow_shrink)
    context = ConnectorContext("hr", tmp, minimal_capabilities(), date(2026, 3, 2))
    stage.pull(SnapshotPeople(_Config(), context))
    return stage


def _active(engine: Engine) -> list[str]:
    p = schema.people
    with engine.connect() as conn:
        rows = conn.execute(select(p.c.hr_id, p.c.status).order_by(p.c.hr_id, p.c.valid_from))
        latest: dict[str, str] = {row.hr_id: row.status for row in rows}
    return sorted(h for h, status in latest.items() if status == "active")


def test_a_snapshot_deletes_what_it_no_longer_lists_and_holds_back_a_big_shrink(
    tmp_path: Path,
) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    everyone = [f"E{n:02d}" for n in range(10)]
    _pull(engine, tmp_path, everyone)
    assert _active(engine) == everyone

    _pull(engine, tmp_path, everyone[1:])  # one of ten left: 10 %, applied
    assert _active(engine) == everyone[1:]

    shrunk = _pull(engine, tmp_path, everyone[1:5])  # five of nine missing: held back
    assert _active(engine) == everyone[1:]
    [reason] = shrunk.held_back["hr"]
    assert "no longer lists 5 of the 9 records" in reason
    assert "--allow-shrink" in reason
    with engine.connect() as conn:
        assert cursors.get_cursor(conn, "hr", "people") == ",".join(everyone[1:])  # not moved
        reads = source_reads.latest_reads(conn)
    outcome = judge(reads, {"hr": 0.05}, {})
    assert (outcome.status, outcome.exit_code) == ("attention", 65)

    again = _pull(engine, tmp_path, everyone[1:5])  # the same export is read again, held again
    assert again.held_back
    assert _active(engine) == everyone[1:]

    _pull(engine, tmp_path, everyone[1:5], allow_shrink=True)
    assert _active(engine) == everyone[1:5]
    with engine.connect() as conn:
        assert cursors.get_cursor(conn, "hr", "people") == ",".join(everyone[1:5])
        assert judge(source_reads.latest_reads(conn), {"hr": 0.05}, {}).status == "succeeded"


def test_an_unchanged_export_that_is_not_read_deletes_nothing(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    ids = ["E1", "E2", "E3"]
    _pull(engine, tmp_path, ids)
    _pull(engine, tmp_path, ids)  # skipped by its cursor: no Snapshot item, no deletions
    assert _active(engine) == ids
