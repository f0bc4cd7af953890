"""Incremental adoption states: recomputing only the people who can have changed leaves the
table exactly as recomputing everyone does.

A synthetic org is pulled from its CSV drops by the real file connectors; then the as-of date
moves (windows close, training and visits come into range, HR moves take effect) and the drops
are edited (ratings, visit dates, reassigned reports, completions, HR rows) and pulled again.
After every incremental computation a full one (`full=True`) must find nothing to change.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import random
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from bench.synthetic.apis import RATING_FIELDS
from sqlalchemy import Connection, Engine, func, select

from adoptloop.adoption import compute
from adoptloop.adoption.compute import update_states
from adoptloop.adoption.outcomes import people_outcomes
from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.files.coaching import CoachingFileConfig, CoachingFileConnector
from adoptloop.connectors.files.completions import CompletionsFileConfig, CompletionsFileConnector
from adoptloop.connectors.files.people import PeopleFileConfig, PeopleFileConnector
from adoptloop.domain import Person
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.pipeline.pull import PullStage
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import records, runs, schema
from tests.adoption.scenario import EPOCH, HIGH, D, Post, Scenario, T, day

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"
A, B, C = date(2026, 3, 1), date(2026, 5, 1), date(2026, 7, 15)
_VOLATILE = {"as_of", "censored_days", "translated_digest"}


def _pull(engine: Engine, folder: Path, capabilities: CapabilityMap) -> None:
    def context(name: str) -> ConnectorContext:
        return ConnectorContext(name, folder, capabilities, C)

    people = PeopleFileConnector(
        PeopleFileConfig.model_validate(
            {"type": "file-people", "path": str(folder / "hris" / "people.csv")}
        ),
        context("hris"),
    )
    completions = CompletionsFileConnector(
        CompletionsFileConfig.model_validate(
            {
                "type": "file-completions",
                "path": str(folder / "lms" / "completions.csv"),
                "identity": [{"attribute": "user_email", "person_field": "email"}],
            }
        ),
        context("lms"),
    )
    coaching = CoachingFileConnector(
        CoachingFileConfig.model_validate(
            {
                "type": "file-coaching",
                "timezone": "Europe/London",
                "users": {"path": str(folder / "crm" / "users.csv")},
                "reports": {"path": str(folder / "crm" / "coaching_reports.csv")},
            }
        ),
        context("crm"),
    )
    with engine.begin() as conn:
        run_id = runs.start_run(conn, "test", None)
    stage = PullStage(engine, run_id)
    for connector in (people, completions, coaching):
        stage.pull(connector)


def _table(engine: Engine) -> dict[str, dict[str, Any]]:
    t = schema.adoption_states
    with engine.connect() as conn:
        return {
            row["record_id"]: {k: v for k, v in row.items() if k not in _VOLATILE}
            for row in conn.execute(select(t).order_by(t.c.record_id)).mappings()
        }


def _people(engine: Engine) -> int:
    p = schema.people
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(p.c.hr_id)))).scalar_one())


def _assert_same_as_full(engine: Engine, capabilities: CapabilityMap, as_of: date) -> None:
    incremental = _table(engine)
    full = update_states(engine, capabilities, as_of, full=True)
    assert full["mode"] == "full"
    assert (full["changed"], full["removed"]) == (0, 0), "a full computation changed rows"
    assert _table(engine) == incremental


def _edit(path: Path, change: Any) -> int:
    """Rewrite a CSV drop, `change(row)` editing rows in place (False drops the row)."""
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    kept = [row for row in rows if change(row) is not False]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    return len(rows)


def _edit_drops(folder: Path, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    ratings = list(RATING_FIELDS)
    reps: list[str] = []

    def note_rep(row: dict[str, str]) -> None:
        reps.append(row["Employee_vod__c"])

    _edit(folder / "crm" / "coaching_reports.csv", note_rep)

    def report(row: dict[str, str]) -> bool:
        roll = rng.random()
        if roll < 0.08:  # a rating changed
            item = rng.choice([r for r in ratings if row[r]] or ratings)
            row[item] = str(rng.randint(1, 5))
        elif roll < 0.12:  # the visit moved by up to three weeks either way
            moved = date.fromordinal(
                date.fromisoformat(row["Review_Date__c"]).toordinal() + rng.randint(-21, 21)
            )
            row["Review_Date__c"] = moved.isoformat()
        elif roll < 0.14:  # the report was about someone else
            row["Employee_vod__c"] = rng.choice(reps)
        elif roll < 0.16:  # taken back to draft: no longer counted
            row["Status__c"] = "Draft"
        return True

    _edit(folder / "crm" / "coaching_reports.csv", report)

    def completion(row: dict[str, str]) -> bool:
        roll = rng.random()
        if roll < 0.06:
            row["completed_at"] = f"2026-0{rng.randint(1, 6)}-{rng.randint(10, 28)}T09:00:00Z"
        elif roll < 0.09:
            row["status"] = "failed"
        return True

    _edit(folder / "lms" / "completions.csv", completion)

    def person(row: dict[str, str]) -> bool:
        if row["role"] in ("rep", "kam", "msl") and rng.random() < 0.1:
            row["region"] = rng.choice(["North", "South", "West"])
        return True

    _edit(folder / "hris" / "people.csv", person)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_states_equal_a_full_computation(org: Path, engine: Engine, seed: int) -> None:
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    first = update_states(engine, capabilities, A)
    assert first["mode"] == "full"
    assert first["rows"] > 0

    # time passes, nothing is written: windows close, later training and visits come in
    moved = update_states(engine, capabilities, B)
    assert moved["mode"] == "incremental"
    assert 0 < moved["people"] < _people(engine)
    _assert_same_as_full(engine, capabilities, B)

    # the drops change; pulled again; time passes again
    _edit_drops(org, seed)
    _pull(engine, org, capabilities)
    with engine.connect() as conn:
        dirty = conn.execute(select(func.count()).select_from(schema.adoption_dirty)).scalar()
    assert dirty, "the pull noted whose inputs changed"
    edited = update_states(engine, capabilities, C)
    assert edited["mode"] == "incremental"
    assert edited["changed"] > 0
    _assert_same_as_full(engine, capabilities, C)

    # nothing written, same date: nobody to recompute, nothing changes
    again = update_states(engine, capabilities, C)
    assert (again["mode"], again["people"], again["changed"], again["removed"]) == (
        "incremental",
        0,
        0,
        0,
    )


def test_a_changed_capability_map_recomputes_everyone(org: Path, engine: Engine) -> None:
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    assert update_states(engine, capabilities, B)["mode"] == "full"
    assert update_states(engine, capabilities, B)["mode"] == "incremental"
    longer = CapabilityMap(capabilities.spec, default_window_days=120)
    assert update_states(engine, longer, B)["mode"] == "full"
    assert update_states(engine, longer, A)["mode"] == "full", "an earlier as-of date"


# --- each way a row can change without the person being written, and each writer -----------


def _window_closes(s: Scenario) -> tuple[date, date]:
    s.trained("r1")
    s.rated("r1", day(10), HIGH)
    return day(50), day(100)  # the 90-day window closes between: r1 joins the cohort


def _hr_move_takes_effect(s: Scenario) -> tuple[date, date]:
    s.career("r1", Post(EPOCH, "North"), Post(day(60), "South"))
    s.completed("r1", "MOD-OBJ-101", T)
    return day(30), day(70)  # window still open on both dates: the group is the one on D


def _termination_date_passes(s: Scenario) -> tuple[date, date]:
    """Issue 16 point 1 (leavers, incremental == full): an HR row that already names a
    termination date (day 50) and no later row; between the two dates the rep's last day
    passes, so at the second date they counted nowhere: their row's group goes."""
    s.hr_row("r1", EPOCH, terminated=day(50))
    s.completed("r1", "MOD-OBJ-101", T)
    return day(30), day(70)


def _training_comes_into_range(s: Scenario) -> tuple[date, date]:
    s.rep("r1")
    s.rated("r1", day(10), HIGH)
    s.completed("r1", "MOD-OBJ-101", day(40))
    return day(20), day(60)  # untrained (rated) on the first date, trained on the second


def _visit_comes_into_range(s: Scenario) -> tuple[date, date]:
    s.trained("r1")
    s.rated("r1", day(40), HIGH)
    return day(20), day(60)


@pytest.mark.parametrize(
    "build",
    [
        _window_closes,
        _hr_move_takes_effect,
        _termination_date_passes,
        _training_comes_into_range,
        _visit_comes_into_range,
    ],
)
def test_time_alone_recomputes_whom_it_reaches(scenario: Scenario, build: Any) -> None:
    first, second = build(scenario)
    scenario.trained("bystander", day(-200))  # nothing about them changes between the dates
    scenario.conn.commit()
    engine, caps = scenario.conn.engine, scenario.capabilities
    assert update_states(engine, caps, first)["mode"] == "full"
    moved = update_states(engine, caps, second)
    assert (moved["mode"], moved["people"]) == ("incremental", 1)
    assert moved["changed"] == 1, "the scenario changes r1's row"
    _assert_same_as_full(engine, caps, second)


def _stored_observation(conn: Connection, hr_id: str) -> dict[str, Any]:
    o = schema.observations
    row = conn.execute(select(o).where(o.c.observed_hr_id == hr_id)).mappings().one()
    skip = ("digest", "translated_digest", "deleted")
    return {str(k): v for k, v in row.items() if k not in skip}


def _r1_rated_and_computed(s: Scenario, *trained: str) -> tuple[Engine, CapabilityMap]:
    """`trained` reps, r1 rated once; their states computed as of D."""
    for rep in trained:
        s.trained(rep)
    s.rated("r1", day(10), HIGH)
    s.conn.commit()
    update_states(s.conn.engine, s.capabilities, D)
    return s.conn.engine, s.capabilities


def test_a_report_moved_to_another_rep_recomputes_both(scenario: Scenario) -> None:
    engine, caps = _r1_rated_and_computed(scenario, "r1", "r2")
    with engine.begin() as conn:
        row = _stored_observation(conn, "r1")
        source = row.pop("source")
        records.upsert_source_rows(conn, "observations", source, [{**row, "observed_hr_id": "r2"}])
    moved = update_states(engine, caps, D)
    assert (moved["people"], moved["changed"]) == (2, 2)
    _assert_same_as_full(engine, caps, D)


def test_a_deleted_report_recomputes_its_rep(scenario: Scenario) -> None:
    engine, caps = _r1_rated_and_computed(scenario, "r1")
    with engine.begin() as conn:
        row = _stored_observation(conn, "r1")
        records.mark_deleted(conn, "observations", row["source"], [row["record_id"]])
    after = update_states(engine, caps, D)
    assert (after["people"], after["changed"]) == (1, 1)
    _assert_same_as_full(engine, caps, D)


def test_forgetting_the_last_computation_makes_the_next_one_full(scenario: Scenario) -> None:
    """What an erasure and a retention purge do (their writes bypass store/records.py)."""
    scenario.trained("r1")
    scenario.conn.commit()
    engine, caps = scenario.conn.engine, scenario.capabilities
    update_states(engine, caps, D)
    with engine.begin() as conn:
        records.forget_adoption_computation(conn)
    assert update_states(engine, caps, D)["mode"] == "full"


def test_an_hr_change_recomputes_the_person(scenario: Scenario) -> None:
    scenario.trained("r1")
    scenario.trained("r2")
    scenario.conn.commit()
    engine, caps = scenario.conn.engine, scenario.capabilities
    as_of = day(60)  # r1's window is open: their group is the one on the as-of date
    update_states(engine, caps, as_of)
    p = schema.people
    with engine.begin() as conn:
        row = conn.execute(select(p).where(p.c.hr_id == "r1")).mappings().one()
        fields = {f.name for f in dataclasses.fields(Person) if f.name != "location"}
        moved = Person(**{**{k: row[k] for k in fields}, "region": "South"})
        records.upsert_people(conn, [moved])
    after = update_states(engine, caps, as_of)
    assert (after["people"], after["changed"]) == (1, 1)
    _assert_same_as_full(engine, caps, as_of)


def test_a_commit_by_another_connection_mid_computation_is_no_problem(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run lock's heartbeat commits on its own connection while the states stream in (a
    long computation at scale): the computation must not fail (SQLite: "database is locked")."""
    for n in range(60):  # more ratings than a stream fetches at once: its cursor stays open
        scenario.trained(f"r{n:02d}")
        for visit in range(100):
            scenario.rated(f"r{n:02d}", day(visit + 1), HIGH)
    scenario.conn.commit()
    engine, caps = scenario.conn.engine, scenario.capabilities
    real = people_outcomes

    def slowly(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for person in real(*args, **kwargs):
            time.sleep(0.01)  # a person takes a while: the heartbeat commits in between
            yield person

    stop, beats = threading.Event(), itertools.count()

    def heartbeat() -> None:
        while not stop.wait(0.003):
            with engine.begin() as other:
                other.execute(schema.meta.insert().values(key=f"beat-{next(beats)}", value="x"))

    monkeypatch.setattr(compute, "people_outcomes", slowly)
    monkeypatch.setattr(compute, "BATCH", 4)  # writes between the reads
    monkeypatch.setattr(compute, "COMMIT_SECONDS", 0.02)  # and the lock is let go often
    beating = threading.Thread(target=heartbeat)
    beating.start()
    try:
        assert update_states(engine, caps, D)["rows"] == 60
    finally:
        stop.set()
        beating.join()
    assert next(beats) >= 10
