"""The HTML adoption report: what it shows, what it withholds, and that it draws offline.

The renderer is tested on hand-built ReportData (the contract adoption.report.assemble fills); the
browser test opens the written file in Debian's headless Chromium from a file:// URL.
"""

# The report typesets ranges with en dashes (5 to 9 people); the tests look for them.
# ruff: noqa: RUF001

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from adoptloop.adoption.report.data import (
    Cell,
    FollowThrough,
    Freshness,
    FunnelStep,
    ManagerGroup,
    ProficiencyCurve,
    ReportData,
)
from adoptloop.adoption.report.html import render_html
from adoptloop.adoption.report.page import CHARTS_ELEMENT
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from tests.harness.browser import chromium_unavailable, visit_page
from tests.support import REPO, require

SCREENSHOT = REPO / "test-artifacts" / "adoption-report.png"
SECTIONS = (
    "freshness",
    "adoption",
    "funnel",
    "proficiency",
    "coaching",
    "follow-through",
    "reading",
)
CHART_IDS = {
    "chart-adoption",
    "chart-coverage",
    "chart-funnel",
    "chart-proficiency",
    "chart-coaching",
    "chart-leniency",
    "chart-follow-through",
}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
REGIONS = ("North", "South", "East", "West", "Central")
CAPABILITIES = ("Objection handling", "Needs discovery", "Access & reimbursement", "Value story")


# -- a realistic ReportData, filtered the way adoption.metrics filters it ---------------------


def cell(
    group: str, capability: str, numerator: int, denominator: int, *, flagged: bool = False
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
        flagged,
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

    return ProficiencyCurve(capability, days, shares, first(0.5), first(0.75), reps)


def sample_report() -> ReportData:
    heatmap = [
        cell(region, cap, adopted, cohort, flagged=(region, cap) == ("North", "Needs discovery"))
        for region, rows in GRID.items()
        for cap, (adopted, _, cohort) in zip(CAPABILITIES, rows, strict=True)
    ]
    coverage = [
        cell(region, cap, observed, cohort)
        for region, rows in GRID.items()
        for cap, (_, observed, cohort) in zip(CAPABILITIES, rows, strict=True)
    ]
    curves = [curve(cap, spread) for spread, cap in enumerate(CAPABILITIES)]
    managers = [
        ManagerGroup("Leeds & Bradford", "North", 12, 83.3, 2.5, 75.0, 0.21, 34.0, "directional"),
        ManagerGroup("Newcastle", "North", 31, 64.5, 4.0, 58.1, -0.12, 18.0, "comparable"),
        ManagerGroup("Bristol", "South", 14, 57.1, 6.5, 42.9, 0.44, 51.0, "directional"),
        ManagerGroup("Cornwall", "South", 3, None, None, None, None, None, "suppressed"),
        ManagerGroup("Norwich", "East", 7, None, None, None, None, None, "counts-only"),
        ManagerGroup("Cambridge", "East", 33, 90.9, 1.5, 87.9, -0.31, 12.0, "comparable"),
        ManagerGroup("Cardiff", "West", 18, 72.2, 3.0, 66.7, 0.05, 22.0, "directional"),
        ManagerGroup("Birmingham", "Central", 35, 77.1, 2.0, 80.0, -0.02, 20.0, "comparable"),
    ]
    return ReportData(
        title="Field adoption — EMEA specialty care",
        as_of=date(2026, 10, 31),
        generated_at="2026-11-01T06:15:00+00:00",
        window_days=90,
        heatmap=heatmap,
        coverage=coverage,
        funnel=[
            FunnelStep("Objection handling", 212, 137, 60, 24),
            FunnelStep("Needs discovery", 180, 121, 69, 31),
            FunnelStep("Access & reimbursement", 96, 60, 35, 9),
            FunnelStep("Value story", 205, 132, 70, 28),
        ],
        curves=curves,
        managers=managers,
        follow_through=[
            FollowThrough("North", 64, 51, 44, 79.7, 68.8, "comparable"),
            FollowThrough("South", 22, 15, 11, 68.2, 50.0, "directional"),
            FollowThrough("East", 8, 6, 4, None, None, "counts-only"),
            FollowThrough("West", 3, None, None, None, None, "suppressed"),
            FollowThrough("Central", 41, 30, 27, 73.2, 65.9, "comparable"),
        ],
        freshness=[
            Freshness("hris", "people", "2026-11-01T05:02:11+00:00", "2026-10-31"),
            Freshness("lms", "completions", "2026-11-01T05:10:40+00:00", "2026-10-30T17:45:00"),
            Freshness("crm", "coaching_visits", "2026-11-01T05:31:09+00:00", "2026-10-24"),
            Freshness("crm", "development_actions", None, None),
        ],
        notes=[
            "Capability 'Access & reimbursement' uses a 120-day window.",
            "Coaching coverage counts submitted visits only.",
        ],
    )


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
    """The page minus the inlined plotly.min.js, i.e. everything the report itself wrote."""
    return re.sub(r'<script id="plotly-js">.*?</script>', "", page, flags=re.S)


def heatmap_cell(spec: dict[str, Any], row: int, column: int) -> tuple[str, str]:
    """The label and hover text of one heatmap cell (the text trace is the last one)."""
    labels = spec["data"][-1]
    for x, y, text, hover in zip(
        labels["x"], labels["y"], labels["text"], labels["customdata"], strict=True
    ):
        if (x, y) == (column, row):
            return text, hover
    raise AssertionError(f"no cell at row {row}, column {column}")


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


# -- the renderer ------------------------------------------------------------------------------


def test_every_section_appears_once_in_reading_order(page: str) -> None:
    ids = Page(page).ids
    positions = [ids.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert all(ids.count(section) == 1 for section in SECTIONS)


def test_header_states_title_as_of_date_generated_time_and_a_reading_guide(page: str) -> None:
    assert "<h1>Field adoption — EMEA specialty care</h1>" in page
    assert "Data as of <strong>2026-10-31</strong>" in page
    assert "generated 2026-11-01 06:15 UTC" in page
    assert '<p class="guide">Read each figure as' in page


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


def test_chart_specs_are_valid_plotly_figures(page: str) -> None:
    for chart_id, spec in chart_specs(page).items():
        figure = go.Figure(data=spec["data"], layout=spec["layout"])  # raises on a bad property
        assert figure.data, chart_id


def test_suppressed_cells_are_hatched_and_say_why(page: str) -> None:
    specs = chart_specs(page)
    adoption = specs["chart-adoption"]
    # South x Access & reimbursement: a cohort of 4
    label, hover = heatmap_cell(adoption, row=1, column=2)
    assert label == "n&lt;5"
    assert "suppressed: fewer than 5 people in the cohort" in hover
    assert adoption["data"][0]["z"][1][2] is None
    hatched = adoption["data"][1]
    assert hatched["fillpattern"]["shape"] == "/"
    assert (2 - 0.47, 1 - 0.47) in set(zip(hatched["x"], hatched["y"], strict=True))
    assert re.search(
        r'<td class="cell suppressed" title="suppressed: fewer than 5 people in the cohort">n&lt;5',
        page,
    )


def test_counts_only_cells_show_counts_and_no_percentage(page: str) -> None:
    adoption = chart_specs(page)["chart-adoption"]
    # East x Objection handling: 3 of 7
    label, hover = heatmap_cell(adoption, row=2, column=0)
    assert label.startswith("3/7")
    assert "%" not in label
    assert "n=7" in label
    assert "counts only (5–9 people), no percentage" in hover
    assert adoption["data"][0]["z"][2][0] is None


def test_directional_cells_are_marked_and_the_mark_is_explained(page: str) -> None:
    adoption = chart_specs(page)["chart-adoption"]
    # South x Objection handling: 6 of 24
    label, hover = heatmap_cell(adoption, row=1, column=0)
    assert label.startswith("25%†")
    assert "directional (10–29 people)" in hover
    assert "95% CI" in hover
    comparable, _ = heatmap_cell(adoption, row=0, column=0)  # North: 21 of 52
    assert comparable.startswith("40%<br>")
    assert "directional: 10–29 people" in page


def test_a_flagged_cell_is_outlined(page: str) -> None:
    shapes = chart_specs(page)["chart-adoption"]["layout"]["shapes"]
    assert [(s["x0"], s["y0"]) for s in shapes] == [(1 - 0.49, 0 - 0.49)]
    assert 'class="cell comparable flagged"' in page


def test_observation_coverage_is_drawn_beside_adoption_on_the_same_scale(page: str) -> None:
    specs = chart_specs(page)
    for chart_id in ("chart-adoption", "chart-coverage"):
        heat = specs[chart_id]["data"][0]
        assert (heat["zmin"], heat["zmax"]) == (0, 100)
    ids = Page(page).ids
    assert ids.index("chart-coverage") == ids.index("chart-adoption") + 3  # title, chart, summary


def test_small_number_tally_counts_what_was_withheld(page: str) -> None:
    text = Page(page).text_by_id["small-numbers"]
    data = sample_report()
    tiers = [c.tier for c in (*data.heatmap, *data.coverage)]
    tiers += [m.tier for m in data.managers] + [f.tier for f in data.follow_through]
    assert f"{tiers.count('suppressed')} figures suppressed (n<5)" in text
    assert f"{tiers.count('counts-only')} counts only" in text
    assert f"{tiers.count('directional')} directional" in text


def test_teams_are_listed_by_region_and_territory_never_by_their_figures(page: str) -> None:
    specs = chart_specs(page)
    expected = sorted((m.region, m.team) for m in sample_report().managers)
    labels = [f"{team.replace('&', '&amp;')} · {region}" for region, team in expected]
    assert specs["chart-coaching"]["data"][0]["y"] == labels
    assert specs["chart-leniency"]["data"][0]["y"] == labels


def test_withheld_teams_show_why_instead_of_a_bar(page: str) -> None:
    notes = chart_specs(page)["chart-coaching"]["data"][-1]
    assert notes["mode"] == "text"
    assert sorted(t.strip() for t in notes["text"]) == ["n&lt;5, suppressed", "n=7, counts only"]


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


def test_freshness_table_shows_how_far_each_source_lags_the_as_of_date(page: str) -> None:
    table = page[page.index('id="freshness"') : page.index('id="adoption"')]
    assert "<td>coaching_visits</td><td>2026-11-01 05:31 UTC</td><td>2026-10-24</td>" in table
    assert '<td class="num">7 days</td>' in table
    assert '<td class="num">current</td>' in table
    assert "<td>never</td>" in table


def test_definitions_and_notes_are_in_how_to_read_this(page: str) -> None:
    reading = Page(page).text_by_id["reading"]
    for term in ("Cohort and censoring", "Wilson 95% interval", "Small-number rules (5 / 10 / 30)"):
        assert term in reading
    assert "The 90 days after a rep first completed" in reading
    assert "Capability 'Access & reimbursement' uses a 120-day window." in reading


def test_report_loads_nothing_from_the_network(page: str) -> None:
    for tag, attributes in Page(page).elements:
        for name in ("src", "href"):
            if name in attributes:
                assert attributes[name].startswith(("#", "data:")), (tag, attributes)
    own = without_library(page)
    assert not re.search(r"https?://", own)
    assert "@import" not in own
    policy = next(
        a["content"]
        for t, a in Page(page).elements
        if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in policy
    assert "connect-src 'none'" in policy
    assert "Plotly.newPlot" in own
    assert len(page) - len(own) > 1_000_000  # the library itself is inlined


def test_report_names_nobody(page: str) -> None:
    assert not EMAIL.search(without_library(page))
    data = sample_report()
    data.managers.append(
        ManagerGroup("jane.doe@example.com", "North", 12, 50.0, 2.0, 50.0, 0.0, 10.0, "directional")
    )
    with pytest.raises(ValueError, match="e-mail address"):
        render_html(data)


def test_strings_from_the_data_cannot_inject_markup_or_script() -> None:
    data = sample_report()
    hostile = "</script><script>alert(1)</script><b onload=x>"
    data.notes.append(hostile)
    data.managers.append(
        ManagerGroup(hostile, "North", 40, 50.0, 2.0, 50.0, 0.1, 10.0, "comparable")
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
        "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;b onload=x&gt; · North" in labels
    )


def test_a_heatmap_with_every_cell_suppressed_draws_hatching_and_says_so() -> None:
    data = ReportData("Adoption", date(2026, 10, 31), "2026-11-01T06:00:00+00:00", 90)
    data.heatmap = [cell(region, "Value story", 1, 4) for region in REGIONS]
    spec = chart_specs(render_html(data))["chart-adoption"]
    assert spec["data"][0]["z"] == [[None]] * len(REGIONS)
    assert spec["data"][-1]["text"] == ["n&lt;5"] * len(REGIONS)
    assert len(spec["data"][1]["x"]) == 6 * len(REGIONS)  # one hatched box per cell
    assert "no cell is large enough to show a percentage" in render_html(data)


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
  marks: div.querySelectorAll(".heatmaplayer image, .trace path, .point path, .textpoint text").length,
  patterns: div.querySelectorAll("pattern").length,
  text: Array.from(div.querySelectorAll("text")).map((t) => t.textContent).join(" "),
  height: div.getBoundingClientRect().height,
})),
})"""


@pytest.mark.slow
def test_report_draws_every_chart_in_headless_chromium_without_console_errors(
    tmp_path: Path,
) -> None:
    require("Chromium", chromium_unavailable())
    report = tmp_path / "adoption.html"
    report.write_text(render_html(sample_report()), encoding="utf-8")
    SCREENSHOT.unlink(missing_ok=True)

    visit = visit_page(
        report.as_uri(),
        ready="document.body.dataset.charts !== 'pending'",
        probe=PROBE,
        screenshot=SCREENSHOT,
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
    adoption = charts["chart-adoption"]
    assert adoption["patterns"] >= 1  # the suppressed cells' hatching
    for label in ("n<5", "3/7", "25%†"):
        assert label in adoption["text"]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
