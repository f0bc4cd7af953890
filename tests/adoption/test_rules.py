"""DESIGN.md's precise adoption rules, one hand-reasoned scenario each (issue 16, point 1).

Dates follow tests/adoption/scenario.py: D = 2024-06-30, training on T = D - 120 = day(0), so
the default 90-day window (T, T + 90] closes on day(90) = D - 30; the coaching window
(D - 90, D] is D-89 .. D. HR rows in the store end on valid_to EXCLUSIVE; a termination date
is the last day employed. Expected numbers are worked out in each docstring, not by running
the code. The counts are read from the rows (MetricsRow fields), which small groups suppress
only when printed.

Covered elsewhere: the state machine's 30/180-day edges, regression and re-adoption
(test_states.py), Kaplan-Meier conventions (test_kaplan_meier.py), hire day and 45 of 90 days
(test_metrics.py, coaching coverage), attribution at window close and by manager
(test_outcomes.py), incremental == full (test_incremental_states.py).
"""

from __future__ import annotations

import io
from datetime import date

from adoptloop.adoption.kaplan_meier import kaplan_meier
from adoptloop.adoption.metrics import ALL, COLUMNS, MetricsRow, write_table_csv
from adoptloop.store import schema
from tests.adoption.scenario import DISC, EPOCH, HIGH, LOW, OBJ, D, Post, Scenario, before, day


def at(rows: list[MetricsRow], group: str, capability: str = OBJ) -> MetricsRow:
    (found,) = [r for r in rows if (r.group, r.capability) == (group, capability)]
    return found


def counts(r: MetricsRow) -> tuple[int, int, int, int]:
    """(trained, cohort, observed, adopted)."""
    return (r.trained, r.cohort, r.observed, r.adopted)


def groups(rows: list[MetricsRow]) -> list[tuple[str, str]]:
    return [(r.group, r.capability) for r in rows]


def test_a_leaver_counts_only_when_employed_on_the_windows_last_day(scenario: Scenario) -> None:
    """Leavers, termination date inclusive, attribution at window close.

    stays: trained T, rated proficient on day 10, last day employed day(90) = the window's
    close: the HR row is valid that day, so the pair counts (trained, cohort, observed, adopted).
    gone: the same, but the last day is day(89): no valid row on day(90): counts nowhere.
    open-stayer: trained D-30 (window open, close = min(D+60, D) = D), last day D: trained only.
    open-leaver: trained D-30, last day D-5: no row valid on D: nowhere.
    North, objection handling: trained 2, cohort 1, observed 1, adopted 1; "(all)" the same.
    """
    s = scenario
    for rep, last in (("stays", day(90)), ("gone", day(89))):
        s.rep(rep, left=last)
        s.completed(rep, "MOD-OBJ-101", day(0))
        s.rated(rep, day(10), HIGH)
    for rep, last in (("open-stayer", D), ("open-leaver", before(5))):
        s.rep(rep, left=last)
        s.completed(rep, "MOD-OBJ-101", before(30))

    rows = s.table()
    assert counts(at(rows, "North")) == (2, 1, 1, 1)
    assert counts(at(rows, ALL)) == (2, 1, 1, 1)


def test_a_rehire_gap_at_window_close_counts_nowhere_and_employment_is_the_union(
    scenario: Scenario,
) -> None:
    """Rehire gap, union of rows (attribution and coaching eligibility).

    rehired: North rows [EPOCH, day 60) (so employed through day 59), then rehired in South
    from day(100) (hire date day 100). Trained T and rated proficient on day 10, but on the
    window's close, day(90), no row is valid: the pair counts nowhere.
    rehired-early: North to day 59, South from day(80): valid on day(90): South.
    Coaching window D-89 .. D = day(31) .. day(120). rehired: day 31..59 (29 days) + day
    100..120 (21 days) = 50 >= 45, last employed day D in a South rep row: eligible in South.
    rehired-early: 29 + day 80..120 (41) = 70: eligible in South.
    North has no trained rep, no eligible rep, no action: no North row at all.
    """
    s = scenario
    s.hr_row("rehired", EPOCH, day(60), "North", hired=EPOCH)
    s.hr_row("rehired", day(100), None, "South", hired=day(100))
    s.hr_row("rehired-early", EPOCH, day(60), "North", hired=EPOCH)
    s.hr_row("rehired-early", day(80), None, "South", hired=day(80))
    for rep in ("rehired", "rehired-early"):
        s.completed(rep, "MOD-OBJ-101", day(0))
    s.rated("rehired", day(10), HIGH)

    rows = s.table()
    assert groups(rows) == [("South", OBJ), (ALL, OBJ), ("South", DISC), (ALL, DISC)]
    assert counts(at(rows, "South")) == (1, 1, 0, 0)
    assert counts(at(rows, ALL)) == (1, 1, 0, 0)
    assert at(rows, "South").eligible == 2


def test_overlapping_rows_the_latest_valid_from_among_those_valid_wins(
    scenario: Scenario,
) -> None:
    """Overlapping rows.

    early-overlap: North [EPOCH, open) and South [day 10, day 50). On day(90) only the North
    row is valid (the South one ended): North.
    inside-overlap: North [EPOCH, open) and South [day 80, day 100): both valid on day(90);
    the latest valid_from (South) wins.
    """
    s = scenario
    s.hr_row("early-overlap", EPOCH, None, "North")
    s.hr_row("early-overlap", day(10), day(50), "South")
    s.hr_row("inside-overlap", EPOCH, None, "North")
    s.hr_row("inside-overlap", day(80), day(100), "South")
    for rep in ("early-overlap", "inside-overlap"):
        s.completed(rep, "MOD-OBJ-101", day(0))

    rows = s.table()
    assert (at(rows, "North").trained, at(rows, "South").trained) == (1, 1)


def test_only_rep_rows_count_in_cohorts_and_coaching(scenario: Scenario) -> None:
    """Roles: only `rep` rows count, managers never, even when trained and rated.

    mgr: a manager throughout, trained and rated proficient: nowhere.
    promoted-in-window: rep, then manager from day 60: a manager on day(90): nowhere; on D a
    manager too: not eligible.
    promoted-after: rep, manager from day 95: a rep on day(90): counts; not eligible (manager
    on D, the last employed day).
    demoted: manager, then rep from day 60: counts; a rep on D: eligible.
    North: trained 2 (promoted-after, demoted), cohort 2, observed 0; eligible 1.
    """
    s = scenario
    s.career("mgr", Post(EPOCH, "North", role="manager"))
    s.career("promoted-in-window", Post(EPOCH, "North"), Post(day(60), "North", role="manager"))
    s.career("promoted-after", Post(EPOCH, "North"), Post(day(95), "North", role="manager"))
    s.career("demoted", Post(EPOCH, "North", role="manager"), Post(day(60), "North"))
    for person in ("mgr", "promoted-in-window", "promoted-after", "demoted"):
        s.completed(person, "MOD-OBJ-101", day(0))
    s.rated("mgr", day(10), HIGH)

    rows = s.table()
    assert counts(at(rows, "North")) == (2, 2, 0, 0)
    assert at(rows, "North").eligible == 1


def test_observed_needs_a_rating_visited_needs_only_a_submitted_visit(
    scenario: Scenario,
) -> None:
    """Observed vs visited; two ratings of c on one visit are two ratings.

    unrated: trained T; a submitted visit without ratings on day 85 (= D - 35, inside the
    window and the coaching window): not observed, but visited.
    draft: rated proficient on day 20 on a draft (not submitted): neither.
    twice: proficient on day 10 (adopted); one visit on day 40 (= D - 80) with two items both
    rating objection handling below threshold: two consecutive lows: regressed; visited.
    North: trained 3, cohort 3, observed 1, adopted 1, regressed 1; eligible 3, coached 2.
    """
    s = scenario
    for rep in ("unrated", "draft", "twice"):
        s.trained(rep)
    s.visit("unrated", day(85))
    s.rated("draft", day(20), HIGH, counted=False)
    s.rated("twice", day(10), HIGH)
    visit = s.visit("twice", day(40), {OBJ: LOW})
    s.conn.execute(
        schema.ratings.insert(),
        [
            {
                "source": "crm",
                "record_id": visit,
                "item": "second-objection-item",
                "capability_id": OBJ,
                "raw": 2.0,
                "scaled": 0.25,
            }
        ],
    )

    north = at(s.table(), "North")
    assert counts(north) == (3, 3, 1, 1)
    assert north.regressed == 1
    assert (north.eligible, north.coached) == (3, 2)


def test_leavers_are_censored_at_d_in_time_to_proficiency(scenario: Scenario) -> None:
    """Kaplan-Meier: no event: censored at D - trained_at, leavers too.

    fast: proficient on day 10 (event at 10). slow: proficient on day 110 (after its window,
    still before D: event at 110). left: last day day(100), after the close (so attributed),
    never proficient: censored at D - T = 120, not at 100.
    S(10) = 2/3; S(110) = 2/3 * (1 - 1/2) = 1/3 (left still at risk): median 110 (first
    S <= 1/2), no p75 (1/3 > 1/4). Censoring "left" at 100 would give S(110) = 0, p75 110.
    """
    s = scenario
    s.trained("fast")
    s.rated("fast", day(10), HIGH)
    s.trained("slow")
    s.rated("slow", day(110), HIGH)
    s.rep("left", left=day(100))
    s.completed("left", "MOD-OBJ-101", day(0))

    north = at(s.table(), "North")
    assert (north.median_days, north.p75_days) == (110, None)


def test_follow_through_goes_to_the_owners_row_on_the_due_date(scenario: Scenario) -> None:
    """Action follow-through per capability, attributed on the due date, agreed by D.

    mover: North, South from D-10. An action due D-20, done D-20: North (its row on the due
    date), on time. An action due D-5, open: South, due only.
    leaver-after: last day D-10; due D-20, done D-25: North, on time (valid on the due date).
    leaver-before: last day D-30; due D-20: no row on the due date: nowhere.
    late-agreed: due D-5, agreed D+1 (after D): nowhere.
    North: 2 due, 2 on time; South: 1 due, 0 on time; (all): 3 due, 2 on time.
    """
    s = scenario
    s.career("mover", Post(EPOCH, "North"), Post(before(10), "South"))
    s.action("mover", before(20), before(20))
    s.action("mover", before(5))
    s.rep("leaver-after", left=before(10))
    s.action("leaver-after", before(20), before(25))
    s.rep("leaver-before", left=before(30))
    s.action("leaver-before", before(20), before(20))
    s.rep("late-agreed", "West")
    s.action("late-agreed", before(5), agreed=date(2024, 7, 1))

    rows = s.table()
    got = {r.group: (r.actions_due, r.actions_on_time) for r in rows if r.capability == OBJ}
    # West is a group through late-agreed's eligibility alone
    assert got == {"North": (2, 2), "South": (1, 0), "West": (0, 0), ALL: (3, 2)}


def test_every_group_with_a_trained_rep_an_eligible_rep_or_an_action_gets_rows(
    scenario: Scenario,
) -> None:
    """Rows for every group: East has only an eligible rep; West only an action (its owner,
    hired D-10, is employed 11 of 90 days: not eligible); North a trained rep. Gone left on
    D-100 and has nothing in any window: no row for Nowhere. Each group x each capability,
    then "(all)"; a group with nothing on a capability gets a (suppressed) row."""
    s = scenario
    s.rep("east", "East")
    s.rep("west", "West", hired=before(10))
    s.action("west", before(5), capability=DISC)
    s.trained("north", region="North")
    s.rep("gone", "Nowhere", left=before(100))

    rows = s.table()
    assert groups(rows) == [
        ("East", OBJ),
        ("North", OBJ),
        ("West", OBJ),
        (ALL, OBJ),
        ("East", DISC),
        ("North", DISC),
        ("West", DISC),
        (ALL, DISC),
    ]
    assert all(r.record()["suppressed"] for r in rows)
    assert (at(rows, "West", DISC).actions_due, at(rows, "East").eligible) == (1, 1)


def test_csv_contract_columns_fractions_days_and_flags() -> None:
    """Issue 16 point 3: DESIGN.md's column list in order; fractions 0..1 with 4 decimals
    rounded half up; Wilson with z = NormalDist().inv_cdf(0.975); integer days; true/false;
    blank for a 0 denominator or a suppressed cell.

    directional: cohort 10, observed 8, adopted 6: 6/8 = .75, Wilson (.409275, .928517)
    (worked in test_outcomes.py), 6/10 = .6, 8/10 = .8; events on days 12, 12, 30, 30:
    median 12, p75 30; coaching 4/11 = .363636; follow-through 1/2 = .5.
    half-up: cohort 40, observed 32, adopted 1: 1/32 = .03125 -> 0.0313 (half-even would give
    0.0312); Wilson 1/32: z^2/n = .120046, centre (.03125 + .060023) / 1.120046 = .081490,
    half 1.959964 * sqrt(.000946 + .000938) / 1.120046 = .075953 -> (.005538, .157443);
    1/40 = .025; 32/40 = .8; nobody eligible, no action: blank.
    unobserved: cohort 10, observed 0: adoption_observed and its interval blank (0/0); 0/10.
    suppressed: cohort 4: everything blank but the names and flags.
    """
    curve = kaplan_meier([(12, True), (12, True), (30, True), (30, True)])
    rows = [
        MetricsRow(
            "North",
            OBJ,
            12,
            10,
            8,
            6,
            1,
            1,
            curve=curve,
            eligible=11,
            coached=4,
            actions_due=2,
            actions_on_time=1,
        ),
        MetricsRow("South", OBJ, 41, 40, 32, 1),
        MetricsRow("West", OBJ, 10, 10, 0, 0),
        MetricsRow("East", OBJ, 4, 4, 3, 2, eligible=20, coached=10),
    ]
    out = io.StringIO()
    write_table_csv(rows, out)

    assert out.getvalue().splitlines() == [
        "group,capability,eligible,trained,cohort,observed,adopted,sustained,regressed,"
        "adoption_observed,adoption_observed_ci_low,adoption_observed_ci_high,adoption_cohort,"
        "observation_coverage,median_days_to_proficiency,p75_days_to_proficiency,"
        "coaching_coverage,action_follow_through,suppressed,directional",
        f"North,{OBJ},11,12,10,8,6,1,1,0.7500,0.4093,0.9285,0.6000,0.8000,12,30,0.3636,0.5000,"
        "false,true",
        f"South,{OBJ},0,41,40,32,1,0,0,0.0313,0.0055,0.1574,0.0250,0.8000,,,,,false,false",
        f"West,{OBJ},0,10,10,0,0,0,0,,,,0.0000,0.0000,,,,,false,true",
        f"East,{OBJ},,,,,,,,,,,,,,,,,true,false",
    ]
    assert tuple(out.getvalue().splitlines()[0].split(",")) == COLUMNS
