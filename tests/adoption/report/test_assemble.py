"""The report's numbers (adoption.report.assemble.build_report_data) on a small scenario.

D = 2024-06-30 (a Sunday) and T = D - 120 days as in tests/adoption/scenario.py. The org:

- North, team N-D01 (manager M-N1): n00..n11 trained on objection handling on T; n00..n05
  proficient on day 10 (D - 110), n06..n08 rated low then, n09..n11 unobserved in their window;
  n00 proficient again on day 50 (sustained), n09 proficient on day 100 (after its window).
  M-N1 also filed unrated reports on n01..n08 on D - 10 (two submitted 8 days late).
- North, team N-D02 (manager M-N2): d0..d5 trained on discovery (30-day window) on D - 40;
  rated on D - 30: d0..d2 at 0.6 (proficient, threshold 0.5), d3 at 0.2, d4 and d5 unrated.
- South, team S-D01 (manager M-S1): s0..s2 trained on objection handling on T; s0 proficient
  on day 20, s1 low on day 20, s2 unobserved.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoptloop.adoption.compute import scratch
from adoptloop.adoption.metrics import (
    ALL,
    business_days_between,
    leniency,
    rater_stats,
)
from adoptloop.adoption.report.assemble import build_report_data
from adoptloop.adoption.report.data import (
    Cell,
    FollowThrough,
    FunnelStep,
    ManagerGroup,
    ReportData,
)
from adoptloop.store.metrics import RowSource
from tests.adoption.scenario import (
    DISC,
    EPOCH,
    HIGH,
    LOW,
    OBJ,
    Post,
    Scenario,
    before,
    day,
)
from tests.adoption.scenario import D as AS_OF

OBJ_NAME, DISC_NAME = "Objection handling", "Discovery"


def report(s: Scenario, as_of: date = AS_OF) -> ReportData:
    """Commit the scenario, compute into scratch rows and assemble the report's numbers."""
    s.conn.commit()
    engine = s.conn.engine
    with scratch(engine, s.capabilities, as_of) as computation, engine.connect() as conn:
        return build_report_data(conn, RowSource.scratch(computation), s.capabilities, as_of)


def org(s: Scenario) -> None:
    s.manager("M-N1", "North", "N-D01")
    s.manager("M-N2", "North", "N-D02")
    s.manager("M-S1", "South", "S-D01")
    for i in range(12):
        rep = f"n{i:02d}"
        s.trained(rep, region="North", manager="M-N1")
        if i < 6:
            s.rated(rep, day(10), HIGH, observer="M-N1")
        elif i < 9:
            s.rated(rep, day(10), LOW, observer="M-N1")
    s.rated("n00", day(50), HIGH, observer="M-N1")  # 40 days after adopting: sustained
    s.rated("n09", day(100), HIGH, observer="M-N1")  # proficient, but after its window
    for i in range(1, 9):  # unrated reports; Thu D-10 submitted Fri D-2 = 6 business days
        s.visit(f"n{i:02d}", before(10), observer="M-N1", submitted=before(2) if i > 6 else None)
    for i in range(6):
        rep = f"d{i}"
        s.rep(rep, "North", "M-N2")
        s.completed(rep, "MOD-DISC-101", before(40))
        if i < 4:
            s.rated(rep, before(30), 0.6 if i < 3 else 0.2, capability=DISC, observer="M-N2")
    for i in range(3):
        s.trained(f"s{i}", region="South", manager="M-S1")
    s.rated("s0", day(20), HIGH, observer="M-S1")
    s.rated("s1", day(20), LOW, observer="M-S1")
    # development actions: n00 has 10 due (5 on time, 2 late, 3 open); s0 has 2 (1 on time)
    for i in range(10):
        done = before(20) if i < 5 else before(5) if i < 7 else None
        s.action("n00", before(20), done)
    s.action("s0", before(20), before(20))
    s.action("s0", before(20))


def cell(cells: list[Cell], group: str, capability: str) -> Cell:
    matches = [c for c in cells if (c.group, c.capability) == (group, capability)]
    assert len(matches) == 1, (group, capability, cells)
    return matches[0]


# --- adoption heatmap, coverage and funnel ----------------------------------------------------


def test_heatmap_cells_follow_the_small_number_tiers(scenario: Scenario) -> None:
    org(scenario)
    data = report(scenario)

    assert [(c.group, c.capability) for c in data.heatmap] == [
        ("North", OBJ_NAME),
        ("South", OBJ_NAME),
        (ALL, OBJ_NAME),
        ("North", DISC_NAME),
        ("South", DISC_NAME),  # every group x every capability: South's is suppressed
        (ALL, DISC_NAME),
    ]
    # North, objection handling: cohort 12 (directional), adopted n00..n05 = 6: 6/12 = 50%;
    # Wilson 6/12: centre .5, half 1.959964 * sqrt(.020833 + .006669) / 1.320122 = .246222
    assert cell(data.heatmap, "North", OBJ_NAME) == Cell(
        "North", OBJ_NAME, 50.0, 6, 12, "directional", 25.4, 74.6, flagged=False
    )
    # South: cohort 3: suppressed, no numbers at all
    assert cell(data.heatmap, "South", OBJ_NAME) == Cell(
        "South", OBJ_NAME, None, None, None, "suppressed"
    )
    # (all): 6 + 1 = 7 adopted of 12 + 3 = 15: 46.7%; Wilson 7/15: centre .473463,
    # half 1.959964 * sqrt(.016593 + .004268) / 1.256097 = .225367 -> (24.8%, 69.9%)
    assert cell(data.heatmap, ALL, OBJ_NAME) == Cell(
        ALL, OBJ_NAME, 46.7, 7, 15, "directional", 24.8, 69.9
    )
    # discovery: cohort 6 (counts only): 3 adopted of 6, no percentage, no interval
    assert cell(data.heatmap, "North", DISC_NAME) == Cell(
        "North", DISC_NAME, None, 3, 6, "counts-only"
    )


def test_coverage_cells_are_observed_over_cohort(scenario: Scenario) -> None:
    org(scenario)
    data = report(scenario)

    # North: observed n00..n08 = 9 of 12: 75%; Wilson 9/12 -> (46.8%, 91.1%)
    assert cell(data.coverage, "North", OBJ_NAME) == Cell(
        "North", OBJ_NAME, 75.0, 9, 12, "directional", 46.8, 91.1
    )
    assert cell(data.coverage, "South", OBJ_NAME).value is None  # suppressed
    # (all): 9 + 2 = 11 of 15 = 73.3%
    assert cell(data.coverage, ALL, OBJ_NAME).value == 73.3
    assert cell(data.coverage, "North", DISC_NAME).numerator == 4  # d0..d3, counts only


def test_funnel_gives_cohort_observed_adopted_and_sustained_per_capability(
    scenario: Scenario,
) -> None:
    org(scenario)
    data = report(scenario)
    assert data.funnel == [
        # cohort 12 + 3; observed 9 + 2; adopted 6 + 1; sustained: n00
        FunnelStep(OBJ_NAME, 15, 11, 7, 1),
        # cohort 6; observed d0..d3; adopted d0..d2; nobody sustained
        FunnelStep(DISC_NAME, 6, 4, 3, 0),
    ]


def test_funnel_leaves_out_a_capability_whose_cohort_is_suppressed(scenario: Scenario) -> None:
    for i in range(4):  # 4 in the cohort on objection handling: suppressed everywhere
        scenario.trained(f"r{i}")
        scenario.rated(f"r{i}", day(10), HIGH)
    for i in range(5):  # 5 on discovery: counts only, shown
        scenario.rep(f"d{i}")
        scenario.completed(f"d{i}", "MOD-DISC-101", before(40))

    data = report(scenario)
    assert cell(data.heatmap, ALL, OBJ_NAME).numerator is None  # as in the heatmap ...
    assert data.funnel == [FunnelStep(DISC_NAME, 5, 0, 0, 0)]  # ... so not in the funnel


# --- time to proficiency ---------------------------------------------------------------------


def test_curves_are_drawn_only_for_capabilities_with_ten_or_more_trained_reps(
    scenario: Scenario,
) -> None:
    org(scenario)
    data = report(scenario)

    assert [c.capability for c in data.curves] == [OBJ_NAME]  # discovery: 6 trained
    curve = data.curves[0]
    # 15 trained: n00..n05 proficient on day 10, s0 on day 20, n09 on day 100; 7 censored at 120
    # day 10: 15 at risk, 6 events: S = 9/15 = .6 (share .4)
    # day 20: 9 at risk, 1 event: S = .6 * 8/9 = .533333 (share .466667)
    # day 100: 8 at risk, 1 event: S = .533333 * 7/8 = .466667 (share .533333): median 100
    assert curve.days == (10, 20, 100)
    assert curve.proficient_share == (0.4, 0.466667, 0.533333)
    assert (curve.median_days, curve.p75_days, curve.reps) == (100.0, None, 15)


# --- coaching, by first-line manager ----------------------------------------------------------


def test_managers_are_labelled_by_territory_with_coverage_only_from_ten_eligible(
    scenario: Scenario,
) -> None:
    org(scenario)
    data = report(scenario)

    teams = {m.team: m for m in data.managers}
    assert list(teams) == ["team N-D01", "team N-D02", "team S-D01"]
    # N-D01: 12 eligible reps; visited in (D-90, D]: n00 (day 50), n09 (day 100), n01..n08
    # (D-10) = 10: 83.3%. 10 reports: timeliness, leniency and top-box are shown.
    # submission delays: 0 days x 8, 8 days x 2: median 0; 8 of 10 within 5 business days.
    # leniency: own mean .8 (n00, n09) minus North's other raters (M-N2: .6 x 3 + .2) / 4 = .5
    assert teams["team N-D01"] == ManagerGroup(
        team="team N-D01",
        region="North",
        eligible_reps=12,
        coaching_coverage=83.3,
        median_days_to_submit=0.0,
        submitted_within_5_business_days=80.0,
        leniency=0.3,
        top_box_share=0.0,
        tier="directional",
    )
    # N-D02: 6 eligible (counts only): the count, but no percentage; 4 reports: nothing else
    assert teams["team N-D02"] == ManagerGroup(
        "team N-D02", "North", 6, None, None, None, None, None, "counts-only"
    )
    # S-D01: 3 eligible: suppressed. M-S1 rated nobody in the last 90 days; the team is still
    # in the South.
    assert teams["team S-D01"] == ManagerGroup(
        "team S-D01", "South", None, None, None, None, None, None, "suppressed"
    )


def test_a_team_is_never_named_by_its_managers_hr_id_or_name(scenario: Scenario) -> None:
    scenario.manager("M-NOTERR", "North", None)  # no territory on record
    for i in range(5):
        scenario.rep(f"r{i}", "North", "M-NOTERR")
    for i in range(5):
        scenario.rep(f"g{i}", "North", "M-GONE")  # a manager with no HR row (erased)

    data = report(scenario)
    labels = [m.team for m in data.managers]
    assert len(labels) == 2
    assert len(set(labels)) == 2  # still two distinct teams
    for label in labels:
        assert "M-NOTERR" not in label
        assert "M-GONE" not in label


# --- follow-through, freshness, notes -----------------------------------------------------------


def test_follow_through_by_region_with_small_number_rules(scenario: Scenario) -> None:
    org(scenario)
    data = report(scenario)
    assert data.follow_through == [
        # 10 due, 7 completed, 5 on time (the two done on D-5 are 15 days late)
        FollowThrough("North", 10, 7, 5, 70.0, 50.0, "directional"),
        # 2 due: suppressed
        FollowThrough("South", None, None, None, None, None, "suppressed"),
        # 12 due, 8 completed (66.7%), 6 on time (50%)
        FollowThrough(ALL, 12, 8, 6, 66.7, 50.0, "directional"),
    ]


def test_freshness_lists_each_cursor_with_the_newest_record_of_its_source(
    scenario: Scenario,
) -> None:
    org(scenario)
    scenario.career("late", Post(EPOCH, "North"), Post(before(3), "South"))
    streams = (
        ("crm", "actions"),
        ("crm", "calls"),
        ("crm", "reports"),
        ("hris", "people"),
        ("lms", "completions"),
    )
    for source, stream in streams:
        scenario.cursor(source, stream, "2024-06-30T00:00:00Z")

    data = report(scenario)
    assert [(f.source, f.stream) for f in data.freshness] == list(streams)
    newest = {f.source: f.newest_record for f in data.freshness}
    assert newest == {
        "crm": "2024-06-20",  # the D-10 reports (actions agreed D-50, no calls)
        "hris": "2024-06-27",  # the HR row of the move on D-3
        "lms": "2024-05-21",  # the discovery completions on D-40
    }
    assert all(f.last_synced for f in data.freshness)


def test_notes_explain_the_small_number_rules_and_coaching_figures(scenario: Scenario) -> None:
    org(scenario)
    notes = report(scenario).notes

    rules = notes[0]
    for phrase in ("under 5", "suppressed", "5-9", "counts only", "10-29", "Wilson", "30"):
        assert phrase in rules, phrase
    # 14 reports in the last 90 days (M-N1 10, M-N2 4); rated: n00, n09, d0..d3 = 6 (43%);
    # median 0 days to submit; 12 of 14 within 5 business days (86%)
    assert (
        "Coaching reports in the last 90 days: 14; 43% rate at least one mapped capability; "
        "median 0 days from visit to submission, 86% within 5 business days."
    ) in notes
    # objection handling: 2 ratings in 90 days (n00 day 50, n09 day 100) over 15 trained = 0.1;
    # last rated on day 100 = D - 20
    assert (
        "Reinforcement, Objection handling: 0.1 ratings per trained rep in the last 90 days; "
        "last rated 20 days ago."
    ) in notes
    # discovery: 4 ratings over 6 trained = 0.7; last rated D - 30
    assert (
        "Reinforcement, Discovery: 0.7 ratings per trained rep in the last 90 days; "
        "last rated 30 days ago."
    ) in notes
    assert not any("Coach the coach" in n for n in notes)  # 3 first-line managers: too few


# --- rater figures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2024, 6, 28), date(2024, 6, 28), 0),  # same day
        (date(2024, 6, 28), date(2024, 6, 27), 0),  # end before start
        (date(2024, 6, 28), date(2024, 7, 1), 1),  # Fri -> Mon: Sat, Sun skipped, Mon
        (date(2024, 6, 28), date(2024, 7, 5), 5),  # Fri -> next Fri: Mon..Fri
        (date(2024, 6, 29), date(2024, 7, 1), 1),  # Sat -> Mon: Mon only
        (date(2024, 6, 20), date(2024, 6, 28), 6),  # Thu -> next Fri: Fri, Mon..Fri
        (date(2024, 7, 1), date(2024, 7, 15), 10),  # two full weeks
    ],
)
def test_business_days_between_counts_weekdays_after_start_up_to_end(
    start: date, end: date, expected: int
) -> None:
    assert business_days_between(start, end) == expected


@given(st.dates(date(2000, 1, 1), date(2040, 12, 31)), st.integers(-10, 800))
def test_business_days_between_equals_counting_day_by_day(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    by_day = sum((start + timedelta(days=i)).weekday() < 5 for i in range(1, span + 1))
    assert business_days_between(start, end) == by_day


def test_leniency_is_a_managers_mean_minus_the_other_raters_in_the_region(
    scenario: Scenario,
) -> None:
    for manager, region in (("M-A", "North"), ("M-B", "North"), ("M-C", "North")):
        scenario.manager(manager, region, f"{manager}-T")
    scenario.manager("M-S", "South", "S-T")
    scenario.rep("r1")
    scenario.rep("r2", "South")
    scenario.rated("r1", before(10), 0.8, observer="M-A")
    scenario.rated("r1", before(20), 0.8, observer="M-A")
    scenario.rated("r1", before(100), 0.0, observer="M-A")  # before D - 90: not counted
    scenario.rated("r1", before(5), 0.0, observer="M-A", counted=False)  # a draft: not counted
    scenario.rated("r1", before(30), 0.5, observer="M-B")
    scenario.rated("r1", before(40), 0.7, observer="M-B")
    scenario.rated("r1", before(50), 0.6, observer="M-C")
    scenario.visit("r1", before(60), observer="M-C")  # a report without ratings
    scenario.rated("r2", before(10), 1.0, observer="M-S")
    scenario.conn.commit()

    stats = rater_stats(scenario.conn, AS_OF)
    assert {m: (s.region, s.reports, s.ratings) for m, s in stats.items()} == {
        "M-A": ("North", 2, 2),
        "M-B": ("North", 2, 2),
        "M-C": ("North", 2, 1),
        "M-S": ("South", 1, 1),
    }
    assert stats["M-S"].top_box == 1  # a rating of 1.0 is top box
    # tagged: reports rating at least one capability (M-C's second report rates none)
    assert {m: s.tagged_reports for m, s in stats.items()} == {
        "M-A": 2,
        "M-B": 2,
        "M-C": 1,
        "M-S": 1,
    }
    assert leniency(stats) == {
        "M-A": 0.2,  # .8 - (.5 + .7 + .6) / 3 = .8 - .6
        "M-B": -0.133,  # .6 - (.8 + .8 + .6) / 3 = .6 - .733333
        "M-C": -0.1,  # .6 - (.8 + .8 + .5 + .7) / 4 = .6 - .7
        "M-S": None,  # nobody else rates in the South
    }


def test_heatmap_flag_uses_the_interval_of_the_share_it_shows() -> None:
    from adoptloop.adoption.metrics import MetricsRow
    from adoptloop.adoption.report.assemble import _cell

    # North: 6 adopted of a cohort of 22 -> 27.3%, Wilson 95% about 13.2-48.2%
    north = MetricsRow("North", "objection-handling", trained=22, cohort=22, observed=13, adopted=6)
    flagged = _cell(north, "Objection handling", 6, 22, overall=(30, 61))  # overall 49.2%: outside
    assert flagged.value == 27.3
    assert flagged.flagged
    close = _cell(north, "Objection handling", 6, 22, overall=(20, 61))  # overall 32.8%: inside
    assert not close.flagged
    everyone = MetricsRow(
        "(all)", "objection-handling", trained=61, cohort=61, observed=44, adopted=30
    )
    assert not _cell(everyone, "Objection handling", 30, 61, overall=(30, 61)).flagged


def test_a_report_rating_several_capabilities_is_one_tagged_report(scenario: Scenario) -> None:
    scenario.manager("M-A", "North", "N-T")
    scenario.rep("r1")
    scenario.visit("r1", before(10), {OBJ: 0.8, DISC: 0.6}, observer="M-A")
    scenario.visit("r1", before(20), {OBJ: 0.5}, observer="M-A")
    scenario.visit("r1", before(30), observer="M-A")  # rates nothing
    scenario.conn.commit()

    stats = rater_stats(scenario.conn, AS_OF)["M-A"]
    assert (stats.reports, stats.ratings, stats.tagged_reports) == (3, 3, 2)
