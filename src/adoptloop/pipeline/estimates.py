"""Publish what training caused as xAPI: uplift per capability and leniency per coaching
manager, one statement each per period, from adoptloop's own agent (issue 19 point 5).

The run calls `publish_estimates` after the translate stage and before delivery, when
`adoption.publish_estimates` is true (the default), so the statements go out in the same run,
and hands its estimates to the report (each fit made at most once per run, and only when its
own inputs changed since the last, adoption/estimates.py).
The estimators are the optional extra `adoptloop[uplift]`: without it the stage logs once and
skips; a run never fails for it.

- Period: the as-of date's calendar month (YYYY-MM). A run in the same month with the same
  estimates sends nothing (the same drafts, byte for byte); a changed estimate (new ratings,
  a later as-of date) voids the month's statement and sends the next revision, as the
  translate stage does for a changed record; a capability or manager whose estimate is no
  longer shown (the small-number rule, too few comparison reps, not identifiable) has its
  statement of the month voided. Earlier months' statements stay: they are the history.
- Only estimates the small-number rule shows become statements (uplift: the `(all)` row with
  10+ trained reps and an estimate; leniency: 10+ rated reps and an identifiable rater): no
  statement ever carries a count the report would blank, and none names a rep.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import structlog

from adoptloop.adoption import estimators
from adoptloop.adoption.estimates import Estimates, estimates_as_of, keep, kept_as_of
from adoptloop.adoption.metrics import fraction
from adoptloop.adoption.raters import Leniency
from adoptloop.adoption.uplift import Uplift
from adoptloop.domain import ERASED
from adoptloop.errors import ConfigError
from adoptloop.mappings.records import EstimatedLeniency, EstimatedUplift
from adoptloop.mappings.translate import estimate_ref, translate_leniency, translate_uplift

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from adoptloop.mappings.capability_map import CapabilityMap
    from adoptloop.pipeline.estimates_child import EstimatesChild
    from adoptloop.pipeline.translate import TranslateStage

log = structlog.get_logger(__name__)


def period_of(as_of: date) -> str:
    """The period an estimate as of `as_of` belongs to: its calendar month."""
    return f"{as_of:%Y-%m}"


def publish_estimates(
    engine: Engine,
    stage: TranslateStage,
    capabilities: CapabilityMap,
    as_of: date,
    child: EstimatesChild | None = None,
    *,
    kept: Estimates | None = None,
) -> tuple[dict[str, Any], Estimates | None]:
    """Estimate uplift and leniency as of `as_of` (adoption.estimates: the kept ones when no
    input was written since, else each fit whose inputs changed made again) and emit their
    statements into the outbox through `stage`; returns the counts (`inputs`: unchanged or
    read; `fits`: per kind, fits made and reused) and the estimates (the report shows the
    same). `child`: the run's estimates process, told to go as of `as_of` already, which
    computes them (pipeline/estimates_child.py) and whose read of the counted ratings is
    kept with them; None: computed in this process. `kept`: the
    kept estimates, current as of `as_of` (`current_estimates`), taken as they are (the run
    then set no process to work). Without the uplift extra: log, skip, and say so in the
    counts."""
    try:
        estimators.require()
    except ConfigError as exc:
        log.warning("estimates skipped", reason=str(exc))
        return {"skipped": f"the uplift extra is not installed ({estimators.INSTALL_HINT})"}, None
    ratings = None  # the counted ratings the child read, kept for the next run's read
    if kept is not None:
        caused = kept
    elif child is not None:
        caused = child.estimates()
        ratings = child.kept_ratings()
    else:
        with engine.connect() as conn:
            caused = estimates_as_of(conn, capabilities, as_of)
    with engine.begin() as conn:
        keep(conn, caused)
        if ratings is not None:
            ratings.keep(conn)
    counts = emit_estimates(engine, stage, caused.uplift, caused.leniency, period_of(as_of))
    inputs = "unchanged" if caused.reused else "read"
    return counts | {"inputs": inputs, "fits": caused.fits}, caused


def current_estimates(engine: Engine, capabilities: CapabilityMap, as_of: date) -> Estimates | None:
    """The kept estimates when nothing they depend on changed since they were computed (no
    input written, the same as-of date, map and library versions: adoption.estimates
    `kept_as_of`), else None. A run whose pull wrote nothing of the estimates' inputs (a night
    with nothing new) takes them so, and ends its estimates' process without waiting for it
    to finish importing the statistics libraries only to answer the same."""
    with engine.connect() as conn:
        return kept_as_of(conn, capabilities, as_of)


def emit_estimates(
    engine: Engine,
    stage: TranslateStage,
    uplifts: Sequence[Uplift],
    leniencies: Sequence[Leniency],
    period: str,
) -> dict[str, Any]:
    """The statements of `period` for these rows (those the small-number rule shows)."""
    ctx = stage.ctx
    uplift_drafts = [
        translate_uplift(record, period, ctx) for record in map(_uplift_record, uplifts) if record
    ]
    leniency_drafts = [
        translate_leniency(record, period, ctx)
        for record in map(_leniency_record, leniencies)
        if record
    ]
    with engine.begin() as conn:
        counts = {
            "uplift": stage.replace(conn, estimate_ref("uplift", period), uplift_drafts),
            "leniency": stage.replace(conn, estimate_ref("leniency", period), leniency_drafts),
        }
    out = {
        kind: c.as_dict() | {"records": len(d)}
        for (kind, c), d in zip(counts.items(), (uplift_drafts, leniency_drafts), strict=True)
    }
    log.info("estimates published", period=period, **{k: v["statements"] for k, v in out.items()})
    return out


def _uplift_record(row: Uplift) -> EstimatedUplift | None:
    if (
        not row.tier.shows_estimates
        or row.estimate is None
        or row.ci_low is None
        or row.ci_high is None
    ):
        return None
    return EstimatedUplift(
        row.capability,
        float(fraction(row.estimate)),
        float(fraction(row.ci_low)),
        float(fraction(row.ci_high)),
        row.n_trained,
        row.n_comparison,
        row.method,
    )


def _leniency_record(row: Leniency) -> EstimatedLeniency | None:
    if (
        not row.tier.shows_estimates
        or row.manager == ERASED
        or row.leniency is None
        or row.ci_low is None
        or row.ci_high is None
    ):
        return None
    return EstimatedLeniency(
        row.manager,
        float(fraction(row.leniency)),
        float(fraction(row.ci_low)),
        float(fraction(row.ci_high)),
        row.n_ratings,
        row.n_reps,
    )
