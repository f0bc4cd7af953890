"""Issue 17 (incremental run <= 2 % of the full run; the estimates' CPU after `go`): the pieces
of the estimates' reads and of the leniency model that were replaced by faster ones give what
the old code gave, on random data: the raters' connected groups (scipy's connected components
instead of a hand-written union-find) and each rater's counts and raw comparison (the leniency
model on numpy columns instead of one tuple per rating); the rows' plain values in the
estimates' answer.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from datetime import date

import numpy as np
import pytest

from adoptloop.adoption.estimates import _plain
from adoptloop.adoption.raters import CountedRatings, Leniency, _components, leniency
from adoptloop.adoption.smallnumbers import Tier, tier
from adoptloop.adoption.uplift import PreTrend, Uplift

AS_OF = date(2026, 6, 30)


def _union_find_components(pairs: list[tuple[str, str]]) -> list[list[str]]:
    """The reference (the code scipy replaced): raters joined when they rated a common rep,
    each group sorted, the groups in the order their earliest rater first appears."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for rater, rep in pairs:
        a, b = find("m:" + rater), find("r:" + rep)
        if a != b:
            parent[a] = b
    groups: dict[str, list[str]] = defaultdict(list)
    for key in list(parent):
        if key.startswith("m:"):
            groups[find(key)].append(key[2:])
    return [sorted(g) for g in groups.values()]


@pytest.mark.parametrize("seed", range(12))
def test_rater_groups_by_scipy_equal_the_union_find_groups(seed: int) -> None:
    """Issue 17, the leniency model's connected groups: the same groups, each sorted, in the
    same order, as the union-find over the same ratings (sparse and dense graphs, a rater id
    that is also a rep id, raters alone in their group)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    raters = [f"m{i}" for i in range(rng.randint(1, 40))]
    reps = [f"r{i}" for i in range(rng.randint(1, 120))] + raters[:3]  # managers rated too
    pairs = [(rng.choice(raters), rng.choice(reps)) for _ in range(rng.randint(1, 400))]
    expected = _union_find_components(pairs)
    assert _components([a for a, _ in pairs], [b for _, b in pairs]) == expected


def test_no_ratings_make_no_rater_groups() -> None:
    """Issue 17: no ratings, no groups (as the union-find gave)."""
    assert _components([], []) == _union_find_components([])


def _random_ratings(seed: int) -> tuple[CountedRatings, dict[str, str]]:
    """A random year of ratings in a few regions, as the leniency model takes them."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    raters = [f"m{i:02d}" for i in range(rng.randint(2, 30))]
    reps = [f"r{i:03d}" for i in range(rng.randint(5, 150))]
    n = rng.randint(1, 2000)
    pick = [(rng.choice(raters), rng.choice(reps)) for _ in range(n)]
    days = [AS_OF.toordinal() - rng.randint(0, 364) for _ in range(n)]
    counted = CountedRatings(
        np.array([m for m, _ in pick], dtype=object),
        np.array([r for _, r in pick], dtype=object),
        np.array([rng.choice(["obj", "disc"]) for _ in range(n)], dtype=object),
        np.array(days, dtype=np.int64),
        np.array([rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, rng.random()]) for _ in range(n)]),
        {},
    )
    return counted, {m: rng.choice(["North", "South", "West"]) for m in raters}


@pytest.mark.parametrize("seed", range(8))
def test_leniency_counts_and_raw_means_on_columns_equal_one_rating_at_a_time(seed: int) -> None:
    """Issue 17, the leniency model on the counted ratings' columns (no object per rating):
    each rater's n_ratings, n_reps, tier and raw mean minus the region's other raters equal
    the per-rating reference (the sums added in the ratings' order: the same floats, not
    merely close ones)."""
    counted, regions = _random_ratings(seed)
    mine: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for rater, rep, scaled in zip(
        counted.raters.tolist(), counted.reps.tolist(), counted.scaled.tolist(), strict=True
    ):
        mine[rater].append((rep, scaled))
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rater, rs in mine.items():
        totals[regions[rater]][0] += sum(s for _, s in rs)
        totals[regions[rater]][1] += len(rs)
    rows = {row.manager: row for row in leniency(counted, regions, AS_OF)}
    assert rows.keys() == mine.keys()
    for rater, rs in mine.items():
        row = rows[rater]
        n_reps = len({rep for rep, _ in rs})
        assert (row.region, row.n_ratings, row.n_reps, row.tier) == (
            regions[rater],
            len(rs),
            n_reps,
            tier(n_reps),
        )
        own = sum(s for _, s in rs)
        region_sum, region_n = totals[regions[rater]]
        raw = None
        if row.tier.shows_estimates and region_n > len(rs):
            raw = own / len(rs) - (region_sum - own) / (region_n - len(rs))
        assert row.raw == raw


def test_plain_rows_equal_dataclasses_asdict() -> None:
    """Issue 17, the estimates' JSON answer: a row's plain values (the fields read directly,
    the pre-trend as a dict) are what dataclasses.asdict gave, with the tier's value."""
    rows: list[Uplift | Leniency] = [
        Uplift("(all)", "obj", 12, 30, Tier.DIRECTIONAL, 0.1, 0.0, 0.2, 0.05, None, None),
        Uplift("R1", "obj", 40, 30, Tier.COMPARABLE, pretrend=PreTrend({-2: 0.01}, 0.5)),
        Leniency("m1", "North", 20, 11, Tier.DIRECTIONAL, 0.02, -0.1, 0.1, 0.03, None),
    ]
    for row in rows:
        assert _plain(row) == {**dataclasses.asdict(row), "tier": row.tier.value}
