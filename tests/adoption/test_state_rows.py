"""The states pass's rows as tuples (adoption.compute.state_row, store.adoption.write_states):
the same digest and values as the rows as mappings through store.records.upsert_source_rows,
which is how the pass wrote them before (and how every other table is written).

Digests are stored and compared on every run: a digest that differs from the mapping path's by
a byte would make every stored row look changed (and re-translated) once. So each check here
is against the mapping path, on outcomes drawn at random (unicode names, missing groups, dates
around the window's end, long paths)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from adoptloop.adoption import compute
from adoptloop.adoption.aggregates import group_of, rep_contribution, rep_values
from adoptloop.adoption.employment import Employment
from adoptloop.adoption.outcomes import RepOutcome
from adoptloop.adoption.states import State, Trajectory, Transition, trajectory
from adoptloop.store import adoption, records
from adoptloop.store.adoption import HRRow
from adoptloop.store.aggregates import REP_COLUMNS
from adoptloop.store.metrics import NO_GROUP, TrainedRow
from tests.adoption.scenario import DISC, OBJ, D, capability_map

NAMES = ["North", "Süd", "東京", "a/b", "", None]


def _row(rng: random.Random, start: date, end: date | None) -> HRRow:
    return HRRow(
        valid_from=start,
        valid_to=end,
        role=rng.choice(["rep", "rep", "manager"]),
        region=rng.choice(NAMES),
        manager_hr_id=rng.choice(["m1", "mé", None]),
        status="active",
        hire_date=date(2019, 1, 1),
        termination_date=None,
        team=rng.choice(["T1", "Équipe", None]),
    )


def _history(rng: random.Random) -> Employment:
    starts = sorted(rng.sample(range(-900, 60), rng.randint(1, 3)))
    days = [D + timedelta(days=s) for s in starts]
    ends: list[date | None] = [*days[1:], None]
    return Employment([_row(rng, a, b) for a, b in zip(days, ends, strict=True)])


def _outcome(rng: random.Random, hr_id: str, capability: str) -> RepOutcome:
    trained = rng.random() < 0.8
    trained_at = D - timedelta(days=rng.randint(-5, 400)) if trained else None
    states = list(State)
    path = Trajectory(rng.choice(states))
    on = trained_at or D - timedelta(days=500)
    for _ in range(rng.randint(0, 5)):
        on += timedelta(days=rng.randint(1, 60))
        path.transitions.append(Transition(rng.choice(states), on))
    path.first_proficient = rng.choice([None, on])
    path.ever_adopted = rng.random() < 0.5
    in_cohort = trained and rng.random() < 0.6
    return RepOutcome(
        hr_id=hr_id,
        capability_id=capability,
        trained_at=trained_at,
        in_cohort=in_cohort,
        observed=in_cohort and rng.random() < 0.5,
        proficient=in_cohort and rng.random() < 0.3,
        path=path,
        trained_module=rng.choice(["MOD-OBJ-101", "MÖD", None]) if trained else None,
    )


def outcomes(seed: int, n: int) -> Iterator[tuple[RepOutcome, Employment]]:
    rng = random.Random(seed)  # noqa: S311 (a test's draws)
    for i in range(n):
        history = _history(rng)
        hr_id = rng.choice(["e", "É", "社員", "x/y"]) + str(i)
        for capability in sorted(rng.sample([OBJ, DISC], rng.randint(1, 2))):
            yield _outcome(rng, hr_id, capability), history


def mapping_row(outcome: RepOutcome, history: Employment, as_of: date) -> dict[str, Any]:
    """The row as the pass wrote it before (a mapping for records.upsert_source_rows)."""
    row = compute.outcome_row(outcome, capability_map(), history, as_of)
    return {**row, "record_id": f"{row['hr_id']}/{row['capability_id']}", "as_of": as_of}


@pytest.mark.parametrize("seed", range(5))
def test_a_state_rows_digest_is_the_mapping_paths_digest_of_the_row(seed: int) -> None:
    capabilities = capability_map()
    for outcome, history in outcomes(seed, 300):
        values = compute.outcome_values(outcome, capabilities, history, D)
        row = compute.state_row(values, D)
        as_mapping = mapping_row(outcome, history, D)
        # the path as stored: [[state, ISO date], ...], compact JSON
        assert as_mapping["transitions"] == json.dumps(
            [[t.state.value, t.on.isoformat()] for t in outcome.path.transitions],
            separators=(",", ":"),
        )
        # what records.upsert_source_rows hashes (records._prepared)
        expected = records.row_digest(
            {**as_mapping, "_children": ""}, exclude=("source", *compute._VOLATILE)
        )
        assert dict(zip(adoption.STATE_COLUMNS, row, strict=True)) == {
            **as_mapping,
            "source": adoption.SOURCE,
            "digest": expected,
            "deleted": False,
        }


def test_the_digest_leaves_out_only_the_volatile_fields() -> None:
    capabilities = capability_map()
    (outcome, history), *_ = outcomes(7, 1)
    outcome.trained_at = D - timedelta(days=200)
    values = compute.outcome_values(outcome, capabilities, history, D)
    digest = compute.state_row(values, D)[adoption.STATE_COLUMNS.index("digest")]
    censored = adoption.STATE_FIELDS.index("censored_days")
    assert compute.state_row(values, D + timedelta(days=3))[-2] == digest  # as_of
    moved = (*values[:censored], 999, *values[censored + 1 :])
    assert compute.state_row(moved, D)[-2] == digest
    for k, field in enumerate(adoption.STATE_FIELDS):
        if field == "censored_days":
            continue
        changed = (*values[:k], f"other-{values[k]}", *values[k + 1 :])
        assert compute.state_row(changed, D)[-2] != digest, field


@pytest.mark.parametrize("seed", range(3))
def test_rep_values_put_a_rep_in_group_ofs_groups(seed: int) -> None:
    for outcome, history in outcomes(seed, 200):
        if outcome.trained_at is None:
            continue
        window_end = outcome.trained_at + timedelta(days=90)
        rep = TrainedRow(
            outcome.hr_id,
            outcome.capability_id,
            outcome.trained_at,
            window_end,
            outcome.trained_module,
            outcome.in_cohort,
            outcome.observed,
            outcome.proficient,
            outcome.path.state.value,
            3 if outcome.proficient else None,
        )
        values = rep_values(rep, history, D)
        post = history.rep_on(min(window_end, D))
        if post is None:
            assert values is None
            assert rep_contribution(rep, history, D) is None
            continue
        expected = {
            "hr_id": rep.hr_id,
            "capability_id": rep.capability_id,
            **{
                g: group_of(g, post, rep.trained_module) or NO_GROUP
                for g in ("region", "team", "manager", "module")
            },
            "trained_at": rep.trained_at,
            "in_cohort": rep.in_cohort,
            "observed": rep.observed,
            "proficient": rep.proficient,
            "sustained": rep.state == "sustained",
            "regressed": rep.state == "regressed",
            "days_to_proficient": rep.days_to_proficient,
        }
        assert rep_contribution(rep, history, D) == expected
        assert values == tuple(expected[c] for c in REP_COLUMNS)


def test_the_state_machine_gives_each_transition_once() -> None:
    """trajectory over local variables: a path of every kind of step."""
    trained = D - timedelta(days=300)
    ratings = [
        (trained, "v0", 0.9),  # the training day itself: not counted
        (trained + timedelta(days=5), "v1", 0.2),  # developing
        (trained + timedelta(days=6), "v2", 0.1),  # developing still: no new transition
        (trained + timedelta(days=10), "v3", 0.9),  # adopted
        (trained + timedelta(days=50), "v4", 0.9),  # sustained (40 days after)
        (trained + timedelta(days=60), "v5", 0.1),
        (trained + timedelta(days=61), "v6", 0.1),  # regressed
        (trained + timedelta(days=70), "v7", 0.9),  # adopted again
        (D + timedelta(days=1), "v8", 0.1),  # after D: not counted
    ]
    path = trajectory(trained, list(reversed(ratings)), 0.75, D)
    assert [(t.state, (t.on - trained).days) for t in path.transitions] == [
        (State.TRAINED_UNOBSERVED, 0),
        (State.DEVELOPING, 5),
        (State.ADOPTED, 10),
        (State.SUSTAINED, 50),
        (State.REGRESSED, 61),
        (State.ADOPTED, 70),
    ]
    assert path.state is State.ADOPTED
    assert path.first_proficient == trained + timedelta(days=10)
    assert path.ever_adopted
