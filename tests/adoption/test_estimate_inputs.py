"""Issue 17 (incremental run <= 2 % of the full run; the estimates stage's cost besides the
fits): the estimates stage reads the counted ratings once for both estimators. The leniency
model's year of ratings (raters.rater_inputs) is handed to uplift.collect, which reads only the
earlier ones itself; the panels must be what reading every rating per person gives.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adoptloop.adoption.employment import Employment
from adoptloop.adoption.outcomes import trained_dates
from adoptloop.adoption.raters import Rated, rater_inputs
from adoptloop.adoption.uplift import Panel, UpliftBy, collect
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store.adoption import person_inputs
from tests.adoption.test_incremental_states import _edit_drops, _pull
from tests.adoption.test_kept_estimates import AS_OF, capabilities, org

__all__ = ["capabilities", "org"]  # the fixtures this module uses


def _per_person(
    engine: Engine, capabilities: CapabilityMap, as_of: date
) -> dict[str, list[tuple[str, date, bool, date | None]]]:
    """The reference: every counted rating of a `rep` row, read person by person (the states
    engine's reader), as (rep, day, proficient, trained_at) sorted, per capability."""
    out: dict[str, list[tuple[str, date, bool, date | None]]] = {
        c: [] for c in capabilities.capabilities
    }
    with engine.connect() as conn:
        for inputs in person_inputs(conn, as_of):
            history = Employment(inputs.posts)
            trained = trained_dates(inputs.completions, capabilities, as_of)
            for capability, day, _visit, scaled in inputs.ratings:
                if capability not in out or history.rep_on(day) is None:
                    continue
                first = trained.get(capability)
                threshold = capabilities.capabilities[capability].threshold
                out[capability].append(
                    (inputs.hr_id, day, scaled >= threshold, first[0] if first else None)
                )
    return {c: sorted(rows) for c, rows in out.items()}


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
    """Issue 17, estimates stage: collect handed the leniency model's ratings after
    `rated_since` (read once for both) gives the panels, ratings and groups, that reading every
    rating gives, and both equal the per-person reference; over a random edit of the drops."""
    _pull(engine, org, capabilities)
    for step in range(2):
        if step:
            _edit_drops(org, 11)
            _pull(engine, org, capabilities)
        since = AS_OF - timedelta(days=days)
        with engine.connect() as conn:
            rated, _regions = rater_inputs(conn, AS_OF, days=days)
            shared = collect(conn, capabilities, AS_OF, by, rated=rated, rated_since=since)
            whole = collect(conn, capabilities, AS_OF, by)
        assert rated
        assert any(r.day <= since for p in whole.values() for r in p.ratings) == (days == 120)
        assert _plain(shared) == _plain(whole) == _per_person(engine, capabilities, AS_OF)
        assert {c: p.groups for c, p in shared.items()} == {c: p.groups for c, p in whole.items()}


def test_collect_refuses_ratings_without_the_day_they_were_read_after(
    engine: Engine, capabilities: CapabilityMap
) -> None:
    """Issue 17, estimates stage: handed ratings without `rated_since`, collect cannot know
    which ones to read itself: a ValueError, not panels counting some ratings twice."""
    one = Rated("manager", "rep", "opening", AS_OF, 0.75)
    with engine.connect() as conn, pytest.raises(ValueError, match="rated_since"):
        collect(conn, capabilities, AS_OF, None, rated=[one])
