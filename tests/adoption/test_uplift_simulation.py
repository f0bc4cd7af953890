"""Issue 19 point 3: uplift and rater leniency on seeded simulated orgs with the truth planted
(tests/adoption/uplift_org.py): staggered training waves, a secular upward trend, weaker reps
trained first, lenient managers leading weaker teams, effects large / small / zero."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from scipy.stats import spearmanr

from adoptloop.adoption.raters import NOT_IDENTIFIABLE, leniency
from adoptloop.adoption.uplift import Rating, Uplift, estimate
from tests.adoption.uplift_org import DAYS, EFFECTS, START, WINDOW, Org, simulate

SEEDS = (11, 12, 13, 14, 15)
AS_OF = START + timedelta(days=DAYS)


@cache
def _org(seed: int) -> Org:
    return simulate(seed)


@cache
def _uplift(seed: int, capability: str) -> Uplift:
    return estimate(_org(seed).ratings[capability], "(all)", capability, WINDOW, pretrend=True)


def test_uplift_intervals_cover_the_planted_effects_across_seeds() -> None:
    """Point 3 (and 1): the 95 % intervals cover the true effect; of 15 intervals (5 seeds x 3
    capabilities) at most 3 may miss (the nominal 5 % miss rate, with the binomial slack of 15
    draws: P(4+ misses) < 1 % at 95 % coverage)."""
    covered = 0
    for seed in SEEDS:
        truth = _org(seed).true_att
        for capability in EFFECTS:
            row = _uplift(seed, capability)
            assert row.estimate is not None
            assert row.ci_low is not None
            assert row.ci_high is not None
            covered += row.ci_low <= truth[capability] <= row.ci_high
    assert covered >= 3 * len(SEEDS) - 3


def test_uplift_null_capability_interval_covers_zero() -> None:
    """Point 3: the capability whose training does nothing: its interval covers 0 (4 of 5
    seeds at least), and the large effect's interval is above 0 in every seed."""
    nulls = [_uplift(seed, "zero") for seed in SEEDS]
    assert sum(r.ci_low <= 0 <= r.ci_high for r in nulls if r.ci_low is not None and r.ci_high is not None) >= 4  # fmt: skip
    assert all((r := _uplift(seed, "large")).ci_low is not None and r.ci_low > 0 for seed in SEEDS)


def test_uplift_beats_the_naive_before_after() -> None:
    """Point 3: the estimate is closer to the truth than the before/after difference, which the
    secular trend inflates (mean absolute error over every seed and capability)."""
    errors: list[float] = []
    naive: list[float] = []
    for seed in SEEDS:
        for capability in EFFECTS:
            row = _uplift(seed, capability)
            truth = _org(seed).true_att[capability]
            assert row.estimate is not None
            assert row.naive is not None
            errors.append(abs(row.estimate - truth))
            naive.append(row.naive - truth)
    assert sum(naive) / len(naive) > 0.02  # the rising tide, mistaken for training
    assert sum(errors) / len(errors) < sum(abs(n) for n in naive) / len(naive)


def test_uplift_reports_the_pretrend_leads() -> None:
    """Point 1/5: the (all) row carries the event-study leads and their joint test."""
    row = _uplift(SEEDS[0], "large")
    assert row.pretrend is not None
    assert row.pretrend.leads
    assert all(k < 0 for k in row.pretrend.leads)
    assert row.pretrend.p_value is not None
    assert 0 <= row.pretrend.p_value <= 1


def test_pretrend_flags_a_planted_rise_before_training() -> None:
    """Point 1/5: trained reps rated proficient in the eight weeks before their training (a
    rise the not-yet-trained do not share): the joint test rejects parallel trends."""
    rows = [
        Rating(r.rep, r.day, True, r.trained_at)
        if r.trained_at is not None and timedelta(0) <= r.trained_at - r.day < timedelta(days=56)
        else r
        for r in _org(SEEDS[0]).ratings["zero"]
    ]
    row = estimate(rows, "(all)", "zero", WINDOW, pretrend=True)
    assert row.pretrend is not None
    assert row.pretrend.p_value is not None
    assert row.pretrend.p_value < 0.05


def test_pretrend_is_not_tested_when_few_reps_identify_the_leads() -> None:
    """Point 1/5: a lead is identified only by trained reps rated in two periods before their
    training (a rep's only pre-training cell is absorbed by its rep effect). When fewer than
    MIN_LEAD_REPS such reps exist (here 6: every other trained rep keeps only its last rating
    before training), no leads and no p-value are reported, rather than a test a handful of
    reps decide."""
    ratings = _org(SEEDS[0]).ratings["large"]
    trained = sorted({r.rep for r in ratings if r.trained_at is not None})
    keep_two = set(trained[:6])
    last_before: dict[str, list[Rating]] = {}
    for r in sorted(ratings, key=lambda r: r.day):
        if r.trained_at is not None and r.day <= r.trained_at:
            last_before.setdefault(r.rep, []).append(r)
    thinned = [r for r in ratings if r.trained_at is None or r.day > r.trained_at]
    for rep, before in last_before.items():
        thinned.extend(before[-2:] if rep in keep_two else before[-1:])
    row = estimate(thinned, "(all)", "large", WINDOW, pretrend=True)
    assert row.estimate is not None  # the effect itself is still estimated
    assert row.pretrend is not None
    assert row.pretrend.p_value is None
    assert row.pretrend.leads == {}


def test_uplift_small_numbers_blank_the_estimate() -> None:
    """Point 1 (small-number rule): 5-9 trained reps show counts only; under 5 nothing."""
    org = _org(SEEDS[0])
    ratings = org.ratings["large"]
    trained = sorted({r.rep for r in ratings if r.trained_at is not None})
    for keep, shown in ((7, "counts"), (3, "nothing")):
        subset = [r for r in ratings if r.trained_at is None or r.rep in trained[:keep]]
        cells = estimate(subset, "(all)", "large", WINDOW, pretrend=False).cells()
        assert cells["estimate"] == ""
        assert (cells["n_trained"] == "") is (shown == "nothing")
        assert cells["suppressed"] == ("true" if shown == "nothing" else "false")


def _relative_truth(org: Org, manager: str, region: str) -> float:
    """The planted leniency on the 0..1 scale relative to the region's identifiable raters."""
    peers = [m for m, g in org.regions.items() if g == region and m != "iso"]
    return 0.625 * (org.leniency[manager] - sum(org.leniency[m] for m in peers) / len(peers))


def _ranks(seed: int) -> tuple[float, float]:
    org = _org(seed)
    rows = leniency(org.counted, org.regions, AS_OF)
    shown = [r for r in rows if r.leniency is not None]
    truth = [_relative_truth(org, r.manager, r.region) for r in shown]
    adjusted = spearmanr([r.leniency for r in shown], truth).statistic
    raw = spearmanr([r.raw for r in shown], truth).statistic
    return float(adjusted), float(raw)


def test_rater_leniency_ranks_managers_like_the_truth_and_raw_does_not() -> None:
    """Point 2/3 (over managers, against the truth relative to their region): adjusted
    leniency ranks managers close to the planted truth (mean Spearman over 5 seeds >= 0.7); the
    raw mean minus others, fooled by lenient managers leading weaker teams, does not (mean
    <= 0.2), and adjusted beats raw by 0.2 or more in every seed."""
    ranks = [_ranks(seed) for seed in SEEDS]
    assert sum(a for a, _ in ranks) / len(ranks) >= 0.7
    assert sum(r for _, r in ranks) / len(ranks) <= 0.2
    assert all(a >= r + 0.2 for a, r in ranks)


def test_rater_intervals_cover_the_planted_leniency() -> None:
    """Point 2: the 95 % intervals (on the 0..1 scale: 0.625 x the planted effect on p,
    relative to the region's average rater) cover the truth for most managers."""
    covered = total = 0
    for seed in SEEDS[:3]:
        org = _org(seed)
        rows = [r for r in leniency(org.counted, org.regions, AS_OF) if r.leniency is not None]
        for row in rows:
            truth = _relative_truth(org, row.manager, row.region)
            assert row.ci_low is not None
            assert row.ci_high is not None
            covered += row.ci_low <= truth <= row.ci_high
            total += 1
    assert covered >= 0.85 * total


def test_rater_whose_reps_nobody_else_rates_is_not_identifiable() -> None:
    """Point 2: `iso` rates only their own reps, whom nobody else rates: blank leniency and the
    reason, never a guess; counts are still shown."""
    org = _org(SEEDS[0])
    (row,) = [r for r in leniency(org.counted, org.regions, AS_OF) if r.manager == "iso"]
    assert row.leniency is None
    assert row.reason == NOT_IDENTIFIABLE
    assert row.cells()["leniency"] == ""
    assert row.cells()["n_reps"] == 10
