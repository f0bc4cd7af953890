"""Issue 17 (incremental run: the estimates stage's uplift fits): reps with no untreated cell
are left out of the diff-diff frame (adoption/uplift.py `_imputable`). They carry no weight in
the BJS estimate or its conservative variance, but their empty rows made diff-diff's variance
system singular and every fit fell back to an iterative solver. These tests hold the old fit
(diff-diff on the undropped frame) against the new one on random panels with reps rated only
after their training, reps trained at various times and reps never trained."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from diff_diff import ImputationDiD

from adoptloop.adoption import uplift
from adoptloop.adoption.report.causal import _uplift_row
from adoptloop.adoption.uplift import (
    Rating,
    Uplift,
    _cells,
    _imputable,
    _imputation,
    _supported_leads,
    estimate,
)
from adoptloop.pipeline.estimates import _uplift_record

WINDOW = 90
START = date(2025, 1, 6)
SEEDS = range(8)
Cell = tuple[str, int, float, int]


def _panel(seed: int, reps: int = 90) -> list[Rating]:
    """A rising tide, weaker reps trained first, an effect of 0.15 after training; about a
    fifth of the reps trained shortly before their first rating (no untreated cell)."""
    rng = np.random.default_rng(seed)
    out: list[Rating] = []
    for i in range(reps):
        rep = f"rep{i:03d}"
        days = np.sort(rng.choice(360, size=int(rng.integers(2, 16)), replace=False))
        ability = float(rng.normal(0, 0.1))
        kind = rng.choice(["never", "before", "staggered"], p=[0.35, 0.2, 0.45])
        trained: date | None = None
        if kind == "before":
            trained = START + timedelta(days=int(days[0]) - int(rng.integers(1, 20)))
        elif kind == "staggered":
            trained = START + timedelta(days=int(rng.integers(40, 320) - 40 * (ability > 0)))
        for d in days.tolist():
            day = START + timedelta(days=d)
            after = trained is not None and day > trained
            p = 0.35 + ability + 0.2 * d / 360 + 0.15 * after
            out.append(Rating(rep, day, bool(rng.random() < p), trained))
    return out


def _fit(cells: list[Cell]) -> tuple[Any, list[str]]:
    """diff-diff as adoptloop calls it, on exactly these cells, and the warnings it gave."""
    frame = pd.DataFrame(cells, columns=["rep", "t", "y", "g"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = ImputationDiD(cluster="rep", rank_deficient_action="silent").fit(
            frame, outcome="y", unit="rep", time="t", first_treat="g"
        )
    return fitted, [str(w.message) for w in caught]


def _no_untreated_cell(cells: list[Cell]) -> set[str]:
    reps = {rep for rep, _t, _y, _g in cells}
    return reps - {rep for rep, t, _y, g in cells if not g or t < g}


def _published(row: Uplift) -> tuple[Any, ...]:
    """Every published form of a row: the CSV cells, the JSON record, the report's row and
    the statement's record."""
    return row.cells(), row.record(), _uplift_row(row, row.capability), _uplift_record(row)


@pytest.mark.parametrize("seed", SEEDS)
def test_dropping_reps_without_untreated_cells_keeps_the_fit(seed: int) -> None:
    """Issue 17, estimates stage: the fit on the imputable cells gives the old fit's estimate
    bit for bit and its interval to 1e-12, and the same pre-trend leads and p-value; the
    panel really has reps rated only after training, which the old fit gave diff-diff."""
    cells = _cells(_panel(seed), WINDOW)
    dropped = _no_untreated_cell(cells)
    assert dropped, "the panel has no rep rated only after training: the test tests nothing"

    old, _ = _fit(cells)
    interval, trend = _imputation(cells, "test", pretrend=True)
    assert interval is not None
    value, low, high = interval
    assert value == old.overall_att
    assert low == pytest.approx(old.overall_conf_int[0], abs=1e-12, rel=0)
    assert high == pytest.approx(old.overall_conf_int[1], abs=1e-12, rel=0)

    n_leads = _supported_leads(cells)
    assert trend is not None
    if n_leads:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' deprecations inside diff-diff
            test = old.pretrend_test(n_leads=n_leads)
        assert trend.leads == {int(k): float(v) for k, v in test["lead_coefficients"].items()}
        assert trend.p_value == pytest.approx(test["p_value"], abs=1e-12, rel=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_dropping_reps_without_untreated_cells_keeps_every_published_figure(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, estimates stage: every published form of the uplift row (CSV, JSON record
    with naive before/after and pre-trend, the report's row, the statement's record) and the
    counts and tier it rests on are the same as with the old, undropped frame."""
    ratings = _panel(seed)
    new = estimate(ratings, "(all)", "cap", WINDOW, pretrend=True)
    with monkeypatch.context() as m:
        m.setattr(uplift, "_imputable", list)  # the old path: every cell goes to diff-diff
        old = estimate(ratings, "(all)", "cap", WINDOW, pretrend=True)
    assert new.estimate is not None
    assert new.tier.shows_estimates
    assert _published(new) == _published(old)
    assert (new.n_trained, new.n_comparison, new.naive) == (
        old.n_trained,
        old.n_comparison,
        old.naive,
    )


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_the_imputable_frame_takes_diff_diffs_direct_solve(seed: int) -> None:
    """Issue 17, estimates stage: the reason for the drop. On the undropped frame diff-diff's
    variance system is singular and it falls back to LSMR; on the imputable cells it is not."""
    cells = _cells(_panel(seed), WINDOW)
    _, old_warnings = _fit(cells)
    _, new_warnings = _fit(_imputable(cells))
    assert any("LSMR" in w for w in old_warnings)
    assert not any("LSMR" in w for w in new_warnings)


def test_imputable_drops_exactly_the_reps_with_no_untreated_cell() -> None:
    """Issue 17, estimates stage: a never-trained rep and a rep rated before training (period
    3) keep every cell, treated ones too; a rep trained before its first period and a rep
    rated only in its training period lose all theirs; the order of the cells is kept."""
    cells: list[Cell] = [
        ("a", 1, 0.5, 0),
        ("a", 4, 1.0, 0),
        ("b", 2, 0.0, 3),
        ("b", 3, 1.0, 3),
        ("b", 5, 1.0, 3),
        ("c", 1, 1.0, 1),
        ("c", 2, 0.0, 1),
        ("d", 4, 1.0, 4),
    ]
    assert _imputable(cells) == [c for c in cells if c[0] in {"a", "b"}]


def test_only_reps_rated_after_training_gives_the_answer_it_gave_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17, estimates stage: when every trained rep is rated only after training, the
    imputable cells hold no treated cell (diff-diff would refuse them); the row is the old
    one: counts, no estimate, the reason, no pre-trend leads. Without any rep to compare
    with, the row is the old one too (no fit)."""
    trained = START + timedelta(days=30)
    ratings = [
        Rating(f"t{i}", trained + timedelta(days=d), d % 3 == 0, trained)
        for i in range(12)
        for d in (5 + i, 20 + i, 50 + i)
    ]
    never = [
        Rating(f"n{i}", START + timedelta(days=d), (d + i) % 2 == 0, None)
        for i in range(6)
        for d in (3, 25, 40, 70, 95)
    ]
    for panel in (ratings + never, ratings):
        new = estimate(panel, "(all)", "cap", WINDOW, pretrend=True)
        with monkeypatch.context() as m:
            m.setattr(uplift, "_imputable", list)
            old = estimate(panel, "(all)", "cap", WINDOW, pretrend=True)
        assert new.n_trained == 12
        assert new.estimate is None
        assert new.reason
        assert _published(new) == _published(old)
        assert new.pretrend == old.pretrend


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_reps_as_integer_codes_give_the_fit_on_their_names(seed: int) -> None:
    """Issue 17, estimates stage: adoptloop gives diff-diff the reps as integer codes (faster);
    the fit is the one on the reps' names to the bit: estimate, interval, pre-trend."""
    cells = _cells(_panel(seed), WINDOW)
    named, _ = _fit(_imputable(cells))
    interval, trend = _imputation(cells, "test", pretrend=True)
    assert interval == (named.overall_att, *named.overall_conf_int)
    assert trend is not None
    if n_leads := _supported_leads(cells):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' deprecations inside diff-diff
            test = named.pretrend_test(n_leads=n_leads)
        assert trend.leads == {int(k): float(v) for k, v in test["lead_coefficients"].items()}
        assert trend.p_value == test["p_value"]
