"""Issue 17 (incremental run <= 2 % of the full run; the estimates' CPU after `go`): the pieces
of the estimates' reads and of the leniency model that were replaced by faster ones give what
the old code gave, on random data: the raters' connected groups (scipy's connected components
instead of a hand-written union-find).
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from adoptloop.adoption.raters import _components


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
