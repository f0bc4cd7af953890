"""The adoption stage (pipeline/adopt.py): states after the pull, the table and report last.

The org is written with the adoption tests' scenario helper (tests/adoption/scenario.py):
D = 2024-06-30 and training on T = D - 120 days. The stage end to end through `adoptloop run`
is tests/pipeline/test_adoption_stage.py.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from adoptloop.adoption.metrics import ALL, COLUMNS, MetricsRow
from adoptloop.pipeline import adopt
from tests.adoption.scenario import DISC, HIGH, LOW, OBJ, D, Scenario, day, sqlite_store


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with sqlite_store(tmp_path) as engine, engine.connect() as conn:
        yield Scenario(conn)


def test_the_states_then_the_outputs_of_one_run(scenario: Scenario, tmp_path: Path) -> None:
    for i in range(6):
        scenario.trained(f"n{i}", region="North")
        scenario.rated(f"n{i}", day(10), HIGH if i < 4 else LOW)
    scenario.conn.commit()
    engine = scenario.conn.engine

    counts = adopt.refresh_states(engine, scenario.capabilities, D)
    outputs = adopt.write_outputs(
        engine, scenario.capabilities, D, by="region", output_dir=tmp_path / "out"
    )

    assert (counts["mode"], counts["rows"]) == ("full", 6)
    assert [(r.group, r.capability, r.cohort, r.adopted) for r in outputs.rows] == [
        ("North", OBJ, 6, 4),
        (ALL, OBJ, 6, 4),
        ("North", DISC, 0, 0),  # every group x every capability
        (ALL, DISC, 0, 0),
    ]
    with outputs.csv.open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["group"], r["cohort"], r["adopted"]) for r in table] == [
        ("North", "6", "4"),
        (ALL, "6", "4"),
        ("North", "", ""),  # nobody trained: suppressed
        (ALL, "", ""),
    ]
    assert outputs.report == tmp_path / "out" / "adoption.html"
    assert "Objection handling" in outputs.report.read_text(encoding="utf-8")


def test_csv_has_the_contract_columns_and_blanks_what_is_withheld(tmp_path: Path) -> None:
    rows = [MetricsRow("North", OBJ, trained=4, cohort=3, observed=2, adopted=1)]  # n < 5

    path = adopt.write_csv(rows, tmp_path / "out" / "adoption.csv")

    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        (row,) = list(reader)
    assert tuple(reader.fieldnames or ()) == COLUMNS
    assert (row["group"], row["cohort"], row["adopted"], row["adoption_cohort"]) == (
        "North",
        "",
        "",
        "",
    )
    assert [p.name for p in path.parent.iterdir()] == ["adoption.csv"]  # no temporary file left


def test_the_outputs_are_computed_under_the_smaller_sqlite_memory_limit(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (peak RSS <= 200 MB at 10k): the adoption stage's reads and writes of its small
    kept-sum tables run with SQLite's memory held to SQLITE_SMALL_HEAP_LIMIT (its full rebuild
    filled the 40 MB the translate stage's writer needs and raised the run's peak); the
    process's limit is SQLITE_HEAP_LIMIT again afterwards."""
    from adoptloop.adoption import aggregates
    from adoptloop.store.db import SQLITE_HEAP_LIMIT, SQLITE_SMALL_HEAP_LIMIT

    for i in range(6):
        scenario.trained(f"n{i}", region="North")
    scenario.conn.commit()
    engine = scenario.conn.engine
    adopt.refresh_states(engine, scenario.capabilities, D)
    seen: list[int] = []
    update = aggregates.update

    def watched(*args: object, **kwargs: object) -> object:
        with engine.connect() as conn:
            seen.append(conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar_one())
        return update(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aggregates, "update", watched)
    adopt.write_outputs(engine, scenario.capabilities, D, by="region", output_dir=tmp_path / "o")

    assert seen == [SQLITE_SMALL_HEAP_LIMIT]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar_one() == SQLITE_HEAP_LIMIT


def test_the_states_step_brings_the_kept_sums_to_d_so_the_outputs_only_read_them(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (incremental run): the kept sums are brought to D with the states, while the
    run's estimates process fits beside it, not after its answer in the outputs' step; the
    outputs then redo nobody, and are what bringing the sums there would have made (a store
    whose states step did not bring them)."""
    from adoptloop.adoption import aggregates
    from adoptloop.store.db import SQLITE_SMALL_HEAP_LIMIT

    for i in range(6):
        scenario.trained(f"n{i}", region="North")
        scenario.rated(f"n{i}", day(10), HIGH if i < 4 else LOW)
    scenario.conn.commit()
    engine = scenario.conn.engine
    limits: list[int] = []
    bring_to = aggregates.bring_to

    def watched(*args: object, **kwargs: object) -> dict[str, object]:
        with engine.connect() as conn:
            limits.append(conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar_one())
        return bring_to(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aggregates, "bring_to", watched)
    counts = adopt.refresh_states(engine, scenario.capabilities, D)
    assert counts["kept_sums"] == {"metrics": "full", "people": 6}
    assert limits == [SQLITE_SMALL_HEAP_LIMIT]

    redone: list[dict[str, object]] = []
    update = aggregates.update

    def counted(*args: object, **kwargs: object) -> object:
        sums, update_counts = update(*args, **kwargs)  # type: ignore[arg-type]
        redone.append(update_counts)
        return sums, update_counts

    monkeypatch.setattr(aggregates, "update", counted)
    brought = adopt.write_outputs(
        engine, scenario.capabilities, D, by="region", output_dir=tmp_path / "brought"
    )
    assert redone == [{"metrics": "incremental", "people": 0}]

    with engine.begin() as conn:  # as if the states step had not brought them: a rebuild
        from adoptloop.store import aggregates as kept

        kept.forget(conn)
    rebuilt = adopt.write_outputs(
        engine, scenario.capabilities, D, by="region", output_dir=tmp_path / "rebuilt"
    )
    assert redone[1]["metrics"] == "full"
    assert brought.rows == rebuilt.rows
    assert brought.csv.read_bytes() == rebuilt.csv.read_bytes()
