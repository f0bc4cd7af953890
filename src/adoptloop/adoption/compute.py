"""The adoption pass: one row per rep x capability, written to the store in batches.

`people_outcomes` streams each person's HR rows, completions and ratings (ordered by person,
then capability and visit) through the state machine; each outcome becomes a row with its
window outcome, its state and transitions, its time to proficiency (or how long it was
observed without, for Kaplan-Meier censoring) and the rep's group at window close (region and
manager of the `rep` row valid then, adoption.employment; both NULL when the pair counts
nowhere). Group metrics (adoption.metrics) stream these rows and attribute each through the
same adoption.employment rules: one person is held at a time here, and rows that are no longer
produced are found by the database (store.adoption.stale_states), not by a set of every key
in memory. Every query is in store/adoption.py; this module decides what the rows say.

Two destinations share the columns:
- `adoption_states`: the current state as of the run, upserted by digest so that only
  changed rows are re-translated into adoption statements (and rows that no longer exist are
  tombstoned, voiding their statements);
- `adoption_scratch`: one ad-hoc computation (`adoptloop adoption --as-of ...`), deleted after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, timedelta
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from adoptloop import __version__
from adoptloop.adoption import aggregates
from adoptloop.adoption.employment import Employment
from adoptloop.adoption.outcomes import RepOutcome, people_outcomes
from adoptloop.adoption.states import State
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import adoption as store
from adoptloop.store import aggregates as kept_metrics
from adoptloop.store.commits import Commits
from adoptloop.store.db import checkpoint_beside, no_checkpoints, streaming
from adoptloop.store.metrics import TrainedRow
from adoptloop.store.records import WriteCounts, digest, row_digest

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

BATCH = 1000


_VALUE = {state: state.value for state in State}  # (an enum's `.value` is a Python call)


def outcome_values(
    outcome: RepOutcome,
    capabilities: CapabilityMap,
    history: Employment,
    as_of: date,
) -> tuple[Any, ...]:
    """An outcome's row: the values of store.adoption.STATE_FIELDS, in that order."""
    path = outcome.path
    trained_at = outcome.trained_at
    window_end = None
    close = as_of
    days_to: int | None = None
    censored: int | None = None
    if trained_at is not None:
        window_end = trained_at + timedelta(days=capabilities.window_days(outcome.capability_id))
        close = min(window_end, as_of)
        if path.first_proficient is not None:
            days_to = (path.first_proficient - trained_at).days
        else:
            censored = (as_of - trained_at).days
    post = history.rep_on(close)  # None: the pair counts nowhere (left, or not a rep)
    transitions = path.transitions
    return (
        outcome.hr_id,
        outcome.capability_id,
        trained_at,
        outcome.trained_module,
        window_end,
        outcome.in_cohort,
        outcome.observed,
        outcome.proficient,
        _VALUE[path.state],
        transitions[-1].on if transitions else None,  # state_since
        path.ever_adopted,
        days_to,
        censored,
        post.region if post else None,
        post.manager_hr_id if post else None,
        post.team if post else None,
        # [[state, date], ...]: orjson writes a date as its ISO form, .isoformat()'s bytes
        orjson.dumps([[_VALUE[t.state], t.on] for t in transitions]).decode(),
    )


def outcome_row(
    outcome: RepOutcome,
    capabilities: CapabilityMap,
    history: Employment,
    as_of: date,
) -> dict[str, Any]:
    """An outcome's row by column name (outcome_values')."""
    values = outcome_values(outcome, capabilities, history, as_of)
    return dict(zip(store.STATE_FIELDS, values, strict=True))


def state_row(values: tuple[Any, ...], as_of: date) -> tuple[Any, ...]:
    """The adoption_states row of an outcome's row (outcome_values), as store.adoption.
    write_states takes it (STATE_COLUMNS' values): with its record id, as-of date and digest.

    The digest is the one store.records.upsert_source_rows makes of the row as a mapping
    (row_digest of its fields, its record id and no children, the _VOLATILE fields left
    out), as the pass wrote rows before: the same JSON bytes, so that a stored row's digest
    still matches (tests/adoption/test_state_rows.py checks it on varied rows). Made here
    from the row's values directly, with no mapping of every field copied on the way."""
    (
        hr_id,
        capability_id,
        trained_at,
        trained_module,
        window_end,
        in_cohort,
        observed,
        proficient,
        state,
        state_since,
        ever_adopted,
        days_to_proficient,
        _censored_days,  # volatile
        region,
        manager_hr_id,
        team,
        transitions,
    ) = values
    record_id = f"{hr_id}/{capability_id}"
    hashed = digest(
        {
            "_children": "",
            "capability_id": capability_id,
            "days_to_proficient": days_to_proficient,
            "ever_adopted": ever_adopted,
            "hr_id": hr_id,
            "in_cohort": in_cohort,
            "manager_hr_id": manager_hr_id,
            "observed": observed,
            "proficient": proficient,
            "record_id": record_id,
            "region": region,
            "state": state,
            "state_since": state_since,
            "team": team,
            "trained_at": trained_at,
            "trained_module": trained_module,
            "transitions": transitions,
            "window_end": window_end,
        }
    )
    return (store.SOURCE, record_id, *values, as_of, hashed, False)


def compute_rows(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    people: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of `people` (everyone: None), a person at a time."""
    for person in people_outcomes(conn, capabilities, as_of, people):
        history = person.history
        for outcome in person.outcomes:
            yield outcome_row(outcome, capabilities, history, as_of)


@contextmanager
def scratch(engine: Engine, capabilities: CapabilityMap, as_of: date) -> Iterator[str]:
    """Compute into adoption_scratch; yields the computation id; the rows are removed after."""
    computation = str(uuid.uuid4())
    try:
        # read on one connection, write (and commit, batch by batch) on another: see
        # update_states; the rows are removed below whatever happens
        with streaming(engine) as reader, engine.connect() as writer:
            batch: list[dict[str, Any]] = []
            for row in compute_rows(reader, capabilities, as_of):
                batch.append(row)
                if len(batch) >= BATCH:
                    store.insert_scratch(writer, computation, batch)
                    writer.commit()
                    batch = []
            if batch:
                store.insert_scratch(writer, computation, batch)
                writer.commit()
        yield computation
    finally:
        with engine.begin() as conn:
            store.delete_scratch(conn, computation)


# the fields that change every day without anything having happened: not part of the digest
_VOLATILE = ("as_of", "censored_days")


def update_states(
    engine: Engine, capabilities: CapabilityMap, as_of: date, *, full: bool = False
) -> dict[str, Any]:
    """Refresh adoption_states as of `as_of`; returns counts. Changed rows get re-translated.

    Only the people whose rows can have changed are recomputed (store.adoption.changed_people),
    unless this is the first computation, the capability map, window or adoptloop version
    changed, `as_of` went back, or `full` is asked for. Either way the table ends as a full
    computation would leave it (tests/adoption/test_incremental_states.py checks that).

    The rows are written in transactions of COMMIT_ROWS rows (at most COMMIT_SECONDS long)
    while the inputs stream from a second connection: a long read may not keep a write
    transaction open (SQLite refuses a read snapshot's upgrade to writing once another
    connection, e.g. the run lock's heartbeat, has committed since). The as-of date and basis
    are recorded last, with the clearing of adoption_dirty: a computation cut short is redone.
    A full computation also rebuilds the kept metrics from the rows as it makes them
    (adoption.aggregates.Rebuild, its counts under "kept_sums"); an incremental one marks
    its people for the metrics' next update.
    """
    basis = _basis(capabilities)
    with engine.begin() as conn:
        last = store.last_computation(conn)
        since = last[0] if last is not None and last[1] == basis else None
        people = (
            None
            if full or since is None or as_of < since
            else store.changed_people(conn, since, as_of)
        )
        # a first computation (an empty table, everyone computed once) only inserts: no
        # lookup of stored digests, whose plan PostgreSQL makes while the table is nearly empty
        new = people is None and store.no_states(conn)
    with streaming(engine) as reader, engine.connect() as writer:
        # a full computation rebuilds the kept metrics (adoption.aggregates) beside it
        sums = None if people is not None else aggregates.Rebuild(reader, capabilities, as_of)
        try:
            with no_checkpoints(writer):  # the reader's snapshot is open throughout
                counts = _compute(reader, writer, capabilities, as_of, people, new=new, sums=sums)
        finally:
            if sums is not None:  # after a failure: the write lock let go, then its work
                writer.rollback()  # beside the pass is waited for
                sums.close()
    counts["mode"] = "full" if people is None else "incremental"
    if people is not None:
        counts["people"] = len(people)
    with engine.begin() as conn:
        store.finish_computation(conn, as_of, basis)
        if people is not None:
            kept_metrics.mark_dirty(conn, people)
        counts["rows"] = store.live_states(conn)
    return counts


COMMIT_ROWS = 20_000
# a row's (outcome_values') trained_at, and the fields of its kept metrics' TrainedRow
_TRAINED_AT = store.STATE_FIELDS.index("trained_at")
_TRAINED_FIELDS = itemgetter(*(store.STATE_FIELDS.index(f) for f in TrainedRow._fields))
COMMIT_SECONDS = 5.0
# States rows held back at most while a part of the kept visits' copy holds the write lock (a
# full computation on SQLite: adoption.aggregates.Rebuild.copying); past it the pass waits for
# the lock. The pass makes ~25,000 rows a second at 50,000 reps, a part takes ~0.1-0.4 s; the
# rows held and their contributions ~0.8 KB each (the 50k probe's peak: +5-16 MB at 20,000).
HOLD_ROWS = 10_000


def _compute(
    reader: Connection,
    writer: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    people: list[str] | None,
    *,
    new: bool,
    sums: aggregates.Rebuild | None = None,
) -> dict[str, Any]:
    """Upsert the rows of `people` (everyone: None) and tombstone theirs no longer produced;
    `new`: none is stored yet, so they are inserted without looking up stored digests.
    `sums`: the kept metrics rebuilt from everyone's rows as they are made (their writes in
    the same transactions as the rows'); on SQLite the pass lends the write lock between its
    batches to the copy of the visits' rows staged beside it (aggregates.Rebuild.copying),
    going on making rows meanwhile (at most HOLD_ROWS held back) instead of waiting."""
    counts = WriteCounts()
    produced = 0
    keys: set[str] = set()  # with `people`: the rows produced for them (a few, not everyone)
    batch: list[tuple[Any, ...]] = []
    commits = Commits(writer, rows=COMMIT_ROWS, seconds=COMMIT_SECONDS)

    def upsert(rows: list[tuple[Any, ...]]) -> None:
        counts.add(store.write_states(writer, rows, new=new))

    def writing() -> bool:
        """Whether to write now: not while the kept visits' copy holds the write lock
        (aggregates.Rebuild.copying), unless HOLD_ROWS rows are waiting already."""
        return sums is None or len(batch) >= HOLD_ROWS or not sums.copying(commits)

    if sums is not None:
        commits.write(partial(sums.begin, writer), 0)
    for person in people_outcomes(reader, capabilities, as_of, people):
        history = person.history
        trained: list[TrainedRow] = []
        for outcome in person.outcomes:
            values = outcome_values(outcome, capabilities, history, as_of)
            row = state_row(values, as_of)
            produced += 1
            if people is not None:
                keys.add(row[1])
            batch.append(row)
            if sums is not None and values[_TRAINED_AT] is not None:
                trained.append(TrainedRow(*_TRAINED_FIELDS(values)))
        if len(batch) >= BATCH and writing():
            commits.write(partial(upsert, batch), len(batch))
            batch = []
        if sums is not None:
            sums.add(person.hr_id, person.posts, history, trained)
            if sums.pending >= aggregates.CHUNK_PEOPLE and writing():
                commits.write(partial(sums.flush, writer), 0)
    if batch:
        commits.write(partial(upsert, batch), len(batch))
    commits.close()
    reader.rollback()  # the inputs are read; end the read transaction
    # a full computation's pages, in the WAL since the read began (store.db.no_checkpoints),
    # are copied back beside what is left (the kept sums: ~2 s at 50,000 reps)
    with checkpoint_beside(writer) if people is None else nullcontext():
        if people is not None:
            stale = store.stale_among(writer, people, keys)
        elif new:
            stale = []  # every row stored was written by this pass: none is stale (not counted)
        else:
            # every row produced is live now (a tombstone's digest never matches a fresh
            # row's), so stale rows exist exactly when there are more live rows than produced
            live = store.live_states(writer)
            stale = _stale(writer, capabilities, as_of) if live > produced else []
        gone = store.tombstone_states(writer, stale)
        result: dict[str, Any] = {"changed": counts.inserted + counts.updated, "removed": gone}
        if sums is not None:  # after the last row: the kept sums are those of the live rows
            sums.finish(writer)
            result["kept_sums"] = {"metrics": "full", "people": sums.people}
        writer.commit()
    return result


def _stale(conn: Connection, capabilities: CapabilityMap, as_of: date) -> list[str]:
    """Live rows whose (rep, capability) is neither trained nor rated any more: the same
    pairs `people_outcomes` produces."""
    modules = {c: capabilities.modules_for(c) for c in capabilities.capabilities}
    return store.stale_states(conn, modules, as_of)


def _basis(capabilities: CapabilityMap) -> str:
    """What every row depends on besides the data: the map, the windows, the engine's code.

    Its value only decides whether the next computation must redo everyone (a new value
    costs one full pass)."""
    return row_digest(
        {
            "map": capabilities.spec.model_dump(mode="json"),
            "window_days": capabilities.default_window_days,
            "adoptloop": __version__,
        }
    )
