"""The HTML adoption report: what it shows first, what it withholds, and that it draws offline.

The renderer is tested on hand-built ReportData (the contract adoption.report.assemble fills); the
browser test opens the written file in Debian's headless Chromium from a file:// URL. The demo's
own report (its size, its links, its screenshots) is tested in test_demo_report.py.
"""

# The report typesets ranges with en dashes (5 to 9 people); the tests look for them.
# ruff: noqa: RUF001

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoptloop.adoption.report.chartkit import DIRECTIONAL_MARK
from adoptloop.adoption.report.data import (
    Cell,
    Freshness,
    FunnelStep,
    ManagerGroup,
    Opportunity,
    ProficiencyCurve,
    RaterInterval,
    ReportData,
    UpliftRow,
)
from adoptloop.adoption.report.html import STATES, render_html
from adoptloop.adoption.report.page import CHARTS_ELEMENT
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from tests.harness.browser import chromium_unavailable, visit_page
from tests.support import REPO, require

SCREENSHOT = REPO / "test-artifacts" / "adoption-report.png"
SECTIONS = (
    "act",
    "works",
    "caused",
    "adoption",
    "funnel",
    "proficiency",
    "coaching",
    "calibration",
    "follow-through",
    "reading",
    "freshness",
)
CHART_IDS = {"chart-funnel", "chart-proficiency", "chart-coaching", "chart-leniency"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
REGIONS = ("North", "South", "East", "West", "Central")
CAPABILITIES = ("Objection handling", "Needs discovery", "Access & reimbursement", "Value story")
ORG = {"Objection handling": 45.0, "Needs discovery": 50.0}


# -- a realistic ReportData, filtered the way adoption.metrics filters it ---------------------


def cell(
    group: str, capability: str, numerator: int, denominator: int, *, versus: str = ""
) -> Cell:
    size = tier(denominator)
    if size is Tier.SUPPRESSED:
        return Cell(group, capability, None, None, None, size.value)
    if size is Tier.COUNTS_ONLY:
        return Cell(group, capability, None, numerator, denominator, size.value)
    low, high = wilson(numerator, denominator)
    return Cell(
        group,
        capability,
        100 * numerator / denominator,
        numerator,
        denominator,
        size.value,
        100 * low,
        100 * high,
        versus,
    )


# (numerator of adoption, numerator of coverage, cohort) per region x capability
GRID = {
    "North": ((21, 40, 52), (30, 44, 55), (9, 20, 31), (25, 39, 48)),
    "South": ((6, 17, 24), (8, 15, 22), (3, 4, 4), (10, 18, 26)),
    "East": ((3, 5, 7), (14, 27, 36), (5, 11, 18), (4, 6, 9)),
    "West": ((18, 33, 41), (2, 3, 3), (12, 25, 34), (20, 30, 38)),
    "Central": ((12, 22, 29), (15, 20, 27), (6, 12, 15), (11, 19, 33)),
}


def curve(capability: str, spread: int, reps: int = 60) -> ProficiencyCurve:
    """A step curve like adoption.kaplan_meier's: days to proficiency, a share never there."""
    events = sorted(
        14 + 5 * spread + (k * 37) % (110 + 25 * spread) for k in range(reps) if k % (3 + spread)
    )
    days = tuple(dict.fromkeys(events))
    shares = tuple(sum(1 for e in events if e <= d) / reps for d in days)

    def first(level: float) -> float | None:
        return next(
            (float(d) for d, share in zip(days, shares, strict=True) if share >= level), None
        )

    # everyone not proficient is followed to day 180: at risk on t = reps not proficient before t
    risk = ((t, reps - sum(1 for e in events if e < t)) for t in range(0, 181, 30))
    at_risk = tuple((t, n if n >= 5 else None) for t, n in risk)
    return ProficiencyCurve(capability, days, shares, first(0.5), first(0.75), reps, at_risk)


def opportunity(group: str, capability: str, adopted: int, cohort: int, gap: str) -> Opportunity:
    low, high = wilson(adopted, cohort)
    return Opportunity(
        group=group,
        capability=capability,
        tier=tier(cohort).value,
        adopted=adopted,
        cohort=cohort,
        adoption=round(100 * adopted / cohort, 1),
        ci_low=round(100 * low, 1),
        ci_high=round(100 * high, 1),
        org_adoption=ORG[capability],
        coverage=40.0,
        org_coverage=78.0,
        adoption_observed=62.0,
        org_adoption_observed=58.0,
        follow_through=70.0,
        org_follow_through=72.0,
        gap=gap,
        next_step=f"Next step for {group} on {capability}.",
    )


VERSUS = {("South", "Objection handling"): "below", ("North", "Needs discovery"): "above"}


def sample_report() -> ReportData:
    heatmap = [
        cell(region, cap, adopted, cohort, versus=VERSUS.get((region, cap), ""))
        for region, rows in GRID.items()
        for cap, (adopted, _, cohort) in zip(CAPABILITIES, rows, strict=True)
    ]
    coverage = [
        cell(region, cap, observed, cohort)
        for region, rows in GRID.items()
        for cap, (_, observed, cohort) in zip(CAPABILITIES, rows, strict=True)
    ]
    follow = [
        cell(region, cap, cohort // 2, cohort)
        for region, rows in GRID.items()
        for cap, (_, _, cohort) in zip(CAPABILITIES, rows, strict=True)
    ]
    curves = [curve(cap, spread) for spread, cap in enumerate(CAPABILITIES)]
    managers = [
        ManagerGroup(
            "team Leeds & Bradford",
            "North",
            12,
            83.3,
            2.5,
            75.0,
            0.21,
            34.0,
            "directional",
            "Ada Lovelace",
            10,
        ),
        ManagerGroup(
            "team Newcastle",
            "North",
            31,
            64.5,
            4.0,
            58.1,
            -0.12,
            18.0,
            "comparable",
            "Grace Hopper",
            20,
        ),
        ManagerGroup(
            "team Bristol",
            "South",
            14,
            57.1,
            6.5,
            42.9,
            0.44,
            51.0,
            "directional",
            "Alan Turing",
            8,
        ),
        ManagerGroup(
            "team Cornwall",
            "South",
            None,
            None,
            None,
            None,
            None,
            None,
            "suppressed",
            "Karen Jones",
        ),
        ManagerGroup(
            "team Norwich",
            "East",
            7,
            None,
            None,
            None,
            None,
            None,
            "counts-only",
            "Edsger Dijkstra",
            5,
        ),
        ManagerGroup(
            "team Cambridge",
            "East",
            33,
            90.9,
            1.5,
            87.9,
            -0.31,
            12.0,
            "comparable",
            "Barbara Liskov",
            30,
        ),
    ]
    return ReportData(
        title="Field adoption — EMEA specialty care",
        as_of=date(2026, 10, 31),
        generated_at="2026-11-01T06:15:00+00:00",
        window_days=90,
        where_to_act=[
            opportunity("South", "Objection handling", 6, 24, "coverage"),
        ],
        where_it_works=[opportunity("North", "Needs discovery", 30, 55, "")],
        heatmap=heatmap,
        coverage=coverage,
        funnel=[
            FunnelStep("Objection handling", 212, 137, 60, 24, 3, "comparable"),
            FunnelStep("Needs discovery", 180, 121, 69, 31, 0, "comparable"),
            FunnelStep("Access & reimbursement", 96, 60, 35, 9, 1, "comparable"),
            FunnelStep("Value story", 8, 6, 4, 1, 0, "counts-only"),
        ],
        curves=curves,
        managers=managers,
        follow_through=follow,
        freshness=[
            Freshness("hris", "2026-11-01T05:02:11.000000Z", "2026-10-31"),
            Freshness("lms", "2026-11-01T05:10:40.000000Z", "2026-10-30T17:45:00"),
            Freshness("crm", "2026-11-01T05:31:09.000000Z", "2026-10-24"),
        ],
        notes=[
            "Capability 'Access & reimbursement' uses a 120-day window.",
            "Coaching coverage counts submitted visits only.",
        ],
    )


def stale_report() -> ReportData:
    data = sample_report()
    data.freshness[2] = replace(
        data.freshness[2], stale=True, reason="its latest read stopped early (api budget spent)"
    )
    return data


# -- reading the rendered page -----------------------------------------------------------------


class Page(HTMLParser):
    """The elements the tests look at: ids in order, chart divs, attributes, text by id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_by_id: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if "id" in attributes:
            self.ids.append(attributes["id"])
            self.text_by_id.setdefault(attributes["id"], "")
        if tag not in {"meta", "link", "br", "img", "input"}:
            self._open.append(attributes.get("id"))

    def handle_endtag(self, tag: str) -> None:
        if tag not in {"meta", "link", "br", "img", "input"} and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for open_id in self._open:
            if open_id is not None:
                self.text_by_id[open_id] += data

    def charts(self) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == "div" and "data-chart" in a]


def chart_specs(page: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{CHARTS_ELEMENT}">(.*?)</script>', page, re.S
    )
    assert found is not None
    specs: dict[str, Any] = json.loads(found.group(1))
    return specs


def without_library(page: str) -> str:
    """The page minus the inlined Plotly bundle, i.e. everything the report itself wrote."""
    return re.sub(r'<script id="plotly-js">.*?</script>', "", page, flags=re.S)


def section(page: str, anchor: str) -> str:
    """The HTML of one section."""
    start = page.index(f'<section id="{anchor}"')
    return page[start : page.index("</section>", start)]


def grid_cell(page: str, table_id: str, row: int, column: int) -> str:
    """The <td> of a grid table, by row and capability column (0-based)."""
    table = page[page.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    body = table[table.index("<tbody>") :]
    rows: list[str] = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cells: list[str] = re.findall(r"<td.*?</td>", rows[row], re.S)
    return cells[column]


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


# -- the renderer ------------------------------------------------------------------------------


def test_every_section_appears_once_in_reading_order(page: str) -> None:
    ids = Page(page).ids
    positions = [ids.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert all(ids.count(section) == 1 for section in SECTIONS)


def test_the_first_screen_answers_where_to_act_before_any_table_of_dates(page: str) -> None:
    """Issue 16 point 4 (deliver 1, 5): the report opens with where to act, then where it
    works; data freshness comes last when every source is fresh."""
    ids = Page(page).ids
    sections = [i for i in ids if i in SECTIONS]
    assert sections[:2] == ["act", "works"]
    assert sections[-1] == "freshness"
    assert 'role="alert"' not in page


def test_where_to_act_cards_give_the_figure_the_gap_and_the_next_step(page: str) -> None:
    """Issue 16 point 4 (deliver 1): each card names a region and capability (never a rep), its
    interval against the org, the gap the rule found, and what to do next."""
    act = section(page, "act")
    assert "South · Objection handling" in act
    assert "Coverage gap" in act
    assert "25%†</b> adopted (95% CI 12–45%; 6 of 24 reps) against <b>45%</b>" in act
    assert "<b>Next:</b> Next step for South on Objection handling." in act
    for rule in ("coverage gap", "follow-through gap", "adoption gap", "Wilson 95%"):
        assert rule in act
    works = section(page, "works")
    assert "North · Needs discovery" in works
    assert 'class="card works"' in works


def test_empty_where_to_act_says_so() -> None:
    data = sample_report()
    data.where_to_act, data.where_it_works = [], []
    page = render_html(data)
    assert "No region sits clearly below the org on any capability" in section(page, "act")
    assert "No region sits clearly above the org" in section(page, "works")


def test_a_stale_source_puts_freshness_at_the_top_in_red() -> None:
    """Issue 16 point 4 (deliver 5): with a stale source, a red alert under the title names it
    and why, and the freshness section moves right after the header."""
    page = render_html(stale_report())
    ids = [i for i in Page(page).ids if i in SECTIONS]
    assert ids[0] == "freshness"
    alert = page[page.index('<div class="stale" role="alert"') :]
    alert = alert[: alert.index("</div>")]
    assert "<b>crm</b>: its latest read stopped early (api budget spent)" in alert
    assert page.index('role="alert"') < page.index('<section id="act"')
    assert "--bad: #b91c1c" in page  # red
    assert "div.stale {" in page
    assert '<section id="freshness" aria-labelledby="freshness-h" class="alert">' in page
    assert "stale: its latest read stopped early" in section(page, "freshness")


def test_header_states_title_as_of_date_generated_time_and_a_reading_guide(page: str) -> None:
    assert "<h1>Field adoption — EMEA specialty care</h1>" in page
    assert "As of <strong>2026-10-31</strong>" in page
    assert "generated 2026-11-01 06:15 UTC" in page
    assert '<p class="guide">Each figure' in page


def test_every_chart_has_a_title_an_aria_label_a_summary_and_a_spec(page: str) -> None:
    parsed = Page(page)
    charts = parsed.charts()
    specs = chart_specs(page)
    assert {c["id"] for c in charts} == CHART_IDS == set(specs)
    for chart in charts:
        assert chart["role"] == "img"
        assert chart["aria-label"].strip()
        assert parsed.text_by_id[f"{chart['id']}-title"].strip() == chart["aria-label"]
        assert len(parsed.text_by_id[chart["aria-describedby"]].strip()) > 40


def test_chart_specs_are_valid_plotly_figures_of_the_basic_bundle(page: str) -> None:
    """The inlined bundle is Plotly's basic one: scatter and bar traces only."""
    for chart_id, spec in chart_specs(page).items():
        figure = go.Figure(data=spec["data"], layout=spec["layout"])  # raises on a bad property
        assert figure.data, chart_id
        assert {t["type"] for t in spec["data"]} <= {"scatter", "bar"}, chart_id


def test_suppressed_cells_show_why_and_no_number(page: str) -> None:
    # South x Access & reimbursement: a cohort of 4
    td = grid_cell(page, "grid-adoption", row=1, column=2)
    assert 'class="cell suppressed"' in td
    assert "suppressed: fewer than 5 people in the cohort" in td
    assert ">n&lt;5<" in td


def test_counts_only_cells_show_counts_and_no_percentage(page: str) -> None:
    # East x Objection handling: 3 of 7
    td = grid_cell(page, "grid-adoption", row=2, column=0)
    assert ">3/7<" in td
    assert "%" not in td.split("title=")[0] + td.split('">', 1)[1]
    assert "counts only (5–9 people), no percentage" in td
    assert "style=" not in td  # not shaded: no share to shade


def test_directional_cells_are_marked_shaded_and_the_mark_is_explained(page: str) -> None:
    # South x Objection handling: 6 of 24
    td = grid_cell(page, "grid-adoption", row=1, column=0)
    assert "25%†" in td
    assert "directional (10–29 people)" in td
    assert "95% CI" in td
    assert 'style="background:#' in td
    assert "directional: 10–29 people" in page


def test_below_and_above_the_org_are_marked_differently(page: str) -> None:
    """Issue 16 point 4: the old outline marked good and bad alike; now ▼ on a red edge for a
    cell wholly below the org, ▲ on a green one wholly above, each explained in the key."""
    below = grid_cell(page, "grid-adoption", row=1, column=0)  # South x Objection handling
    above = grid_cell(page, "grid-adoption", row=0, column=1)  # North x Needs discovery
    assert 'class="cell directional below"' in below
    assert "▼" in below
    assert 'class="cell comparable above"' in above
    assert "▲" in above
    assert "the whole interval is below the org&#x27;s figure" in below
    assert "the whole interval is above the org&#x27;s figure" in above
    assert "whole 95% interval below the org's figure" in page
    assert "whole 95% interval above the org's figure" in page
    assert "table.grid td.below { box-shadow: inset 0 0 0 3px var(--bad); }" in page
    assert "table.grid td.above { box-shadow: inset 0 0 0 3px var(--good); }" in page


def test_observation_coverage_is_shown_beside_adoption(page: str) -> None:
    adoption = section(page, "adoption")
    assert adoption.index('id="grid-adoption"') < adoption.index('id="grid-coverage"')


def test_small_number_tally_counts_what_was_withheld(page: str) -> None:
    text = Page(page).text_by_id["small-numbers"]
    data = sample_report()
    tiers = [c.tier for c in (*data.heatmap, *data.coverage, *data.follow_through)]
    tiers += [m.tier for m in data.managers]
    assert f"{tiers.count('suppressed')} suppressed (n<5)" in text
    assert f"{tiers.count('counts-only')} counts only" in text
    assert f"{tiers.count('directional')} directional" in text


def test_adopted_sustained_and_regressed_are_each_explained_where_they_appear(page: str) -> None:
    """Issue 16 point 4 (deliver 7): one sentence each beside the funnel, as tooltips on the
    funnel table's columns, and in "How to read this"."""
    funnel = html.unescape(section(page, "funnel"))
    reading = Page(page).text_by_id["reading"]
    for state, sentence in STATES.items():
        meaning = sentence.split(": ", 1)[1]
        assert f"<dt>{state}</dt><dd>{meaning[:1].upper() + meaning[1:]}</dd>" in funnel
        assert f'title="{sentence}"' in funnel
        assert meaning[1:] in reading
    assert "Regressed" in funnel  # the regressed counts are in the funnel's table


def test_the_funnel_shows_no_percentage_for_a_counts_only_capability(page: str) -> None:
    spec = chart_specs(page)["chart-funnel"]
    value_story = [t["text"][3] for t in spec["data"]]  # the fourth capability: 8 trained
    assert value_story == ["8", "6", "4", "1"]


def test_time_to_proficiency_shows_the_number_at_risk_under_the_curves() -> None:
    """Issue 16 point 4 (deliver 2): one row per curve under the x axis, each count under its
    tick day, "<5" for fewer than 5; the ticks are the at-risk days."""
    data = sample_report()
    data.curves = [
        replace(data.curves[0], at_risk=((0, 60), (30, 41), (60, 12), (90, None))),
        replace(data.curves[1], at_risk=((0, 60), (30, 50), (60, 30), (90, 7))),
    ]
    page = render_html(data)
    spec = chart_specs(page)["chart-proficiency"]
    assert spec["layout"]["xaxis"]["tickvals"] == [0, 30, 60, 90]
    notes = [a for a in spec["layout"]["annotations"] if a.get("yref") == "paper" and "x" in a]
    under = [(a["x"], a["text"]) for a in notes if a.get("yshift", 0) < 0 and "xref" not in a]
    assert under == [
        (0, "60"), (30, "41"), (60, "12"), (90, "&lt;5"),
        (0, "60"), (30, "50"), (60, "30"), (90, "7"),
    ]  # fmt: skip
    assert any(a["text"] == "<b>Number at risk</b>" for a in notes)
    assert '<th scope="col" class="num">day 90</th>' in section(page, "proficiency")


def test_teams_are_listed_by_region_and_territory_with_the_managers_name(page: str) -> None:
    """Issue 16 point 4 (deliver 4): the manager's display name leads the team's label; teams
    are ordered by region and territory, never by a figure."""
    specs = chart_specs(page)
    expected = sorted((m.region, m.team, m.manager) for m in sample_report().managers)
    labels = [
        f"{manager} · {team.replace('&', '&amp;')} · {region}" for region, team, manager in expected
    ]
    assert specs["chart-coaching"]["data"][0]["y"] == labels
    assert specs["chart-leniency"]["data"][0]["y"] == labels
    coaching = section(page, "coaching")
    assert '<th scope="row">Ada Lovelace</th><td>team Leeds &amp; Bradford</td>' in coaching


def test_withheld_teams_show_why_and_their_counts_instead_of_a_bar(page: str) -> None:
    notes = chart_specs(page)["chart-coaching"]["data"][-1]
    assert notes["mode"] == "text"
    assert sorted(t.strip() for t in notes["text"]) == [
        "n&lt;5, suppressed",
        "n=7, counts only: 5 of 7 coached",
    ]


def test_no_leniency_chart_when_no_team_is_large_enough() -> None:
    data = sample_report()
    data.managers = [replace(m, leniency=None) for m in data.managers]
    page = render_html(data)
    assert "chart-leniency" not in chart_specs(page)
    assert "Rater leniency: no team" in section(page, "coaching")


def test_leniency_diverges_from_zero_on_a_symmetric_axis(page: str) -> None:
    spec = chart_specs(page)["chart-leniency"]
    low, high = spec["layout"]["xaxis"]["range"]
    assert low == -high
    colours = spec["data"][0]["marker"]["color"]
    values = spec["data"][0]["x"]
    assert {c for c, v in zip(colours, values, strict=True) if v is not None and v > 0} == {
        "#c05621"
    }
    assert {c for c, v in zip(colours, values, strict=True) if v is not None and v < 0} == {
        "#2b6cb0"
    }


def test_proficiency_curves_are_steps_with_the_median_marked(page: str) -> None:
    spec = chart_specs(page)["chart-proficiency"]
    lines = [t for t in spec["data"] if t["mode"] == "lines"]
    medians = [
        t for t in spec["data"] if t["mode"] == "markers" and t["marker"]["symbol"] == "diamond"
    ]
    assert len(lines) == len(CAPABILITIES)
    assert all(t["line"]["shape"] == "hv" and t["x"][0] == 0 for t in lines)
    assert len(medians) == sum(1 for c in sample_report().curves if c.median_days is not None)
    assert all(m["y"] == [50] for m in medians)


def test_follow_through_is_a_grid_with_the_small_number_rules(page: str) -> None:
    follow = section(page, "follow-through")
    assert 'id="grid-follow-through"' in follow
    assert ">n&lt;5<" in follow  # South x Access & reimbursement: cohort 4
    assert "Development actions done" in follow


def test_freshness_table_shows_each_sources_last_complete_read(page: str) -> None:
    table = section(page, "freshness")
    assert "<td>crm</td><td>2026-11-01 05:31 UTC</td><td>2026-10-24</td>" in table
    assert '<td class="num">7 days</td><td>fresh</td>' in table
    assert '<td class="num">current</td>' in table


def test_definitions_and_notes_are_in_how_to_read_this(page: str) -> None:
    reading = Page(page).text_by_id["reading"]
    for term in (
        "Cohort and censoring",
        "Wilson 95% interval",
        "Small-number rules (5 / 10 / 30)",
        "Where to act, where it works",
        "Manager names",
    ):
        assert term in reading
    assert "The 90 days after a rep first completed" in reading
    assert "Capability 'Access & reimbursement' uses a 120-day window." in reading


def test_report_loads_nothing_from_the_network(page: str) -> None:
    """Issue 16 point 4 (deliver 6): no element, style or text the report writes points at
    another machine, and the policy forbids every fetch; the inlined library's own strings
    (XML namespaces, links in its error messages) are never fetched (the browser test)."""
    for tag, attributes in Page(page).elements:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            if name in attributes:
                assert attributes[name].startswith(("#", "data:")), (tag, attributes)
    own = without_library(page)
    assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", own, re.I)
    assert "@import" not in own
    assert "url(" not in own
    policy = next(
        a["content"]
        for t, a in Page(page).elements
        if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in policy
    assert "connect-src 'none'" in policy
    assert "Plotly.newPlot" in own
    assert "plotly.js (basic - minified)" in page  # the partial bundle, inlined


def test_report_shows_no_contact_details(page: str) -> None:
    assert not EMAIL.search(without_library(page))
    data = sample_report()
    data.managers.append(
        ManagerGroup("team X", "North", 12, 50.0, 2.0, 50.0, 0.0, 10.0, "directional", "a@b.com")
    )
    with pytest.raises(ValueError, match="e-mail address"):
        render_html(data)


def test_strings_from_the_data_cannot_inject_markup_or_script() -> None:
    data = sample_report()
    hostile = "</script><script>alert(1)</script><b onload=x>"
    data.notes.append(hostile)
    data.managers.append(
        ManagerGroup("team Z", "North", 40, 50.0, 2.0, 50.0, 0.1, 10.0, "comparable", hostile)
    )
    page = render_html(data)
    own = without_library(page)
    assert "<script>alert(1)" not in own
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in own  # the note, as text
    block = re.search(rf'id="{CHARTS_ELEMENT}">(.*?)</script>', page, re.S)
    assert block is not None
    assert "<" not in block.group(1)  # the JSON block cannot be closed from inside
    labels = chart_specs(page)["chart-leniency"]["data"][0]["y"]
    assert (
        "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;b onload=x&gt; · team Z · North"
        in labels
    )


def test_a_grid_with_every_cell_suppressed_says_so() -> None:
    data = ReportData("Adoption", date(2026, 10, 31), "2026-11-01T06:00:00+00:00", 90)
    data.heatmap = [cell(region, "Value story", 1, 4) for region in REGIONS]
    data.coverage = list(data.heatmap)
    page = render_html(data)
    adoption = section(page, "adoption")
    assert adoption.count('<td class="cell suppressed"') == 2 * len(REGIONS)
    assert "no cell is large enough to show a percentage" in adoption


def test_empty_report_says_there_is_nothing_to_show_instead_of_empty_charts() -> None:
    page = render_html(ReportData("Adoption", date(2026, 10, 31), "2026-11-01T06:00:00+00:00", 90))
    assert Page(page).charts() == []
    assert chart_specs(page) == {}
    assert "No cohort has closed its adoption window yet." in page
    assert "No sync has run yet." in page
    assert all(section in Page(page).ids for section in SECTIONS)


# -- in a real browser -------------------------------------------------------------------------

PROBE = """() => ({
  state: document.body.dataset.charts,
  charts: Array.from(document.querySelectorAll("[data-chart]")).map((div) => ({
  id: div.id,
  plotted: div.classList.contains("js-plotly-plot"),
  svgs: div.querySelectorAll(".main-svg").length,
  marks: div.querySelectorAll(".trace path, .point path, .textpoint text").length,
  text: Array.from(div.querySelectorAll("text")).map((t) => t.textContent).join(" "),
  height: div.getBoundingClientRect().height,
})),
  first: Array.from(document.querySelectorAll("main > section")).map((s) => s.id)[0],
  alert: !!document.querySelector("[role=alert]"),
})"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("build", "shot"),
    [
        (sample_report, SCREENSHOT),
        (stale_report, SCREENSHOT.with_name("adoption-report-stale.png")),
    ],
)
def test_report_draws_every_chart_in_headless_chromium_without_console_errors(
    tmp_path: Path, build: Any, shot: Path
) -> None:
    """Issue 16 point 4 (deliver 8): drawn in headless Chromium with a screenshot of each page."""
    require("Chromium", chromium_unavailable())
    report = tmp_path / "adoption.html"
    report.write_text(render_html(build()), encoding="utf-8")
    shot.unlink(missing_ok=True)

    visit = visit_page(
        report.as_uri(),
        ready="document.body.dataset.charts !== 'pending'",
        probe=PROBE,
        screenshot=shot,
    )

    assert visit.console_errors == []
    assert visit.page_errors == []
    assert visit.network == []
    assert visit.probe["state"] == "ready"
    charts = {chart["id"]: chart for chart in visit.probe["charts"]}
    assert set(charts) == CHART_IDS
    for chart_id, chart in charts.items():
        assert chart["plotted"], chart_id
        assert chart["svgs"] >= 1, chart_id
        assert chart["marks"] > 0, chart_id
        assert chart["height"] > 100, chart_id
    assert "Number at risk" in charts["chart-proficiency"]["text"]
    stale = build is stale_report
    assert visit.probe["alert"] is stale
    assert visit.probe["first"] == ("freshness" if stale else "act")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- issue 19 point 4: what training caused, rater calibration -----------------------------------


def _caused_report(**changes: Any) -> ReportData:
    data = sample_report()
    data.uplift = [
        UpliftRow("Objection handling", "comparable", 40, 55, 12.0, 7.0, 17.0, 19.0),
        UpliftRow("Needs discovery", "directional", 14, 50, 3.0, -4.0, 10.0, 9.0),
        UpliftRow("Value story", "counts-only", 7, 40, None, None, None, None),
        UpliftRow("Access & reimbursement", "suppressed", None, None, None, None, None, None),
    ]
    data.raters = [
        RaterInterval("Zoe North", "North", 14, "directional", 0.08, 0.03, 0.13),
        RaterInterval("Anna North", "North", 12, "directional", -0.01, -0.06, 0.04),
        RaterInterval("Ben South", "South", 7, "counts-only", None, None, None),
        RaterInterval("Cy South", "South", None, "suppressed", None, None, None),
        RaterInterval(
            "Di West", "West", 11, "directional", None, None, None, "not identifiable: alone"
        ),
    ]
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def test_uplift_section_draws_each_interval_against_zero_beside_the_naive_number() -> None:
    """Issue 19 point 4: per capability the uplift interval drawn against zero, the plain
    before/after beside it for contrast, and one plain sentence on what the number means."""
    caused = section(render_html(_caused_report()), "caused")
    rows = re.findall(r'<tr class="[^"]*">(.*?)</tr>', caused, re.S)
    assert len(rows) == 4
    first = rows[0]
    assert "+12.0" in first
    assert "+7.0 to +17.0" in first
    assert "+19.0" in first
    assert first.count("<svg") == 1
    assert "<path" in first
    text = html.unescape(re.sub(r"<[^>]+>", " ", caused))
    assert "Training raised the share of Objection handling ratings that are proficient by " "about 12 points" in text  # fmt: skip
    assert "A plain before/after would say +19 points" in text
    assert "No clear effect of training on Needs discovery" in text  # interval covers zero


def test_uplift_section_obeys_the_small_number_rule() -> None:
    """Issue 19 point 4: 5-9 trained reps show counts only, under 5 nothing; directional is
    marked; no interval is drawn for either."""
    caused = section(render_html(_caused_report()), "caused")
    rows = re.findall(r'<tr class="[^"]*">(.*?)</tr>', caused, re.S)
    assert "<svg" not in rows[2]
    assert "<svg" not in rows[3]
    assert ">7<" in rows[2]
    assert "n&lt;5" in rows[3]
    assert DIRECTIONAL_MARK in rows[1]
    text = html.unescape(re.sub(r"<[^>]+>", " ", caused))
    assert "7 trained reps were rated in their window: an estimate needs 10" in text
    assert "Fewer than 5 trained reps were rated in their window: not shown." in text


def test_rater_calibration_shows_intervals_by_region_and_name_never_ranked() -> None:
    """Issue 19 point 4: leniency as intervals, listed by region then name (not by leniency),
    withheld under the small-number rule, not-identifiable raters with their reason."""
    calibration = section(render_html(_caused_report()), "calibration")
    names = re.findall(r'<th scope="row">(.*?)</th>', calibration)
    assert names == ["Zoe North", "Anna North", "Ben South", "Cy South", "Di West"]  # as given
    rows = re.findall(r'<tr class="[^"]*">(.*?)</tr>', calibration, re.S)
    assert "+0.03 to +0.13" in rows[0]
    assert "<svg" in rows[0]
    assert "rates higher than the region" in rows[0]
    assert "in line with the region" in rows[1]
    assert "<svg" not in rows[2]
    assert "counts only" in rows[2]
    assert "n&lt;5" in rows[3]
    assert "not identifiable" in rows[4]


def test_without_the_uplift_library_the_report_says_so() -> None:
    """Issue 19 point 4: without the optional library the uplift and calibration sections
    and where it works say that uplift is not available (adoption alone decides)."""
    missing = "Uplift and rater calibration need the optional statistics library"
    page = render_html(_caused_report(uplift=[], raters=[], uplift_missing=missing))
    assert missing in section(page, "caused")
    assert missing in section(page, "calibration")
    assert "on adoption alone" in section(page, "works")
    assert "uplift interval sits above zero" in section(render_html(_caused_report()), "works")


# -- written section by section (issue 17: the adoption stage's memory flat to 50k) -------------


@pytest.mark.parametrize("make", [sample_report, stale_report])
def test_the_report_is_written_section_by_section_as_the_page_it_renders(
    make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page is written as its sections are made (never held whole: 6.4 MB of text at 50,000
    reps), and the file is exactly the page render_html returns, charts included."""
    from adoptloop.adoption.report import html as renderer
    from adoptloop.adoption.report.assemble import write_report

    data = make()
    expected = render_html(data)
    out = io.StringIO()
    written_before: list[str] = []
    coaching = renderer._coaching

    def watched(*args: Any) -> Iterable[str]:
        written_before.append(out.getvalue())
        return coaching(*args)

    monkeypatch.setattr(renderer, "_coaching", watched)
    renderer.write_html(data, out)
    assert out.getvalue() == expected
    (before,) = written_before  # the sections before coaching were written when it was made
    assert before.startswith("<!DOCTYPE html>")
    assert 'id="funnel"' in before
    assert 'id="coaching"' not in before
    assert CHARTS_ELEMENT not in before
    assert set(chart_specs(expected)) >= {"chart-funnel", "chart-coaching"}
    path = write_report(tmp_path / "out" / "adoption.html", data)
    assert path.read_bytes() == expected.encode("utf-8")


def test_the_rows_per_team_and_the_chart_specs_are_written_as_they_are_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 (the adoption stage's memory flat as the org grows): the tables with a row
    per team (coaching figures, rater calibration) and the charts' specs (a band per team)
    are written a row and a chart at a time, never held as one string; the page is the
    same."""
    from adoptloop.adoption.report import html as renderer
    from adoptloop.adoption.report import page, uplift_html

    data = _caused_report()
    expected = render_html(data)
    out = io.StringIO()
    seen: dict[str, list[str]] = {"team": [], "rater": [], "chart": []}
    pieces: list[str] = []

    def watch(module: Any, name: str, kind: str) -> None:
        made = getattr(module, name)

        def watched(*args: Any) -> str:
            seen[kind].append(out.getvalue())  # what was written before this piece was made
            piece = str(made(*args))
            pieces.append(piece)
            return piece

        monkeypatch.setattr(module, name, watched)

    watch(renderer, "_manager_row", "team")
    watch(uplift_html, "_rater_row", "rater")
    watch(page, "json_for_html", "chart")
    renderer.write_html(data, out)
    assert out.getvalue() == expected
    teams = re.findall(r'<tr class="[^"]*"><th scope="row">[^<]*</th><td>team ', expected)
    assert len(seen["team"]) == len(teams) == len(data.managers) > 2
    for i, before in enumerate(seen["team"]):  # every earlier team's row is in the file
        assert before.count('<th scope="row">') - seen["team"][0].count('<th scope="row">') == i
    raters = seen["rater"]
    assert len(raters) == len(data.raters) > 2
    assert raters[-1].count("<tr class=") - raters[0].count("<tr class=") == len(raters) - 1
    charts = [before for before in seen["chart"] if CHARTS_ELEMENT in before]
    assert len(charts) > 2 * len(chart_specs(expected)) > 2  # the specs in pieces
    assert len(charts[-1]) > len(charts[0])  # the first pieces were written before the last
    assert '"type":"bar"' in expected  # no chart's spec, nor a trace of one, made whole:
    assert not [p for p in pieces if '"data":' in p or '"type":"bar"' in p]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='ab<>&/\u2028\u2029"é–'),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(alphabet="a<&–", max_size=3), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=30,
)


@given(json_values)
def test_json_in_pieces_is_the_json_whole(value: Any) -> None:
    from adoptloop.adoption.report.page import json_for_html, json_parts_for_html

    assert "".join(json_parts_for_html(value)) == json_for_html(value)


def test_a_report_that_fails_while_written_leaves_the_last_one_and_no_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adoptloop.adoption.report import html as renderer
    from adoptloop.adoption.report.assemble import write_report

    path = write_report(tmp_path / "adoption.html", sample_report())
    last = path.read_bytes()

    def broken(*args: Any) -> str:
        raise RuntimeError("a section failed")

    monkeypatch.setattr(renderer, "_coaching", broken)
    with pytest.raises(RuntimeError, match="a section failed"):
        write_report(path, stale_report())
    assert path.read_bytes() == last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adoption.html"]
