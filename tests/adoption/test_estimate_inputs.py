"""Issue 17 (incremental run <= 2 % of the full run; the estimates stage's cost besides the
fits): the estimates stage reads the counted ratings once for both estimators
(raters.rater_inputs with `earlier` keeps the ones before the leniency model's year aside) and
hands them to uplift.collect; the panels must be what reading every rating per person gives. The
panels hold their ratings as compact columns, and their cells are summed with numpy: the same
values, types and order as one rating at a time.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from adoptloop.adoption.employment import Employment
from adoptloop.adoption.outcomes import trained_dates
from adoptloop.adoption.raters import counted_ratings, rater_inputs
from adoptloop.adoption.uplift import (
    PERIOD_DAYS,
    Panel,
    Rating,
    UpliftBy,
    _cells,
    collect,
    naive_before_after,
)
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store.adoption import HRRow, person_inputs
from tests.adoption.test_incremental_states import _edit_drops, _pull
from tests.adoption.test_kept_estimates import AS_OF, capabilities, org

__all__ = ["capabilities", "org"]  # the fixtures this module uses


def _per_person(
    engine: Engine, capabilities: CapabilityMap, as_of: date, by: UpliftBy | None
) -> tuple[dict[str, list[tuple[str, date, bool, date | None]]], dict[str, dict[str, str | None]]]:
    """The reference: every counted rating of a `rep` row, read person by person (the states
    engine's reader), as (rep, day, proficient, trained_at) sorted, per capability; and with
    `by`, each rated rep's group (the row at the window's close, else on D, else at the rep's
    last rating)."""
    out: dict[str, list[tuple[str, date, bool, date | None]]] = {
        c: [] for c in capabilities.capabilities
    }
    groups: dict[str, dict[str, str | None]] = {c: {} for c in capabilities.capabilities}
    with engine.connect() as conn:
        for inputs in person_inputs(conn, as_of):
            history = Employment(inputs.posts)
            trained = trained_dates(inputs.completions, capabilities, as_of)
            last_rated: dict[str, HRRow] = {}
            for capability, day, _visit, scaled in inputs.ratings:
                row = history.rep_on(day)
                if capability not in out or row is None:
                    continue
                first = trained.get(capability)
                threshold = capabilities.capabilities[capability].threshold
                out[capability].append(
                    (inputs.hr_id, day, scaled >= threshold, first[0] if first else None)
                )
                last_rated[capability] = row
            for capability, row in last_rated.items():
                if by is None:
                    continue
                if capability in trained:
                    window = timedelta(days=capabilities.window_days(capability))
                    post = history.on(min(trained[capability][0] + window, as_of))
                else:
                    post = history.on(as_of) or row
                group = (
                    None if post is None else post.region if by == "region" else post.manager_hr_id
                )
                groups[capability][inputs.hr_id] = group
    return {c: sorted(rows) for c, rows in out.items()}, groups


def _plain(panels: dict[str, Panel]) -> dict[str, list[tuple[str, date, bool, date | None]]]:
    return {
        c: sorted((r.rep, r.day, r.proficient, r.trained_at) for r in p.ratings)
        for c, p in panels.items()
    }


@pytest.mark.parametrize("days", [120, 365])
@pytest.mark.parametrize("by", [None, "region", "manager"])
def test_panels_from_the_raters_year_equal_panels_read_whole(
    org: Path, engine: Engine, capabilities: CapabilityMap, days: int, by: UpliftBy | None
) -> None:
    """Issue 17, estimates stage: collect handed the counted ratings read once for both
    estimators (the leniency model's year and the earlier ones) gives the panels, ratings and
    groups that collect reading them itself gives, and both equal the per-person reference;
    the leniency model's ratings are the same taken from that one read or read for its year
    alone; over a random edit of the drops."""
    _pull(engine, org, capabilities)
    for step in range(2):
        if step:
            _edit_drops(org, 11)
            _pull(engine, org, capabilities)
        since = AS_OF - timedelta(days=days)
        with engine.connect() as conn:
            counted = counted_ratings(conn, AS_OF)
            rated, regions = rater_inputs(conn, AS_OF, days=days, counted=counted)
            alone, alone_regions = rater_inputs(conn, AS_OF, days=days)
            assert (rated.rows(), regions) == (alone.rows(), alone_regions)
            shared = collect(conn, capabilities, AS_OF, by, rated=counted)
            whole = collect(conn, capabilities, AS_OF, by)
        earlier = counted.where(counted.days <= since.toordinal()).rows()
        assert rated.rows()
        assert len(rated.rows()) + len(earlier) == len(counted.days)
        assert bool(earlier) == (days == 120)
        ratings, groups = _per_person(engine, capabilities, AS_OF, by)
        assert _plain(shared) == _plain(whole) == ratings
        assert {c: p.groups for c, p in shared.items()} == {c: p.groups for c, p in whole.items()}
        assert {c: p.groups for c, p in shared.items()} == groups
        assert (by is None) == all(not g for g in groups.values())


def _reference_cells(ratings: list[Rating], window_days: int) -> list[tuple[str, int, float, int]]:
    """The panel cells summed one rating at a time (uplift._cells before numpy)."""
    window = timedelta(days=window_days)
    items = [r for r in ratings if r.trained_at is None or r.day <= r.trained_at + window]
    if not items:
        return []
    starts = [r.trained_at + timedelta(days=1) for r in items if r.trained_at is not None]
    origin = min([r.day for r in items] + starts)
    sums: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for r in items:
        t = (r.day - origin).days // PERIOD_DAYS + 1
        g = 0
        if r.trained_at is not None:
            g = (r.trained_at + timedelta(days=1) - origin).days // PERIOD_DAYS + 1
            if t == g and r.day <= r.trained_at:
                continue
        cell = sums[(r.rep, t, g)]
        cell[0] += r.proficient
        cell[1] += 1
    return [(rep, t, hits / n, g) for (rep, t, g), (hits, n) in sorted(sums.items())]


@pytest.mark.parametrize("seed", range(30))
def test_panel_cells_summed_with_numpy_equal_one_rating_at_a_time(seed: int) -> None:
    """Issue 17, estimates stage (points 2 and 4): the panel's cells (the uplift fit's input
    and the digest its kept result is found by), from the panel's compact columns or from
    ratings one by one, are the same values of the same types, in the same order, as summing
    one rating at a time, and so is the naive before/after contrast; on random panels (untrained reps, training before the first
    rating, ratings after the window, several ratings per period)."""
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    start = date(2025, 1, 1)
    reps = [f"rep-{i:03d}" for i in range(rng.randint(1, 25))]
    trained = {rep: start + timedelta(days=rng.randint(-30, 400)) for rep in reps}
    ratings = [
        Rating(
            rep,
            start + timedelta(days=rng.randint(0, 500)),
            rng.random() < 0.5,
            trained[rep] if rng.random() < 0.7 else None,
        )
        for rep in reps
        for _ in range(rng.randint(0, 30))
    ]
    window = rng.choice([1, 30, 90])
    panel = Panel()
    for r in ratings:
        panel.reps.append(r.rep)
        panel.days.append(r.day.toordinal())
        panel.proficient.append(r.proficient)
        panel.trained.append(r.trained_at.toordinal() if r.trained_at else 0)
    assert panel.ratings == ratings
    cells = _cells(panel, window)
    assert cells == _cells(ratings, window) == _reference_cells(ratings, window)
    assert orjson.dumps(cells) == orjson.dumps(_reference_cells(ratings, window))
    assert all(type(t) is int and type(y) is float and type(g) is int for _r, t, y, g in cells)
    naive = naive_before_after(panel, window)
    assert naive == naive_before_after(ratings, window) == _reference_naive(ratings, window)
    assert naive is None or type(naive) is float


def _reference_naive(ratings: list[Rating], window_days: int) -> float | None:
    """The before/after contrast one rating at a time (uplift.naive_before_after before numpy)."""
    before = [0, 0]
    after = [0, 0]
    for r in ratings:
        if r.trained_at is None:
            continue
        span = (r.day - r.trained_at).days
        side = after if 0 < span <= window_days else before if -window_days < span <= 0 else None
        if side is not None:
            side[0] += r.proficient
            side[1] += 1
    if not before[1] or not after[1]:
        return None
    return after[0] / after[1] - before[0] / before[1]
