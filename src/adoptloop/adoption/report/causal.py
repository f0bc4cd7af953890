"""What training caused, for the report: the uplift rows per capability and the rater
calibration intervals (adoption/estimates.py: the run's, the kept ones, or fitted), with the
small-number rule applied here, so the renderer (report/uplift_html.py) only shows them.

Both need the optional `adoptloop[uplift]` extra: without it `causal` returns nothing but the
reason, the report says so, and "where it works" falls back to adoption alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from adoptloop.adoption import estimators
from adoptloop.adoption.estimates import Estimates, estimates_as_of
from adoptloop.adoption.raters import Leniency
from adoptloop.adoption.report.data import RaterInterval, UpliftRow
from adoptloop.adoption.smallnumbers import Tier
from adoptloop.adoption.uplift import Uplift
from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass
class Causal:
    uplift: list[UpliftRow] = field(default_factory=list)
    raters: list[RaterInterval] = field(default_factory=list)
    # capability id -> its uplift interval sits above zero; None without the extra
    above_zero: dict[str, bool] | None = None
    missing: str = ""


def causal(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    names: Mapping[str, str],
    labels: Callable[[Sequence[str]], Mapping[str, str]],
    estimates: Estimates | None = None,
) -> Causal:
    """The report's uplift and rater rows as of `as_of`; `labels` names managers by hr_id.
    `estimates`: the run's (adoption.estimates), when it has them; else they are read or fitted
    here."""
    try:
        estimators.require()
    except ConfigError:
        return Causal(
            missing="Uplift and rater calibration need the optional statistics library "
            f"({estimators.INSTALL_HINT}); it is not installed, so this report shows neither, "
            "and where it works is judged on adoption alone."
        )
    found = estimates or estimates_as_of(conn, capabilities, as_of)
    rows, leniencies = found.uplift, found.leniency
    people = labels([r.manager for r in leniencies])
    return Causal(
        uplift=[_uplift_row(r, names.get(r.capability, r.capability)) for r in rows],
        raters=sorted(
            (_rater_row(r, people.get(r.manager, r.manager)) for r in leniencies),
            key=lambda r: (r.region, r.manager),  # by region and name: never a ranking
        ),
        above_zero={
            r.capability: r.tier.shows_estimates and r.ci_low is not None and r.ci_low > 0
            for r in rows
        },
    )


def _points(value: float | None, shown: bool) -> float | None:
    return round(100 * value, 1) if shown and value is not None else None


def _uplift_row(row: Uplift, name: str) -> UpliftRow:
    shown = row.tier.shows_estimates
    counts = row.tier is not Tier.SUPPRESSED
    return UpliftRow(
        capability=name,
        tier=row.tier.value,
        n_trained=row.n_trained if counts else None,
        n_comparison=row.n_comparison if counts else None,
        estimate=_points(row.estimate, shown),
        ci_low=_points(row.ci_low, shown),
        ci_high=_points(row.ci_high, shown),
        naive=_points(row.naive, shown),
        reason=(row.reason or "") if shown else "",
    )


def _rater_row(row: Leniency, label: str) -> RaterInterval:
    shown = row.tier.shows_estimates

    def value(v: float | None) -> float | None:
        return round(v, 3) if shown and v is not None else None

    return RaterInterval(
        manager=label,
        region=row.region,
        n_reps=None if row.tier is Tier.SUPPRESSED else row.n_reps,
        tier=row.tier.value,
        leniency=value(row.leniency),
        ci_low=value(row.ci_low),
        ci_high=value(row.ci_high),
        reason=(row.reason or "") if shown else "",
    )
