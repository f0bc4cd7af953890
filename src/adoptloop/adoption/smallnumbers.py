"""Small-number rules: never show a number that identifies people or misleads.

| cohort size | shown                                                     |
|-------------|-----------------------------------------------------------|
| < 5         | suppressed: no counts, no percentages                     |
| 5-9         | counts only                                               |
| 10-29       | percentage with a Wilson 95% interval, marked directional |
| >= 30       | percentage with a Wilson 95% interval, comparable         |
"""

from __future__ import annotations

import math
from enum import StrEnum
from statistics import NormalDist

Z_95 = NormalDist().inv_cdf(0.975)  # DESIGN.md: the CSV contract's z


class Tier(StrEnum):
    SUPPRESSED = "suppressed"
    COUNTS_ONLY = "counts-only"
    DIRECTIONAL = "directional"
    COMPARABLE = "comparable"

    @property
    def shows_estimates(self) -> bool:
        """Whether a percentage or an estimate (with its interval) is shown: 10 and over."""
        return self in (Tier.DIRECTIONAL, Tier.COMPARABLE)


def tier(n: int) -> Tier:
    if n < 0:
        raise ValueError(f"a group size cannot be negative ({n})")
    if n < 5:
        return Tier.SUPPRESSED
    if n < 10:
        return Tier.COUNTS_ONLY
    if n < 30:
        return Tier.DIRECTIONAL
    return Tier.COMPARABLE


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a proportion; (0, 0) when n is 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"successes ({successes}) must be within 0..n ({n}), n >= 0")
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At k = 0 and k = n the bounds are exactly 0 and 1; pin them against float noise.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)
