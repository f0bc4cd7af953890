"""The self-contained HTML adoption report: one file that opens offline, for the sales and L&D
leaders who act on it.

Sections, in one column: header (as-of date, and in red any stale source), where to act and
where it works (report/actions.py), the adoption and observation-coverage heatmaps, the funnel
per capability (with adopted, sustained and regressed explained), time to proficiency with the
number at risk, coaching per manager's team, development-action follow-through, "How to read
this", and data freshness (at the top instead when a source is stale). The grids are HTML
tables (tables.py); the charts are Plotly specs (adoption_charts.py, coaching_charts.py); the
page around the sections, which inlines Plotly's basic bundle and draws them, is page.py.

Every string from the data is escaped. The figures arrive already small-number-filtered
(adoption.metrics, report/assemble.py); this module only shows them and says what was
withheld and why.
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from itertools import chain
from typing import TextIO

from adoptloop.adoption.report import adoption_charts, coaching_charts, page, tables, uplift_html
from adoptloop.adoption.report.actions import GAPS
from adoptloop.adoption.report.chartkit import DIRECTIONAL_MARK, Chart, pct, withheld
from adoptloop.adoption.report.data import Freshness, ManagerGroup, Opportunity, ReportData
from adoptloop.adoption.report.tables import e, grid, table, table_parts
from adoptloop.adoption.smallnumbers import Tier

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")

# One sentence each, wherever the words appear (funnel legend, tooltips, "How to read this").
STATES = {
    "adopted": "Adopted: rated proficient (at or above the capability's threshold) at least "
    "once after training.",
    "sustained": "Sustained: adopted, then rated proficient again 30–180 days later, so the "
    "skill has stuck.",
    "regressed": "Regressed: after adopting, the next two ratings were both below the "
    "threshold (a later proficient rating makes the rep adopted again).",
}


def _meaning(state: str) -> str:
    """STATES[state] without its "Word: " lead, as a sentence."""
    text = STATES[state].split(": ", 1)[1]
    return text[:1].upper() + text[1:]


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (about 1.3 MB, most of it Plotly's basic bundle)."""
    return "".join(html_parts(data))


def write_html(data: ReportData, out: TextIO) -> None:
    """The report written to `out` section by section: the page is never held whole (6.4 MB
    of text at 50,000 reps, held two or three times over while joined and encoded)."""
    for part in html_parts(data):
        out.write(part)


def html_parts(data: ReportData) -> Iterator[str]:
    """The report's HTML in pieces, each section made when the one before it is used: joined,
    the document render_html returns."""
    _refuse_contact_details(data)
    drawn: list[Chart] = []
    title = f"{data.title} — as of {data.as_of.isoformat()}"
    return page.document_parts(
        title=title,
        generator=f"adoptloop {_version()}",
        body=_body(data, drawn),
        charts=lambda: {chart.id: chart.spec for chart in drawn},
    )


def _body(data: ReportData, drawn: list[Chart]) -> Iterator[str]:
    """The sections, one line apart; `drawn` collects their charts as they are made. A section
    is its text, or its pieces (those with a row per team)."""
    stale = bool(data.stale)
    sections: tuple[Callable[[], str | Iterable[str]], ...] = (
        lambda: _header(data),
        lambda: _freshness(data) if stale else "",
        lambda: _where_to_act(data),
        lambda: _where_it_works(data),
        lambda: _section(*uplift_html.caused(data)),
        lambda: _adoption(data),
        lambda: _funnel(data, drawn),
        lambda: _proficiency(data, drawn),
        lambda: _coaching(data, drawn),
        lambda: _section_parts(*uplift_html.calibration(data)),
        lambda: _follow_through(data),
        lambda: _reading(data),
        lambda: "" if stale else _freshness(data),
        _footer,
    )
    for i, section in enumerate(sections):
        if i:
            yield "\n"
        made = section()
        if isinstance(made, str):
            yield made
        else:
            yield from made


def _refuse_contact_details(data: ReportData) -> None:
    """Labels are names, territories and regions; an e-mail address means contact data slipped in."""
    labels: list[str] = [data.title, *data.notes]
    cells = (*data.heatmap, *data.coverage, *data.follow_through)
    labels += [text for c in cells for text in (c.group, c.capability)]
    labels += [s.capability for s in data.funnel] + [c.capability for c in data.curves]
    labels += [text for m in data.managers for text in (m.team, m.region, m.manager)]
    labels += [text for r in data.raters for text in (r.manager, r.region)]
    labels += [text for f in data.freshness for text in (f.source, f.reason)]
    for label in labels:
        if _EMAIL.search(label):
            raise ValueError(
                f"report label {label!r} contains an e-mail address: the report names managers "
                "by display name or pseudonym, teams by territory and groups by region; fix the "
                "label in the metrics or the HR names"
            )


def _version() -> str:
    try:
        return version("adoptloop")
    except PackageNotFoundError:
        return "unknown"


def _tally(data: ReportData) -> dict[str, int]:
    tiers = [c.tier for c in (*data.heatmap, *data.coverage, *data.follow_through)]
    tiers += [m.tier for m in data.managers]
    return {t.value: sum(1 for x in tiers if x == t) for t in Tier}


def _header(data: ReportData) -> str:
    tally = _tally(data)
    w = data.window_days
    stale = data.stale
    alert = ""
    if stale:
        items = "".join(f"<li><b>{e(f.source)}</b>: {e(f.reason)}</li>" for f in stale)
        alert = (
            '<div class="stale" role="alert" id="stale"><strong>Stale data: the figures below '
            f"may be out of date.</strong><ul>{items}</ul>Fix the source and run again; see "
            '<a href="#freshness">Data freshness</a>.</div>'
        )
    nav = [
        ("act", "Where to act"),
        ("works", "Where it works"),
        ("caused", "What training caused"),
        ("adoption", "Adoption by region"),
        ("funnel", "Funnel"),
        ("proficiency", "Time to proficiency"),
        ("coaching", "Coaching by team"),
        ("calibration", "Rater calibration"),
        ("follow-through", "Follow-through"),
        ("reading", "How to read this"),
        ("freshness", "Data freshness"),
    ]
    if stale:
        nav.insert(0, nav.pop())
    links = "".join(f'<li><a href="#{a}">{e(t)}</a></li>' for a, t in nav)
    return f"""<header>
<h1>{e(data.title)}</h1>
<p class="meta">As of <strong>{data.as_of.isoformat()}</strong> · generated {e(_when(data.generated_at))} · adoption window {w} days</p>
{alert}
<p class="guide">Each figure: of the reps whose {w}-day window after training has closed by
{data.as_of.isoformat()}, how many were seen, and seen proficient, in the field. Groups under 5
people are hidden, <span class="nowrap">5–9</span> show counts only, {DIRECTIONAL_MARK} marks a
directional figure from <span class="nowrap">10–29</span> people. No rep is named or ranked.</p>
<p class="tally" id="small-numbers">Small-number rules applied in this report:
{tally[Tier.SUPPRESSED]} suppressed (n&lt;5), {tally[Tier.COUNTS_ONLY]} counts only,
{tally[Tier.DIRECTIONAL]} directional ({DIRECTIONAL_MARK}), {tally[Tier.COMPARABLE]} comparable.</p>
<nav aria-label="Sections"><ol>{links}</ol></nav>
</header>"""


def _section(anchor: str, heading: str, lede: str, content: str, extra: str = "") -> str:
    return "".join(_section_parts(anchor, heading, lede, [content], extra))


def _section_parts(
    anchor: str, heading: str, lede: str, content: Iterable[str], extra: str = ""
) -> Iterator[str]:
    """`_section` in pieces: its head, the pieces of `content`, its end."""
    yield f"""<section id="{anchor}" aria-labelledby="{anchor}-h"{extra}>
<h2 id="{anchor}-h">{e(heading)}</h2>
<p class="lede">{lede}</p>
"""
    yield from content
    yield "\n</section>"


def _figure(chart: Chart | None, drawn: list[Chart], extra: str = "", empty: str = "") -> str:
    if chart is None:
        return f'<p class="empty">{e(empty)}</p>'
    drawn.append(chart)
    return f"""<figure class="chart-figure">
<figcaption id="{chart.id}-title">{e(chart.title)}</figcaption>
<div id="{chart.id}" class="chart" data-chart role="img" aria-label="{e(chart.title)}" aria-describedby="{chart.id}-summary"></div>
<p class="summary" id="{chart.id}-summary">{e(chart.summary)}</p>
{extra}
</figure>"""


def _when(stamp: str | None, missing: str = "–") -> str:
    if not stamp:
        return missing
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if len(stamp) <= 10:
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        return parsed.strftime("%Y-%m-%d %H:%M")
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _behind(as_of: date, newest: str | None) -> str:
    if not newest:
        return "no records"
    try:
        seen = date.fromisoformat(newest[:10])
    except ValueError:
        return ""
    days = (as_of - seen).days
    if days < 0:
        return "after the as-of date"
    return "current" if days == 0 else f"{days} day{'s' if days != 1 else ''}"


# -- the answers first ----------------------------------------------------------------------------

_RULE = (
    "A region × capability is listed when its whole adoption interval (Wilson 95%) sits "
    "below the org's adoption for that capability; only groups of 10 or more reps are judged "
    f"({DIRECTIONAL_MARK}: 10–29, directional). What to do next follows one rule: "
    "<b>coverage gap</b> when reps were not observed (coverage is further below the org's "
    "than adoption among the observed), else <b>follow-through gap</b> when development actions "
    "were done less often than the org's, else <b>adoption gap</b>: observed but not proficient."
)


def _where_to_act(data: ReportData) -> str:
    if data.where_to_act:
        items = "".join(_opportunity(o) for o in data.where_to_act)
        content = f'<ol class="cards">{items}</ol>'
    else:
        content = (
            '<p class="empty">No region sits clearly below the org on any capability: no '
            "interval of a group of 10 or more reps is entirely below the org's figure.</p>"
        )
    return _section("act", "Where to act", _RULE, content)


def _where_it_works(data: ReportData) -> str:
    lede = (
        "Success cases others can learn from: a region × capability whose whole adoption "
        "interval sits above the org's (groups of 10 or more reps; "
        f"{DIRECTIONAL_MARK}: 10–29, directional)"
        + (
            f", on adoption alone: {e(data.uplift_missing)} "
            if data.uplift_missing
            else ", for a capability whose uplift interval sits above zero (What training caused). "
        )
        + e(STATES["adopted"])
    )
    if data.where_it_works:
        items = "".join(_opportunity(o) for o in data.where_it_works)
        content = f'<ol class="cards">{items}</ol>'
    else:
        content = '<p class="empty">No region sits clearly above the org on any capability yet.</p>'
    return _section("works", "Where it works", lede, content)


def _opportunity(o: Opportunity) -> str:
    directional = o.tier == Tier.DIRECTIONAL
    kind = o.gap or "works"
    label = GAPS.get(o.gap, "Works")
    evidence = [
        f"observation coverage {pct(o.coverage)} (org {pct(o.org_coverage)})",
        f"adopted among the observed {pct(o.adoption_observed)} "
        f"(org {pct(o.org_adoption_observed)})",
    ]
    if o.follow_through is not None:
        evidence.append(
            f"development actions done {pct(o.follow_through)} (org {pct(o.org_follow_through)})"
        )
    return (
        f'<li class="card {e(kind)}"><h3>{e(o.group)} · {e(o.capability)}'
        f'<span class="badge">{e(label)}</span></h3>'
        f'<p class="headline"><b>{e(pct(o.adoption, directional=directional))}</b> adopted '
        f"(95% CI {o.ci_low:.0f}–{o.ci_high:.0f}%; {o.adopted} of {o.cohort} reps) against "
        f"<b>{e(pct(o.org_adoption))}</b> for the org.</p>"
        f'<p class="evidence">{e("; ".join(evidence))}.</p>'
        f'<p class="next"><b>Next:</b> {e(o.next_step)}</p></li>'
    )


# -- the detail -------------------------------------------------------------------------------

_KEY = f"""<ul class="key" aria-label="How cells are marked">
<li><span class="swatch scale"></span>share, 0–100%: darker is higher</li>
<li><span class="swatch hatched"></span><b>n&lt;5</b> suppressed: fewer than 5 people</li>
<li><span class="swatch counts"></span><b>3/7</b> counts only: 5–9 people, no percentage</li>
<li><span class="mark">{DIRECTIONAL_MARK}</span>directional: 10–29 people, read the interval</li>
<li><span class="swatch below">▼</span>whole 95% interval below the org's figure</li>
<li><span class="swatch above">▲</span>whole 95% interval above the org's figure</li>
</ul>"""


def _adoption(data: ReportData) -> str:
    w = data.window_days
    lede = (
        f"<b>Adoption (cohort)</b>: reps rated proficient within {w} days of training, over every "
        "rep whose window has closed. Read it beside <b>observation coverage</b>: low adoption "
        "with low coverage means the field was not observed, not that the skill is missing. "
        "Hover a cell for its counts and interval."
    )
    if not data.heatmap:
        content = '<p class="empty">No cohort has closed its adoption window yet.</p>'
    else:
        content = (
            "<h3>Adoption (cohort) by region and capability</h3>"
            + grid("grid-adoption", "Adoption (cohort)", data.heatmap)
            + f'<p class="summary">{e(tables.summary("Adoption (cohort)", data.heatmap))}</p>'
            + _KEY
            + "<h3>Observation coverage by region and capability</h3>"
            + grid("grid-coverage", "Observation coverage", data.coverage)
            + f'<p class="summary">{e(tables.summary("Observation coverage", data.coverage))}</p>'
        )
    return _section("adoption", "Adoption by region and capability", lede, content)


def _funnel(data: ReportData, drawn: list[Chart]) -> str:
    lede = (
        "For each capability: reps whose window closed, observed in their window, adopted in "
        "their window, and sustained on the as-of date. The label after each bar is its share "
        "of those trained (counts only below 10 reps)."
    )
    states = "".join(
        f"<div><dt>{e(word)}</dt><dd>{e(_meaning(word))}</dd></div>" for word in STATES
    )
    legend = f'<dl class="states" aria-label="What the states mean">{states}</dl>'
    chart = adoption_charts.funnel("chart-funnel", data.funnel)
    content = _figure(chart, drawn, legend, empty="No capability has trained reps yet.")
    if data.funnel:
        rows = "".join(
            f'<tr><th scope="row">{e(s.capability)}</th><td class="num">{s.trained}</td>'
            f'<td class="num">{s.observed}</td><td class="num">{s.proficient}</td>'
            f'<td class="num">{s.sustained}</td><td class="num">{s.regressed}</td></tr>'
            for s in data.funnel
        )
        head = [
            ("Capability", False),
            ("Window closed", True),
            ("Observed", True),
            ("Adopted", True),
            ("Sustained", True),
            ("Regressed", True),
        ]
        titles = ["", "", "", STATES["adopted"], STATES["sustained"], STATES["regressed"]]
        content += (
            "<details><summary>Show as a table</summary>"
            + table(head, [rows], "Reps per state", titles)
            + "</details>"
        )
    return _section("funnel", "From training to sustained use", lede, content)


def _proficiency(data: ReportData, drawn: list[Chart]) -> str:
    lede = (
        "Share of trained reps rated proficient by each day after training (Kaplan–Meier: reps "
        "not yet proficient count until the as-of date, then drop out rather than count as "
        "failures). ◆ marks the median day, ◇ the day 75% were proficient. Under the axis: "
        "the number of reps still at risk on each tick day; the curve's right end rests on few."
    )
    chart = adoption_charts.proficiency("chart-proficiency", data.curves, data.window_days)
    extra = ""
    ticks = sorted({day for c in data.curves for day, _ in c.at_risk})
    if ticks:
        rows = []
        for c in data.curves:
            counts = dict(c.at_risk)
            tds = "".join(
                f'<td class="num">{e(_risk(counts[t]) if t in counts else "")}</td>' for t in ticks
            )
            rows.append(f'<tr><th scope="row">{e(c.capability)}</th>{tds}</tr>')
        head = [("Capability", False), *((f"day {t}", True) for t in ticks)]
        extra = (
            "<details><summary>Number at risk as a table</summary>"
            + table(head, rows, "Reps at risk (not yet proficient, still followed)")
            + "</details>"
        )
    return _section(
        "proficiency",
        "Time to proficiency",
        lede,
        _figure(chart, drawn, extra, empty="No capability has 10 or more trained reps yet."),
    )


def _risk(n: int | None) -> str:
    return "<5" if n is None else str(n)


def _coaching(data: ReportData, drawn: list[Chart]) -> Iterator[str]:
    """The coaching section in pieces: its charts (drawn now), then its table row by row."""
    lede = (
        "Coaching by first-line manager's team. Teams are listed by region and territory, "
        "never ranked, and no rep appears. The team's eligible reps decide what is shown: "
        "coverage, timeliness and rater statistics only from 10 reps (and leniency only when "
        "the region's other teams have 10 too)."
    )
    coverage = coaching_charts.coaching("chart-coaching", data.managers)
    content = _figure(coverage, drawn, empty="No coaching data for this period.")
    if any(g.leniency is not None for g in data.managers):
        content += _figure(coaching_charts.leniency("chart-leniency", data.managers), drawn)
    elif data.managers:
        content += (
            '<p class="empty">Rater leniency: no team (with its region\'s other teams) is large '
            "enough to show it; it needs 10 eligible reps.</p>"
        )
    teams = _managers_table(data.managers) if data.managers else ()
    heading = "Coaching coverage, timeliness and rater leniency"
    return _section_parts("coaching", heading, lede, chain([content], teams))


def _value(value: float | None, tier: str, *, percent: bool = True, digits: int = 0) -> str:
    if value is None:
        return "–"
    if percent:
        return pct(value, directional=tier == Tier.DIRECTIONAL)
    return f"{value:.{digits}f}"


def _managers_table(groups: Sequence[ManagerGroup]) -> Iterator[str]:
    """The coaching figures by team, in pieces: a row per team, made as it is written."""
    return table_parts(
        _MANAGERS_HEAD,
        map(_manager_row, coaching_charts.ordered_teams(groups)),
        "Coaching figures by team",
    )


def _manager_row(g: ManagerGroup) -> str:
    hidden = g.tier in (Tier.SUPPRESSED, Tier.COUNTS_ONLY)
    status = withheld(g.tier, g.eligible_reps) if hidden else g.tier
    eligible = "n<5" if g.tier == Tier.SUPPRESSED else _count(g.eligible_reps)
    lenient = "–" if g.leniency is None else f"{g.leniency:+.2f}"
    return (
        f'<tr class="{e(g.tier)}"><th scope="row">{e(g.manager)}</th><td>{e(g.team)}</td>'
        f'<td>{e(g.region)}</td><td class="num">{e(eligible)}</td>'
        f'<td class="num">{e(_coverage(g))}</td>'
        f'<td class="num">{e(_value(g.median_days_to_submit, g.tier, percent=False, digits=1))}</td>'
        f'<td class="num">{e(_value(g.submitted_within_5_business_days, g.tier))}</td>'
        f'<td class="num">{e(lenient)}</td>'
        f'<td class="num">{e(_value(g.top_box_share, g.tier))}</td><td>{e(status)}</td></tr>'
    )


_MANAGERS_HEAD = (
    ("Manager", False),
    ("Team (territory)", False),
    ("Region", False),
    ("Eligible reps", True),
    ("Coaching coverage", True),
    ("Median days to submit", True),
    ("Within 5 business days", True),
    ("Rater leniency", True),
    ("Top-box share", True),
    ("Small numbers", False),
)


def _coverage(g: ManagerGroup) -> str:
    if g.coaching_coverage is None and g.tier == Tier.COUNTS_ONLY and g.coached is not None:
        return f"{g.coached}/{g.eligible_reps}"
    return _value(g.coaching_coverage, g.tier)


def _count(value: int | None) -> str:
    return "–" if value is None else str(value)


def _follow_through(data: ReportData) -> str:
    lede = (
        "Development actions agreed in coaching and due in the 90 days to the as-of date: the "
        "share done, by region and capability (the row's cohort decides what is shown, as "
        "everywhere in this report)."
    )
    if not any(c.denominator for c in data.follow_through):
        content = '<p class="empty">No development actions were due in the period.</p>'
    else:
        cells = data.follow_through
        content = grid("grid-follow-through", "Development actions done", cells) + (
            f'<p class="summary">{e(tables.summary("Development actions done", cells))}</p>'
        )
    return _section("follow-through", "Development-action follow-through", lede, content)


def _freshness(data: ReportData) -> str:
    stale = bool(data.stale)
    lede = (
        "Each source's last complete read and the newest record it gave. A source is stale when "
        f"its last complete read is older than {data.stale_after_days} days or its latest read "
        "stopped early; a source that lags the as-of date makes the figures that depend on it "
        "look lower than they are."
    )
    if not data.freshness:
        content = '<p class="empty">No sync has run yet.</p>'
    else:
        rows = [_freshness_row(data.as_of, f) for f in data.freshness]
        head = [
            ("Source", False),
            ("Last complete read", False),
            ("Newest record", False),
            ("Behind the as-of date", True),
            ("Status", False),
        ]
        content = table(head, rows)
    extra = ' class="alert"' if stale else ""
    return _section("freshness", "Data freshness", lede, content, extra)


def _freshness_row(as_of: date, f: Freshness) -> str:
    status = f"stale: {f.reason}" if f.stale else "fresh"
    return (
        f'<tr class="{"stale" if f.stale else "fresh"}"><td>{e(f.source)}</td>'
        f"<td>{e(_when(f.last_complete, 'never'))}</td><td>{e(_when(f.newest_record))}</td>"
        f'<td class="num">{e(_behind(as_of, f.newest_record))}</td><td>{e(status)}</td></tr>'
    )


def _reading(data: ReportData) -> str:
    w = data.window_days
    d = data.as_of.isoformat()
    terms = [
        (
            "As-of date",
            f"{d}. Every window is counted on local visit dates; nothing after {d} counts.",
        ),
        (
            "Adoption window",
            f"The {w} days after a rep first completed (or passed) a module mapped to the "
            "capability: the training day itself is excluded, the last day included. Failed "
            "completions never start the clock. Some capabilities may set their own window.",
        ),
        (
            "Cohort and censoring",
            f"A rep counts in the cohort only once their whole window has passed by {d}; reps "
            "still inside their window are not judged yet and appear in no rate. Outcomes belong "
            "to the group the rep was in when the window closed.",
        ),
        (
            "Observation coverage",
            "Cohort reps with at least one rating on the capability in their window, over the cohort.",
        ),
        (
            "Adoption (cohort)",
            "Cohort reps with a rating at or above the capability's proficiency threshold in "
            "their window, over the cohort. Only ratings on submitted coaching visits count.",
        ),
        ("Adopted", _meaning("adopted")),
        ("Sustained", _meaning("sustained")),
        ("Regressed", _meaning("regressed")),
        (
            "Time to proficiency",
            "Kaplan–Meier over every rep trained by the as-of date: a rep not yet proficient is "
            "censored at the as-of date. The median is the first day half were proficient; "
            "'not reached' means fewer than half so far. The number at risk on a day counts "
            "the reps neither proficient nor censored before it (<5 when fewer than 5).",
        ),
        (
            "Wilson 95% interval",
            "The range a percentage could plausibly take given how few people it rests on; the "
            "Wilson method stays sensible near 0% and 100%. A cell marked ▼ (▲) has its whole "
            "interval below (above) the org's figure: a difference unlikely to be chance alone.",
        ),
        (
            "Where to act, where it works",
            "Regions whose whole adoption (cohort) interval sits below (above) the org's, from "
            "groups of 10 reps or more. Next step: coverage gap when coverage is further below "
            "the org's than adoption among the observed (relative to the org's); otherwise "
            "follow-through gap when the group's development actions were done less often "
            "than the org's; otherwise adoption gap (observed, not proficient).",
        ),
        (
            "Small-number rules (5 / 10 / 30)",
            f"A group under 5 people is suppressed (n<5); 5–9 shows counts only; 10–29 shows a "
            f"percentage with its interval, marked {DIRECTIONAL_MARK} directional; 30 or more is "
            "comparable. A row's tier is decided by its cohort size. Individual reps are never "
            "ranked or named.",
        ),
        (
            "Coaching coverage",
            "Eligible reps (field role, employed at least half the window) with at least one "
            f"submitted coaching visit in the 90 days to {d}, over eligible reps.",
        ),
        (
            "Report timeliness",
            "Median days from visit to submission, and the share submitted within 5 business days.",
        ),
        (
            "Rater leniency",
            "A manager's mean scaled rating minus the mean of the other raters in the region over "
            "the same period (0 = rates like peers); top-box share is the share of top ratings. "
            "Shown only for teams of 10 eligible reps or more whose region's other teams have "
            "10 or more too.",
        ),
        (
            "Action follow-through",
            "Development actions due in the 90 days to the as-of date and done, over actions "
            "due, per region and capability as the adoption table counts them.",
        ),
        (
            "Manager names",
            "Managers are shown by their HR display name, or, with adoption.report.show_names "
            "set to false, by the first 12 characters of the actor pseudonym their statements "
            "carry.",
        ),
    ]
    items = "".join(f"<dt>{e(t)}</dt><dd>{e(text)}</dd>" for t, text in terms)
    notes = "".join(f"<li>{e(n)}</li>" for n in data.notes)
    notes_html = f'<h3>Notes on this report</h3><ul class="notes">{notes}</ul>' if notes else ""
    content = f'<dl class="defs">{items}</dl>{notes_html}'
    return _section(
        "reading", "How to read this", "Definitions used throughout this report.", content
    )


def _footer() -> str:
    return (
        f"<footer>adoptloop {e(_version())} · figures computed from the adoptloop store; "
        "no individual rep is ranked or named in this report.</footer>"
    )
