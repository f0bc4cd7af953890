"""Issue 17, point 2: the adoption metrics kept between runs (adoption.aggregates) equal a
full recomputation after random edits.

A synthetic org is pulled from its CSV drops by the real file connectors; over several runs the
drops are edited at random (ratings changed or removed, visits moved or taken back to draft,
reports reassigned, completions moved or failed, HR moves) and the as-of date moves forward.
After every run's states pass and metrics update, the kept sums, the CSV of every grouping and
the report's data must equal what a full recomputation from adoption_states gives.
"""

from __future__ import annotations

import csv
import io
import random
import re
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bench.synthetic.apis import RATING_FIELDS
from sqlalchemy import Connection, Engine, func, select

from adoptloop.adoption import aggregates
from adoptloop.adoption.compute import update_states
from adoptloop.adoption.metrics import (
    By,
    RaterStats,
    adoption_metrics,
    metric_rows,
    rater_stats,
    write_table_csv,
)
from adoptloop.adoption.report import assemble
from adoptloop.adoption.report.assemble import ReportOptions, build_report_data
from adoptloop.adoption.report.causal import Causal
from adoptloop.adoption.report.data import ReportData
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import aggregates as kept
from adoptloop.store import metrics as store
from adoptloop.store import schema
from adoptloop.store.metrics import RowSource
from tests.adoption.test_incremental_states import DEMO, _edit, _edit_drops, _pull
from tests.support import sql_run

GROUPINGS: tuple[By, ...] = ("region", "team", "manager", "module", "capability")


def _csv(rows: Any) -> str:
    out = io.StringIO()
    write_table_csv(rows, out)
    return out.getvalue()


def _remove_some_reports(folder: Path, seed: int) -> None:
    """Ratings removed: a few coaching reports (and their ratings) leave the drop."""
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    _edit(folder / "crm" / "coaching_reports.csv", lambda _row: rng.random() >= 0.03)


def _assert_kept_equals_full(engine: Engine, capabilities: CapabilityMap, as_of: date) -> str:
    """Run the metrics update as a run does and compare everything with a full computation;
    returns the update's mode."""
    sums, counts = aggregates.update(engine, capabilities, as_of, ["region", "manager"])
    with engine.connect() as conn:
        full = aggregates.full(conn, RowSource.states(), capabilities, as_of)
        stored = aggregates.Aggregates(
            kept.load_cells(conn, ["*", *aggregates.GROUPINGS]),
            kept.load_km(conn, ["*", *aggregates.GROUPINGS]),  # type: ignore[arg-type]
        )
        assert stored.cells == {k: v for k, v in full.cells.items() if any(v)}
        assert dict(stored.km) == {k: n for k, n in full.km.items() if n}
        for by in GROUPINGS:
            every, _ = aggregates.update(engine, capabilities, as_of, [by])
            assert _csv(metric_rows(conn, every, capabilities, as_of, by)) == _csv(
                adoption_metrics(conn, RowSource.states(), capabilities, as_of, by)
            ), by
        options = ReportOptions(now=datetime(2026, 8, 1, tzinfo=UTC))
        incremental = build_report_data(
            conn, RowSource.states(), capabilities, as_of, options=options, sums=sums
        )
        recomputed = build_report_data(
            conn, RowSource.states(), capabilities, as_of, options=options
        )
        assert incremental == recomputed
        # as the adoption stage reads them (pipeline/adopt.py): of the managers' teams only
        # their coaching coverage cells, the per-day counts read from the store a curve at a
        # time (none held in the sums)
        lean, _ = aggregates.update(
            engine, capabilities, as_of, ["region"], ["region"], coverage=["manager"]
        )
        managers = {k: v for k, v in sums.cells.items() if k[0] == "manager" and k[2] == ""}
        assert managers
        assert {k: v for k, v in lean.cells.items() if k[0] == "manager"} == managers
        assert not lean.km
        assert lean.stored == {"*", "region"}
        rows = metric_rows(conn, lean, capabilities, as_of, "region")
        assert any(row.curve for row in rows)
        held = Counter(kept.load_km(conn, ["*", "region"]))
        assert _csv(rows) == _csv(
            metric_rows(
                conn, replace(lean, km=held, stored=frozenset()), capabilities, as_of, "region"
            )
        )
        assert (
            build_report_data(
                conn,
                RowSource.states(),
                capabilities,
                as_of,
                by_region=rows,
                options=options,
                sums=lean,
            )
            == recomputed
        )
        assert _raters(rater_stats(conn, as_of, kept=True)) == _raters(rater_stats(conn, as_of))
    return str(counts["metrics"])


def _raters(stats: dict[str, RaterStats]) -> dict[str, RaterStats]:
    """The rater statistics with each observer's days to submission in order (their order
    says nothing)."""
    return {
        k: replace(s, submission_days=array("i", sorted(s.submission_days)))
        for k, s in stats.items()
    }


@pytest.mark.parametrize(("seed", "chunk"), [(1, 5_000), (2, 5_000), (3, 5_000), (4, 7)])
def test_kept_metrics_equal_a_full_recomputation_after_random_edits(
    org: Path, engine: Engine, seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 point 2: incremental metrics == full recompute on random edits; also when the
    people redone are written a few at a time (chunk 7: many transactions per update)."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())  # not from the sums
    monkeypatch.setattr(aggregates, "CHUNK_PEOPLE", chunk)
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    # the first computation is full: the kept sums are rebuilt beside it, the update redoes
    # nobody
    assert update_states(engine, capabilities, as_of)["kept_sums"]["metrics"] == "full"
    assert _assert_kept_equals_full(engine, capabilities, as_of) == "incremental"
    modes = []
    for step, days in enumerate((0, 1, 17, 45, 90, 3)):
        as_of += timedelta(days=days)
        if step % 2 == 0:
            _edit_drops(org, seed * 10 + step)
            _remove_some_reports(org, seed * 10 + step)
            _pull(engine, org, capabilities)
        update_states(engine, capabilities, as_of)
        modes.append(_assert_kept_equals_full(engine, capabilities, as_of))
    assert set(modes) == {"incremental"}


def test_the_visits_copied_in_parts_between_the_pass_s_writes_give_the_same_sums(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the first adoption pass): the kept visits' rows staged beside a full states
    pass are copied a part at a time while the pass holds its writes back (a handover of the
    write lock between its batches, adoption.aggregates.Rebuild.copying). With parts of a few
    rows, slow ones, and the pass's batches small, the pass writes between the parts, holds
    rows back while one is copied, and the states rows and kept sums are those of a full
    recomputation."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    from adoptloop.adoption import compute

    monkeypatch.setattr(aggregates, "COPY_ROWS", 50)
    monkeypatch.setattr(compute, "BATCH", 10)
    monkeypatch.setattr(compute, "HOLD_ROWS", 10_000)
    copied: list[kept.StagedPart] = []
    held: list[int] = []
    insert, lent = kept.insert_staged_visits, aggregates.Rebuild.copying

    def slow(conn: Connection, part: kept.StagedPart) -> None:
        time.sleep(0.02)
        insert(conn, part)
        copied.append(part)

    def copying(self: aggregates.Rebuild, commits: Any) -> bool:
        answer = lent(self, commits)
        held.append(answer)
        return answer

    state_row = compute.state_row

    def slow_row(*args: Any) -> Any:  # a pass long enough for the copy to run beside it
        time.sleep(0.002)
        return state_row(*args)

    monkeypatch.setattr(kept, "insert_staged_visits", slow)
    monkeypatch.setattr(aggregates.Rebuild, "copying", copying)
    monkeypatch.setattr(compute, "state_row", slow_row)
    assert update_states(engine, capabilities, as_of)["kept_sums"]["metrics"] == "full"
    with engine.connect() as conn:
        visits = conn.execute(select(func.count()).select_from(schema.metric_visits)).scalar_one()
        ratings = conn.execute(select(func.count()).select_from(schema.metric_ratings)).scalar_one()
    assert len(copied) == -(-visits // 50) + -(-ratings // 50) > 4
    # the pass held its writes back while a part was copied ("T"), and wrote between the
    # parts (a part, then the pass's turn: "T.")
    answers = "".join("T" if answer else "." for answer in held)
    assert answers.count("T.") >= 3, answers
    assert _assert_kept_equals_full(engine, capabilities, as_of) == "incremental"


def test_as_of_going_back_rebuilds_the_kept_metrics(org: Path, engine: Engine) -> None:
    """Issue 17 point 2: an earlier as-of date than the kept one means a full rebuild (the
    states computation, full then too, rebuilds them beside it)."""
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    update_states(engine, capabilities, date(2026, 5, 1))
    _, counts = aggregates.update(engine, capabilities, date(2026, 5, 1), ["region"])
    assert counts["metrics"] == "incremental"
    _, counts = aggregates.update(engine, capabilities, date(2026, 4, 1), ["region"])
    assert counts["metrics"] == "full"
    assert update_states(engine, capabilities, date(2026, 4, 1))["kept_sums"] == {
        "metrics": "full",
        "people": counts["people"],
    }
    _, counts = aggregates.update(engine, capabilities, date(2026, 4, 1), ["region"])
    assert counts == {"metrics": "incremental", "people": 0}


def test_an_update_cut_short_between_chunks_is_followed_by_a_full_rebuild(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the 100k-rep growth point): an update writes the people it redoes a chunk per
    transaction; one that fails after some chunks were committed leaves no bookmark, so the
    next update rebuilds everything and the kept sums again equal a full recomputation."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    update_states(engine, capabilities, as_of)
    assert _assert_kept_equals_full(engine, capabilities, as_of) == "incremental"
    _edit_drops(org, 5)
    _pull(engine, org, capabilities)
    as_of += timedelta(days=30)
    update_states(engine, capabilities, as_of)
    monkeypatch.setattr(aggregates, "CHUNK_PEOPLE", 5)
    replace = kept.replace_contributions
    calls = []

    def fail_on_the_third_chunk(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        replace(*args)

    monkeypatch.setattr(kept, "replace_contributions", fail_on_the_third_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        aggregates.update(engine, capabilities, as_of, ["region"])
    monkeypatch.setattr(kept, "replace_contributions", replace)
    assert _assert_kept_equals_full(engine, capabilities, as_of) == "full"


def test_a_chunked_rebuild_holds_one_chunks_change_to_the_sums_at_a_time(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (memory flat as the org grows): a full rebuild redoes everyone a chunk at a
    time, and each chunk's change to the kept sums is written with the chunk, instead of the
    whole org's sums (Kaplan-Meier's about one key per trained rep and capability by manager
    and by team) being gathered in memory and written at the end. The kept sums, the CSVs
    and the report still equal a full recomputation, with chunks of 1 to 3 people."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    update_states(engine, capabilities, as_of)
    with engine.connect() as conn:
        people = len(kept.everyone(conn))
    apply_km = kept.apply_km
    for chunk in (1, 2, 3):
        monkeypatch.setattr(aggregates, "CHUNK_PEOPLE", chunk)
        held: list[int] = []

        def recorded(conn: Any, delta: Any, held: list[int] = held) -> None:
            held.append(len(delta))
            apply_km(conn, delta)

        monkeypatch.setattr(kept, "apply_km", recorded)
        with engine.begin() as conn:
            kept.forget(conn)  # the next update rebuilds
        _, counts = aggregates.update(engine, capabilities, as_of, ["region", "manager"])
        monkeypatch.setattr(kept, "apply_km", apply_km)
        assert counts["metrics"] == "full"
        assert len(held) == -(-people // chunk)  # one write of the sums per chunk
        with engine.connect() as conn:
            written = len(kept.load_km(conn, ["*", *aggregates.GROUPINGS]))
        assert max(held) < written
        assert _assert_kept_equals_full(engine, capabilities, as_of) == "incremental"


def _rate_some(folder: Path, seed: int) -> None:
    """Ratings inserted and deleted: an empty rating filled in or a given one cleared on a
    few reports, and a few new reports (copies of others under a new id, some days later)."""
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    new: list[dict[str, str]] = []

    def report(row: dict[str, str]) -> bool:
        roll = rng.random()
        item = rng.choice(list(RATING_FIELDS))
        if roll < 0.06:
            row[item] = str(rng.randint(1, 5)) if not row[item] else ""
        elif roll < 0.09:
            day = date.fromisoformat(row["Review_Date__c"]) + timedelta(days=rng.randint(1, 40))
            new.append(
                {**row, "Id": f"{row['Id'][:-4]}N{len(new):03d}", "Review_Date__c": str(day)}
            )
        return True

    path = folder / "crm" / "coaching_reports.csv"
    _edit(path, report)
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(new[0]) if new else [])
        writer.writerows(new)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_ratings_per_day_give_the_full_recomputation_s_reinforcement(
    org: Path, engine: Engine, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, ADOPTION stage point 2: the report's reinforcement figures (ratings per
    capability in (D - 90 d, D], the day each was last rated) come from the ratings per
    capability and day kept for the people each run changed; after random edits (ratings
    inserted, changed and deleted, visits added, moved, reassigned, taken back to draft or
    removed, HR moves) and as the as-of date moves, they equal the ratings read in full from
    the store, and so do the report's data and its reinforcement notes."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    seen_modes = []
    for step, days in enumerate((0, 1, 20, 45, 90, 2)):
        as_of += timedelta(days=days)
        if step:
            _edit_drops(org, seed * 10 + step)
            _rate_some(org, seed * 10 + step)
            _remove_some_reports(org, seed * 10 + step)
            _pull(engine, org, capabilities)
        states = update_states(engine, capabilities, as_of)
        sums, counts = aggregates.update(engine, capabilities, as_of, ["region", "manager"])
        seen_modes.append(states.get("kept_sums", counts)["metrics"])
        since = as_of - timedelta(days=90)
        with engine.connect() as conn:
            recency = sorted(store.rating_recency(conn, since, as_of))
            kept_recency = sorted((c, n, d) for c, (n, d) in sums.ratings(as_of, 90).items())
            options = ReportOptions(now=datetime(2026, 8, 1, tzinfo=UTC))
            incremental = build_report_data(
                conn, RowSource.states(), capabilities, as_of, options=options, sums=sums
            )
            full = build_report_data(conn, RowSource.states(), capabilities, as_of, options=options)
        assert any(n for _c, n, _d in recency)  # something rated in the period
        assert kept_recency == recency
        assert incremental == full
        assert any(note.startswith("Reinforcement") for note in incremental.notes)
    assert seen_modes[0] == "full"
    assert set(seen_modes[1:]) == {"incremental"}


def _report_from_kept_sums(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> tuple[ReportData, list[str], Callable[[Connection], ReportData]]:
    """The demo org pulled and its kept sums built; the report data built from them, the SQL
    that build ran, and the same report data computed in full (on a connection given)."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    update_states(engine, capabilities, as_of)
    sums, _counts = aggregates.update(engine, capabilities, as_of, ["region", "manager"])
    options = ReportOptions(now=datetime(2026, 8, 1, tzinfo=UTC))
    with engine.connect() as conn, sql_run(engine) as statements:
        data = build_report_data(
            conn, RowSource.states(), capabilities, as_of, options=options, sums=sums
        )

    def full(conn: Connection) -> ReportData:
        return build_report_data(conn, RowSource.states(), capabilities, as_of, options=options)

    return data, statements, full


def test_the_report_s_rater_statistics_read_the_kept_visits_not_the_period_s_ratings(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, ADOPTION stage point 1: with the kept sums, the report's rater statistics
    (timeliness, ratings, top-box share, tagged reports, leniency per observer) are summed
    from the visits kept for the people each run changed (metric_visits), not from the
    period's visits joined to their ratings; and they equal that full computation."""
    data, statements, full = _report_from_kept_sums(org, engine, monkeypatch)
    assert not [s for s in statements if re.search(r"\b(FROM|JOIN) ratings\b", s)]
    assert any("metric_visits" in s for s in statements)
    assert any(note.startswith("Coaching reports in the last") for note in data.notes)
    with engine.connect() as conn:
        assert data == full(conn)


def test_the_report_reads_the_raters_and_managers_regions_on_d_once(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, ADOPTION stage point 3 (the stage's fixed costs): the report reads the HR
    rows' regions on D once, for the raters and for the teams (it read them twice); and
    (the adoption stage's memory flat with the org) keeps only theirs, not everyone's."""
    kept_regions: list[dict[str, str | None]] = []
    read_regions = store.regions_on

    def regions_on(*args: Any, **kwargs: Any) -> dict[str, str | None]:
        kept_regions.append(read_regions(*args, **kwargs))
        return kept_regions[-1]

    monkeypatch.setattr(store, "regions_on", regions_on)
    data, statements, _full = _report_from_kept_sums(org, engine, monkeypatch)
    regions = [s for s in statements if s.startswith("SELECT people.hr_id, people.region ")]
    assert len(regions) == 1
    assert data.managers  # the teams got their regions from that read
    with engine.connect() as conn:
        everyone = read_regions(conn, date(2026, 3, 1))
        observers = set(conn.execute(select(schema.observations.c.observer_hr_id)).scalars())
        managers = set(conn.execute(select(schema.people.c.manager_hr_id)).scalars())
    (read,) = kept_regions
    assert set(read) <= observers | managers  # raters and first-line managers, no rep
    assert len(read) < len(everyone) / 2  # the reps are most of the org
    assert all(read[m] == everyone[m] for m in read)


def test_curves_held_are_made_one_per_group_and_capability_of_their_grouping(
    engine: Engine,
) -> None:
    """Issue 17 (the adoption stage's memory at 100k): the Kaplan-Meier observations of a
    grouping's counts held in `km` (a full computation's), a curve per (group, capability) of
    that grouping only, a curve whose counts are all 0 left out; a grouping neither held nor
    stored has no curves."""
    day = date(2026, 6, 20).toordinal()
    sums = aggregates.Aggregates()
    sums.km.update(
        {
            ("region", "North", "obj", "e", 3): 2,
            ("region", "North", "obj", "c", day): 1,
            ("region", "North", "disc", "e", 3): 1,
            ("region", "South", "obj", "e", 5): 0,
            ("manager", "M-1", "obj", "e", 3): 2,
        }
    )
    as_of = date(2026, 6, 30)
    with engine.connect() as conn:
        curves = list(sums.curves(conn, "region", as_of))
        assert not list(sums.curves(conn, "team", as_of))
    assert sorted(curves) == [
        ("North", "disc", Counter({(3, True): 1})),
        ("North", "obj", Counter({(3, True): 2, (10, False): 1})),
    ]


def test_the_visits_rows_staged_beside_a_full_computation_fail_it_when_they_fail(
    org: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the first adoption pass): on SQLite the visits' rows of the kept sums are
    read into temporary tables on a connection of their own while the states pass runs, and
    copied in after it. When that copy fails, the computation fails with its error, no
    bookmark is left, and the next update rebuilds the sums whole (equal to a full
    recomputation); when the pass itself fails, the staging is waited for, not left running."""
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    _pull(engine, org, capabilities)
    as_of = date(2026, 3, 1)
    staged_on: list[Any] = []
    stage = kept.stage_visits

    def watched(conn: Connection, **kwargs: Any) -> None:
        staged_on.append(conn)
        stage(conn, **kwargs)

    def full_disk(_conn: Connection, _part: kept.StagedPart) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(kept, "stage_visits", watched)
    monkeypatch.setattr(kept, "insert_staged_visits", full_disk)
    with pytest.raises(RuntimeError, match="disk full"):
        update_states(engine, capabilities, as_of)
    assert len(staged_on) == 1
    with engine.connect() as conn:
        assert kept.last_update(conn) is None
    monkeypatch.undo()
    monkeypatch.setattr(assemble, "causal", lambda *_a, **_k: Causal())
    assert _assert_kept_equals_full(engine, capabilities, as_of) == "full"

    def pass_fails(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the pass failed")

    import threading

    from adoptloop.adoption import compute

    monkeypatch.setattr(compute, "state_row", pass_fails)
    with engine.begin() as conn:
        kept.forget(conn)
    with pytest.raises(RuntimeError, match="the pass failed"):
        update_states(engine, capabilities, as_of, full=True)
    assert not [t for t in threading.enumerate() if t.name == "kept-visits"]
