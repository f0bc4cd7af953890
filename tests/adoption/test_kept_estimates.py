"""Issue 17 point 2 (incremental run <= 2 % of the full run): the estimates stage keeps each
fit's result under the digest of that fit's own inputs and makes again only the fits whose
inputs changed; a run with nothing written reads nothing.

A synthetic org (teams of 12, so coaching managers reach the 10 rated reps the small-number
rule shows leniency at) is pulled from its CSV drops by the real file connectors, and edited
over several computations. Each computation's rows must equal a full refit's, and the fit
counts the stage reports (`Estimates.fits`, the run's `estimates.fits`) say which fits ran.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from bench.synthetic import OrgSpec, generate_org
from sqlalchemy import Connection, Engine, and_, select

from adoptloop.adoption.estimates import Estimates, estimates_as_of, keep
from adoptloop.adoption.raters import _components, rater_inputs
from adoptloop.adoption.smallnumbers import tier
from adoptloop.adoption.uplift import PERIOD_DAYS, collect
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import records, schema
from adoptloop.store.records import forget_adoption_computation
from tests.adoption.scenario import Scenario
from tests.adoption.test_incremental_states import DEMO, _edit, _edit_drops, _pull

AS_OF = date(2026, 6, 30)


@pytest.fixture
def org(tmp_path: Path) -> Path:
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=480, reps_per_manager=12, bad_rows=False))
    return out


@pytest.fixture
def capabilities() -> CapabilityMap:
    return load_capability_map(DEMO / "capabilities.yaml")


def _computed(engine: Engine, capabilities: CapabilityMap, as_of: date) -> Estimates:
    """What the estimates stage does: compute (reusing what it can), then keep."""
    with engine.begin() as conn:
        found = estimates_as_of(conn, capabilities, as_of)
        keep(conn, found)
    return found


def _refit(engine: Engine, capabilities: CapabilityMap, as_of: date) -> Estimates:
    """Every fit made anew: the same computation with nothing kept (rolled back after)."""
    with engine.connect() as conn:
        forget_adoption_computation(conn)
        fresh = estimates_as_of(conn, capabilities, as_of)
        conn.rollback()
    return fresh


def _assert_equal(kept: Estimates, fresh: Estimates) -> None:
    assert fresh.fits["uplift"]["reused"] == fresh.fits["leniency"]["reused"] == 0
    assert kept.uplift == fresh.uplift
    assert kept.leniency == fresh.leniency


def _flip_one_rating(folder: Path, record_id: str, item: str) -> None:
    """One rating of one coaching report moved across the proficiency threshold (4 of 5)."""

    def flip(row: dict[str, str]) -> bool:
        if row["Id"] == record_id:
            row[item] = "1" if int(row[item]) >= 4 else "5"
        return True

    _edit(folder / "crm" / "coaching_reports.csv", flip)


def test_kept_fits_equal_a_full_refit_over_random_edits(
    org: Path, engine: Engine, capabilities: CapabilityMap
) -> None:
    """Point 2: over several incremental computations (random edits of ratings, visits,
    completions and HR rows; one rating; nothing; a later as-of date) the rows computed with
    the kept fits equal a full refit's, and both kinds of fit were reused along the way."""
    _pull(engine, org, capabilities)
    first = _computed(engine, capabilities, AS_OF)
    assert first.fits["uplift"] == {"fitted": 6, "reused": 0}
    assert first.fits["leniency"]["fitted"] >= 2
    assert any(r.leniency is not None for r in first.leniency)
    reused = {"uplift": 0, "leniency": 0}
    as_of = AS_OF
    for step in range(5):
        if step in (0, 3):
            _edit_drops(org, 40 + step)
        elif step == 1:
            with engine.connect() as conn:
                record_id, item = conn.execute(
                    select(schema.ratings.c.record_id, schema.ratings.c.item).limit(1)
                ).one()
            _flip_one_rating(org, record_id, item)
        elif step == 4:
            as_of += timedelta(days=20)
        _pull(engine, org, capabilities)
        kept = _computed(engine, capabilities, as_of)
        _assert_equal(kept, _refit(engine, capabilities, as_of))
        for kind in reused:
            reused[kind] += kept.fits[kind]["reused"]
    assert reused["uplift"] > 0
    assert reused["leniency"] > 0


def test_a_run_with_nothing_written_reads_and_fits_nothing(
    org: Path, engine: Engine, capabilities: CapabilityMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 2 (the cheap check): a pull that writes nothing leaves the inputs stamp as it
    was, so the kept rows are taken without reading any input; a write makes it read again."""
    _pull(engine, org, capabilities)
    first = _computed(engine, capabilities, AS_OF)
    _pull(engine, org, capabilities)  # the same drops: nothing written

    def unread(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the inputs were read")

    with monkeypatch.context() as patch:
        patch.setattr("adoptloop.adoption.estimates.collect", unread)
        patch.setattr("adoptloop.adoption.estimates.rater_inputs", unread)
        again = _computed(engine, capabilities, AS_OF)
    assert again.reused
    assert again.fits["uplift"] == {"fitted": 0, "reused": 6}
    assert (again.uplift, again.leniency) == (first.uplift, first.leniency)
    _edit_drops(org, 7)
    _pull(engine, org, capabilities)
    assert not _computed(engine, capabilities, AS_OF).reused


def test_an_edit_to_one_reps_rating_refits_only_that_reps_fits(
    org: Path, engine: Engine, capabilities: CapabilityMap
) -> None:
    """Point 2: one rating of one rep changed -> the uplift fit of that capability and the
    leniency fit of the rep's raters' connected group are made again; every other capability's
    and every other group's fit is taken as kept (and the rows equal a full refit's)."""
    _pull(engine, org, capabilities)
    first = _computed(engine, capabilities, AS_OF)
    groups = first.fits["leniency"]["fitted"]
    assert groups >= 2
    with engine.connect() as conn:
        record_id, item = _rating_in_a_fitted_group_and_panel(conn, capabilities)
    _flip_one_rating(org, record_id, item)
    _pull(engine, org, capabilities)
    after = _computed(engine, capabilities, AS_OF)
    assert after.fits == {
        "uplift": {"fitted": 1, "reused": 5},
        "leniency": {"fitted": 1, "reused": groups - 1},
    }
    _assert_equal(after, _refit(engine, capabilities, AS_OF))


def _rating_in_a_fitted_group_and_panel(
    conn: Connection, capabilities: CapabilityMap
) -> tuple[str, str]:
    """(report id, rating field) of a rating the uplift panel's cells count (the rep untrained,
    or trained later than the rating's period, or rated within the window) and whose rater is
    in a connected group that is fitted (two raters or more, one of them shown)."""
    rated, _regions = rater_inputs(conn, AS_OF)
    reps: dict[str, set[str]] = {}
    for rater, rep in zip(rated.raters.tolist(), rated.reps.tolist(), strict=True):
        reps.setdefault(rater, set()).add(rep)
    fitted = {
        m
        for component in _components(rated.raters, rated.reps)
        if len(component) > 1 and any(tier(len(reps[m])).shows_estimates for m in component)
        for m in component
    }
    panels = collect(conn, capabilities, AS_OF, None)
    o, r = schema.observations, schema.ratings
    for capability, panel in sorted(panels.items()):
        window = timedelta(days=capabilities.window_days(capability))
        for rating in panel.ratings:
            trained = rating.trained_at
            counted = (
                trained is None
                or rating.day <= trained - timedelta(days=PERIOD_DAYS)
                or trained < rating.day <= trained + window
            )
            if not counted:
                continue
            found = conn.execute(
                select(o.c.record_id, r.c.item, o.c.observer_hr_id)
                .join(r, and_(r.c.source == o.c.source, r.c.record_id == o.c.record_id))
                .where(
                    o.c.observed_hr_id == rating.rep,
                    o.c.visit_date == rating.day,
                    r.c.capability_id == capability,
                )
            ).all()
            if len(found) == 1 and found[0].observer_hr_id in fitted:
                return found[0].record_id, found[0].item
    raise AssertionError("no rating in a fitted group")


def test_a_roles_map_change_that_remaps_stored_hr_rows_replaces_the_inputs_stamp(
    engine: Engine,
) -> None:
    """Point 2 (the cheap check): the HR rows remapped in place under a new roles map are an
    input write too (who counts as a rep), so the kept estimates are not taken as they are."""
    with engine.begin() as conn:
        Scenario(conn).rep("R-1")
        before = records.inputs_stamp(conn)
        assert records.remap_roles(conn, lambda _role: None) == 0
        assert records.inputs_stamp(conn) == before
        assert records.remap_roles(conn, lambda role: "manager" if role == "rep" else None) == 1
        assert records.inputs_stamp(conn) not in (None, before)
