"""The kept adoption sums' SQL (store/aggregates.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from adoptloop.adoption import aggregates
from adoptloop.store import aggregates as kept
from adoptloop.store.aggregates import CELL_COUNTS, CellKey, KmKey


def _selects_of(engine: Engine, tables: tuple[str, ...]) -> tuple[list[str], Any]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split()).lower()
        if text.startswith("select") and any(f"from {t}" in text for t in tables):
            seen.append(text)

    event.listen(engine, "before_cursor_execute", record)
    return seen, record


def test_changes_to_the_kept_sums_equal_the_sums_of_all_changes(engine: Engine) -> None:
    """Issue 17, ADOPTION stage point 2: random changes (cells and Kaplan-Meier counts going
    up, down and back to zero) applied one after another leave exactly the sums of all
    changes in the store, a count back at zero removed."""
    rng = random.Random(17)  # noqa: S311 (test data, not security)
    cells: dict[CellKey, list[int]] = {}
    km: Counter[KmKey] = Counter()
    for _step in range(8):
        cell_delta: dict[CellKey, list[int]] = {}
        km_delta: Counter[KmKey] = Counter()
        for _ in range(40):
            key = ("region", rng.choice("ABCD"), rng.choice(["obj", "disc", ""]))
            held = cells.get(key, [0] * len(CELL_COUNTS))
            change = cell_delta.setdefault(key, [0] * len(CELL_COUNTS))
            for i in range(len(CELL_COUNTS)):  # never below zero, often back to it
                change[i] += rng.choice([-(held[i] + change[i]), 0, 1, 2])
            day_key = (*key[:2], key[2] or "obj", rng.choice("ec"), rng.randrange(5))
            km_delta[day_key] += rng.choice([-(km[day_key] + km_delta[day_key]), 1, 3])
        with engine.begin() as conn:
            kept.apply_cells(conn, cell_delta)
            kept.apply_km(conn, km_delta)
        for key, change in cell_delta.items():
            cells[key] = [a + b for a, b in zip(cells.get(key, [0] * 9), change, strict=True)]
        km.update(km_delta)
        with engine.connect() as conn:
            assert kept.load_cells(conn, ["region"]) == {k: v for k, v in cells.items() if any(v)}
            assert kept.load_km(conn, ["region"]) == {k: n for k, n in km.items() if n}


def test_a_change_to_the_kept_sums_reads_no_other_group_s_sums(engine: Engine) -> None:
    """Issue 17, ADOPTION stage point 2 (an incremental run's work follows what changed): a
    change to a few cells and Kaplan-Meier counts is written without reading the kept sums
    of the groups it touches (the "(all)" group and every region hold most of them, so a
    read by group read nearly the whole table on every run)."""
    with engine.begin() as conn:
        everything = {("*", "(all)", f"c{i}"): [1] * len(CELL_COUNTS) for i in range(50)}
        kept.apply_cells(conn, everything)
        kept.apply_km(conn, {("*", "(all)", "c0", "e", day): 1 for day in range(300)})
    seen, record = _selects_of(engine, ("metric_cells", "metric_km"))
    try:
        with engine.begin() as conn:
            kept.apply_cells(conn, {("*", "(all)", "c1"): [-1] * len(CELL_COUNTS)})
            kept.apply_km(conn, {("*", "(all)", "c0", "e", 7): -1, ("*", "(all)", "c0", "c", 9): 2})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen == []
    with engine.connect() as conn:
        cells = kept.load_cells(conn, ["*"])
        km = kept.load_km(conn, ["*"])
    assert ("*", "(all)", "c1") not in cells
    assert len(cells) == 49
    assert ("*", "(all)", "c0", "e", 7) not in km
    assert km[("*", "(all)", "c0", "c", 9)] == 2
    assert len(km) == 300


_KEPT = {  # every kept table, by its key
    "metric_reps": "hr_id, capability_id",
    "metric_people": "hr_id",
    "metric_visits": "hr_id, source, record_id",
    "metric_ratings": "hr_id, capability_id, day",
    "metric_cells": "grouping, grp, capability_id",
    "metric_km": "grouping, grp, capability_id, kind, day",
}


def _kept_tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: [
                tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {key}")
            ]
            for table, key in _KEPT.items()
        }


def test_a_full_states_computation_rebuilds_the_kept_sums_as_a_rebuild_after_it_would(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the first adoption pass): a full computation of the states rebuilds the kept
    sums from each person's rows as it makes them, a few people per write; the sums' own
    update then redoes nobody, and every kept row is the one a rebuild of the sums from the
    stored states (reading everyone again) writes. People of every kind: trained and rated
    reps, one trained without an HR row, one rated only after D, one rated on a capability
    out of the map, one with visits but no ratings, a manager, a leaver, one with an HR row
    and nothing else, and people observed without ratings who are in no HR export."""
    from adoptloop.adoption import aggregates
    from adoptloop.adoption.compute import update_states
    from adoptloop.store import metrics
    from tests.adoption.scenario import DISC, HIGH, LOW, D, Scenario, day

    with engine.connect() as conn:
        scenario = Scenario(conn)
        for i in range(7):
            scenario.trained(f"r{i}", region="North" if i % 2 else "South", manager=f"M-{i % 3}")
            scenario.rated(f"r{i}", day(10 + i), HIGH if i % 3 else LOW, observer=f"M-{i % 3}")
            scenario.rated(f"r{i}", day(50 + i), HIGH, capability=DISC)
        scenario.completed("no-hr", "MOD-OBJ-101", day(1))
        scenario.rep("late")
        scenario.rated("late", D + timedelta(days=3), HIGH)
        scenario.rep("unmapped")
        scenario.rated("unmapped", day(12), HIGH, capability="not-in-the-map")
        scenario.rep("visited")
        scenario.visit("visited", D - timedelta(days=5))
        scenario.manager("M-1", "North", "T-1")
        scenario.rep("gone", left=day(3))
        scenario.rated("gone", day(20), HIGH)
        scenario.rep("hr-only")
        # observed on counted visits without ratings, and in no HR export: people the states
        # pass never meets, whose ids sort before everyone's (and between)
        scenario.visit("0-unknown", D - timedelta(days=5))
        scenario.visit("r3-unknown", D - timedelta(days=2))
        conn.commit()
    capabilities = scenario.capabilities
    monkeypatch.setattr(aggregates, "CHUNK_PEOPLE", 3)  # several writes of the sums
    reads: list[str] = []

    def not_again(name: str) -> Any:
        def read(*_args: Any, **_kwargs: Any) -> Any:
            reads.append(name)
            raise AssertionError(name)

        return read

    for name in ("trained_rows", "first_visits"):
        monkeypatch.setattr(metrics, name, not_again(name))
    counts = update_states(engine, capabilities, D)
    monkeypatch.undo()

    assert reads == []
    assert counts["kept_sums"]["metrics"] == "full"
    assert aggregates.bring_to(engine, capabilities, D) == {"metrics": "incremental", "people": 0}
    beside = _kept_tables(engine)
    assert all(beside.values())
    with engine.begin() as conn:
        kept.forget(conn)
    assert aggregates.bring_to(engine, capabilities, D)["metrics"] == "full"
    assert _kept_tables(engine) == beside


def test_sums_of_the_kept_contributions_equal_those_added_up_one_at_a_time(
    engine: Engine,
) -> None:
    """Issue 17 (the first adoption pass): a full rebuild has the database sum every kept
    contribution (`sum_contributions`) instead of adding each one's to the sums in Python and
    upserting them chunk by chunk. The same cells and Kaplan-Meier counts as
    adoption.aggregates.Aggregates gives, on both stores: every grouping, the "(all)" rows,
    censored reps by training day (date.toordinal), negative days to proficiency counted at
    0, people not eligible for coaching counted nowhere."""
    rng = random.Random(17)  # noqa: S311 (test data)
    reps = [
        {
            "hr_id": f"r{n:03d}",
            "capability_id": capability,
            "region": rng.choice(["North", "South", "(none)"]),
            "team": rng.choice(["team a", "team b"]),
            "manager": rng.choice(["M-1", "M-2", "M-3"]),
            "module": rng.choice(["MOD-1", "MOD-2"]),
            "trained_at": date(2025, 1, 1) + timedelta(days=rng.randrange(400)),
            "in_cohort": rng.random() < 0.7,
            "observed": rng.random() < 0.6,
            "proficient": rng.random() < 0.4,
            "sustained": rng.random() < 0.2,
            "regressed": rng.random() < 0.1,
            "days_to_proficient": rng.choice([None, None, -3, 0, 1, 5, 40, 90]),
        }
        for n in range(150)
        for capability in rng.sample(["cap-a", "cap-b", "cap-c"], rng.randint(1, 3))
    ]
    persons = [
        {
            "hr_id": f"p{n:03d}",
            "region": None if n % 4 == 0 else rng.choice(["North", "South"]),
            "team": None if n % 4 == 0 else rng.choice(["team a", "team b"]),
            "manager": None if n % 4 == 0 else rng.choice(["M-1", "M-2"]),
            "visited": rng.random() < 0.5,
            "valid_until": None,
        }
        for n in range(60)
    ]
    expected = aggregates.Aggregates()
    expected.add(reps, persons)
    with engine.begin() as conn:
        kept.replace_contributions(conn, [], reps, persons)
        kept.sum_contributions(
            conn,
            aggregates.GROUPINGS,
            aggregates.COVERAGE_GROUPINGS,
            (aggregates.EVERYONE, aggregates.ALL),
        )
        groupings = [aggregates.EVERYONE, *aggregates.GROUPINGS]
        cells = kept.load_cells(conn, groupings)
        km = kept.load_km(conn, groupings)
    assert {k: list(v) for k, v in cells.items()} == expected.cells
    assert km == {k: n for k, n in expected.km.items() if n}
    assert any(day == 0 for (*_, kind, day) in km if kind == "e")


def test_kept_curves_are_read_one_per_key_whatever_order_their_counts_were_written_in(
    engine: Engine,
) -> None:
    """Issue 17 (the adoption stage's memory at 100k): the kept Kaplan-Meier counts of a
    grouping are read a curve (group, capability) at a time, in key order. Counts written
    interleaved across groups, capabilities and groupings, over several changes (one taken
    back to 0 and removed), each come out once, in their own curve only: the same curves as
    the counts held whole give."""
    rng = random.Random(17)  # noqa: S311 (test data)
    groups = ["North", "South", "North-East", "N"]  # prefixes of one another
    caps = ["obj", "disc", "o"]
    keys: list[KmKey] = [
        (grouping, group, cap, kind, day)
        for grouping in ("region", "team", aggregates.EVERYONE)
        for group in (groups if grouping != aggregates.EVERYONE else [aggregates.ALL])
        for cap in caps
        for kind, day in (("e", 0), ("e", 7), ("c", 739_000), ("c", 739_031))
    ]
    rng.shuffle(keys)  # the store's own order (PostgreSQL's heap): curves interleaved
    km: Counter[KmKey] = Counter()
    for start in range(0, len(keys), 9):  # several changes, each of a few curves' counts
        delta: Counter[KmKey] = Counter({key: rng.randint(1, 4) for key in keys[start : start + 9]})
        with engine.begin() as conn:
            kept.apply_km(conn, delta)
        km.update(delta)
    gone = keys[3]
    with engine.begin() as conn:
        kept.apply_km(conn, {gone: -km[gone]})
    del km[gone]
    as_of = date(2026, 6, 30)
    held = aggregates.Aggregates(km=km)
    stored = aggregates.Aggregates(stored=frozenset(["region", aggregates.EVERYONE]))
    with engine.connect() as conn:
        read = list(kept.km_curves(conn, "region"))
        # each curve once (in the database's key order)
        assert len({(group, cap) for group, cap, _ in read}) == len(read) == len(groups) * 3
        for group, cap, counts in read:
            assert Counter({("region", group, cap, kind, day): n for kind, day, n in counts}) == (
                Counter({k: n for k, n in km.items() if k[:3] == ("region", group, cap)})
            )
        for grouping in ("region", aggregates.EVERYONE):
            curves = list(stored.curves(conn, grouping, as_of))
            assert len(curves) == len({(g, c) for g, c, _ in curves})
            assert sorted(curves) == sorted(held.curves(conn, grouping, as_of))
        assert not list(stored.curves(conn, "team", as_of))  # not read: not asked for
