"""Small-number rules: the tier of a group size and the Wilson 95% interval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoptloop.adoption.smallnumbers import Tier, tier, wilson


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, Tier.SUPPRESSED),
        (4, Tier.SUPPRESSED),  # last size under 5
        (5, Tier.COUNTS_ONLY),  # 5-9: counts only
        (9, Tier.COUNTS_ONLY),
        (10, Tier.DIRECTIONAL),  # 10-29: percentage, marked directional
        (29, Tier.DIRECTIONAL),
        (30, Tier.COMPARABLE),  # 30+: comparable
        (10_000, Tier.COMPARABLE),
    ],
)
def test_tier_boundaries(n: int, expected: Tier) -> None:
    assert tier(n) is expected


@pytest.mark.parametrize(("n", "shown"), [(4, False), (9, False), (10, True), (30, True)])
def test_estimates_are_shown_from_ten_people(n: int, shown: bool) -> None:
    """The rule raters.py and uplift.py share (Tier.shows_estimates): a percentage or an
    estimate with its interval only for 10 people or more."""
    assert tier(n).shows_estimates is shown


def test_negative_group_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        tier(-1)


# z = 1.959964, z^2 = 3.841459. For k successes in n:
#   centre = (p + z^2/2n) / (1 + z^2/n),  half = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # p = 0.8; denominator 1 + 0.384146 = 1.384146;
        # centre (0.8 + 0.192073) / 1.384146 = 0.716740;
        # half 1.959964 * sqrt(0.016 + 0.009604) / 1.384146 = 0.313804... / 1.384146 = 0.226578
        # -> (0.490, 0.943)
        (8, 10, 0.490, 0.943),
        # p = 0: centre = half = 0.192073 / 1.384146 = 0.138766 -> (0.000, 0.278)
        (0, 10, 0.000, 0.278),
        # p = 1 mirrors p = 0: (1 - 0.278, 1) = (0.722, 1.000)
        (10, 10, 0.722, 1.000),
        # p = 0.5: centre 0.5; half 1.959964 * sqrt(0.025 + 0.009604) / 1.384146 = 0.263407
        # -> (0.237, 0.763)
        (5, 10, 0.237, 0.763),
        # n = 1, k = 1: denominator 4.841459; centre (1 + 1.920730) / 4.841459 = 0.603275;
        # half 1.959964 * sqrt(0 + 0.960365) / 4.841459 = 0.396725 -> (0.207, 1.000)
        (1, 1, 0.207, 1.000),
    ],
)
def test_wilson_interval_matches_known_values(
    successes: int, n: int, low: float, high: float
) -> None:
    got = wilson(successes, n)
    assert (round(got[0], 3), round(got[1], 3)) == (low, high)


def test_wilson_of_nothing_observed_is_zero_zero() -> None:
    assert wilson(0, 0) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("successes", "n"),
    [(-1, 10), (11, 10), (1, 0), (0, -1), (-1, -1)],
)
def test_wilson_rejects_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.n"):
        wilson(successes, n)


_COUNTS = st.integers(min_value=1, max_value=5000).flatmap(
    lambda n: st.tuples(st.integers(0, n), st.just(n))
)


@given(_COUNTS)
def test_wilson_interval_holds_the_proportion_and_is_symmetric(case: tuple[int, int]) -> None:
    successes, n = case
    low, high = wilson(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0
    mirror_low, mirror_high = wilson(n - successes, n)
    assert low == pytest.approx(1 - mirror_high, abs=1e-12)
    assert high == pytest.approx(1 - mirror_low, abs=1e-12)


def test_wilson_bounds_are_exact_at_none_and_all() -> None:
    assert wilson(0, 229)[0] == 0.0
    assert wilson(10, 10)[1] == 1.0
