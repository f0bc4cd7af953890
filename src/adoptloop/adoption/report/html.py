"""The self-contained HTML adoption report: one file that opens offline, for L&D and sales leaders.

Sections, in one column: header (as-of date, generated time, reading guide, small-number
tally), data freshness per source, the adoption and observation-coverage heatmaps, the funnel
per capability, time to proficiency, coaching per team, development-action follow-through,
and "How to read this". The charts are Plotly specs (adoption_charts.py, coaching_charts.py);
the page around the sections, which inlines Plotly and draws them offline, is page.py.

Every string from the data is escaped. The figures arrive already small-number-filtered
(adoption.metrics, report/assemble.py); this module only shows them and says what was
withheld and why.
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version

from adoptloop.adoption.report import adoption_charts, coaching_charts, page
from adoptloop.adoption.report.chartkit import (
    DIRECTIONAL_MARK,
    Chart,
    cell_view,
    interval,
    pct,
    withheld,
)
from adoptloop.adoption.report.data import (
    Cell,
    FollowThrough,
    Freshness,
    ManagerGroup,
    ReportData,
)
from adoptloop.adoption.smallnumbers import Tier

_NUM = ' class="num"'
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (about 5 MB, most of it plotly.min.js)."""
    _refuse_contact_details(data)
    drawn: list[Chart] = []
    body = "\n".join(
        [
            _header(data),
            _freshness(data),
            _adoption(data, drawn),
            _funnel(data, drawn),
            _proficiency(data, drawn),
            _coaching(data, drawn),
            _follow_through(data, drawn),
            _reading(data),
            _footer(),
        ]
    )
    specs = {chart.id: chart.spec for chart in drawn}
    title = f"{data.title} — as of {data.as_of.isoformat()}"
    return page.document(title=title, generator=f"adoptloop {_version()}", body=body, charts=specs)


def _refuse_contact_details(data: ReportData) -> None:
    """Labels are territories and regions; an e-mail address means a person slipped through."""
    labels: list[str] = [data.title, *data.notes]
    labels += [text for c in (*data.heatmap, *data.coverage) for text in (c.group, c.capability)]
    labels += [s.capability for s in data.funnel] + [c.capability for c in data.curves]
    labels += [text for m in data.managers for text in (m.team, m.region)]
    labels += [f.group for f in data.follow_through]
    labels += [text for f in data.freshness for text in (f.source, f.stream)]
    for label in labels:
        if _EMAIL.search(label):
            raise ValueError(
                f"report label {label!r} contains an e-mail address: the report names teams by "
                "territory and groups by region, never a person; fix the label in the metrics"
            )


def _version() -> str:
    try:
        return version("adoptloop")
    except PackageNotFoundError:
        return "unknown"


def _tally(data: ReportData) -> dict[str, int]:
    tiers = [c.tier for c in (*data.heatmap, *data.coverage)]
    tiers += [m.tier for m in data.managers] + [f.tier for f in data.follow_through]
    return {t.value: sum(1 for x in tiers if x == t) for t in Tier}


def _header(data: ReportData) -> str:
    tally = _tally(data)
    w = data.window_days
    return f"""<header>
<h1>{e(data.title)}</h1>
<p class="meta">Data as of <strong>{data.as_of.isoformat()}</strong> · generated {e(_when(data.generated_at))} · adoption window {w} days</p>
<p class="guide">Read each figure as: of the reps whose {w}-day window after training has closed
by {data.as_of.isoformat()}, how many were seen — and seen proficient — in the field. Groups
under 5 people are hidden, <span class="nowrap">5–9</span> show counts only, and
{DIRECTIONAL_MARK} marks a directional figure from <span class="nowrap">10–29</span> people.</p>
<p class="tally" id="small-numbers">Small-number rules applied in this report:
{tally[Tier.SUPPRESSED]} figures suppressed (n&lt;5), {tally[Tier.COUNTS_ONLY]} counts only,
{tally[Tier.DIRECTIONAL]} directional ({DIRECTIONAL_MARK}), {tally[Tier.COMPARABLE]} comparable.</p>
<nav aria-label="Sections"><ol>
<li><a href="#freshness">Data as of</a></li>
<li><a href="#adoption">Adoption by region</a></li>
<li><a href="#funnel">Funnel</a></li>
<li><a href="#proficiency">Time to proficiency</a></li>
<li><a href="#coaching">Coaching by team</a></li>
<li><a href="#follow-through">Follow-through</a></li>
<li><a href="#reading">How to read this</a></li>
</ol></nav>
</header>"""


def _section(anchor: str, heading: str, lede: str, content: str) -> str:
    return f"""<section id="{anchor}" aria-labelledby="{anchor}-h">
<h2 id="{anchor}-h">{e(heading)}</h2>
<p class="lede">{lede}</p>
{content}
</section>"""


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


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[str], caption: str = "") -> str:
    cols = "".join(f'<th scope="col"{_NUM if num else ""}>{e(h)}</th>' for h, num in head)
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return f'<div class="table-wrap"><table>{cap}<thead><tr>{cols}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _when(stamp: str | None, missing: str = "–") -> str:
    if not stamp:
        return missing
    try:
        parsed = datetime.fromisoformat(stamp)
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


def _freshness(data: ReportData) -> str:
    lede = (
        "When each source was last synced and the newest record it held. A source that lags "
        "the as-of date makes the figures that depend on it look lower than they are."
    )
    if not data.freshness:
        return _section(
            "freshness", "Data as of", lede, '<p class="empty">No sync has run yet.</p>'
        )
    rows = [_freshness_row(data.as_of, f) for f in data.freshness]
    head = [
        ("Source", False),
        ("Stream", False),
        ("Last synced", False),
        ("Newest record", False),
        ("Behind the as-of date", True),
    ]
    return _section("freshness", "Data as of", lede, _table(head, rows))


def _freshness_row(as_of: date, f: Freshness) -> str:
    return (
        f"<tr><td>{e(f.source)}</td><td>{e(f.stream)}</td><td>{e(_when(f.last_synced, 'never'))}</td>"
        f'<td>{e(_when(f.newest_record))}</td><td class="num">{e(_behind(as_of, f.newest_record))}</td></tr>'
    )


_KEY = f"""<ul class="key" aria-label="How cells are marked">
<li><span class="swatch scale"></span>share of the cohort, 0–100%: darker is higher</li>
<li><span class="swatch hatched"></span><b>n&lt;5</b> suppressed: fewer than 5 people</li>
<li><span class="swatch counts"></span><b>3/7</b> counts only: 5–9 people, no percentage</li>
<li><span class="mark">{DIRECTIONAL_MARK}</span>directional: 10–29 people, read the interval</li>
<li><span class="swatch outlined"></span>outlined: the 95% interval excludes the overall figure</li>
</ul>"""


def _grid_table(cells: Sequence[Cell]) -> str:
    groups = list(dict.fromkeys(c.group for c in cells))
    capabilities = list(dict.fromkeys(c.capability for c in cells))
    grid = {(c.group, c.capability): c for c in cells}
    rows = []
    for group in groups:
        tds = []
        for capability in capabilities:
            view = cell_view(grid.get((group, capability)))
            cell = grid.get((group, capability))
            note = {
                "suppressed": "suppressed",
                "counts-only": "counts only",
                "missing": "",
            }.get(view.kind, interval(cell.ci_low, cell.ci_high) if cell else "")
            classes = f"cell {view.kind}" + (" flagged" if view.flagged else "")
            tds.append(
                f'<td class="{classes}" title="{e(view.detail)}">{e(view.figure)}'
                f'<span class="small">{e(note)}</span></td>'
            )
        rows.append(f'<tr><th scope="row">{e(group)}</th>{"".join(tds)}</tr>')
    head = [("Region", False), *((c, False) for c in capabilities)]
    table = _table(head, rows)
    return f"<details><summary>Show as a table</summary>{table}</details>"


def _adoption(data: ReportData, drawn: list[Chart]) -> str:
    w = data.window_days
    lede = (
        f"<b>Adoption (cohort)</b>: reps rated proficient within {w} days of training, over every "
        "rep whose window has closed. Read it beside <b>observation coverage</b>: low adoption "
        "with low coverage means the field was not observed, not that the skill is missing."
    )
    adoption = adoption_charts.heatmap(
        "chart-adoption",
        "Adoption (cohort) by region and capability",
        "Adoption (cohort)",
        data.heatmap,
    )
    coverage = adoption_charts.heatmap(
        "chart-coverage",
        "Observation coverage by region and capability",
        "Observation coverage",
        data.coverage,
    )
    content = _figure(
        adoption,
        drawn,
        _KEY + (_grid_table(data.heatmap) if data.heatmap else ""),
        "No cohort has closed its adoption window yet.",
    ) + _figure(
        coverage,
        drawn,
        _grid_table(data.coverage) if data.coverage else "",
        "No observation coverage to show yet.",
    )
    return _section("adoption", "Adoption by region and capability", lede, content)


def _funnel(data: ReportData, drawn: list[Chart]) -> str:
    lede = (
        "For each capability: reps trained, observed in their window, proficient in their "
        "window, and sustained (a second proficient rating 30–180 days after the first). The "
        "label after each bar is its share of those trained."
    )
    chart = adoption_charts.funnel("chart-funnel", data.funnel)
    return _section(
        "funnel",
        "From training to sustained use",
        lede,
        _figure(chart, drawn, empty="No capability has trained reps yet."),
    )


def _proficiency(data: ReportData, drawn: list[Chart]) -> str:
    lede = (
        "Share of trained reps rated proficient by each day after training (Kaplan–Meier: reps "
        "not yet proficient count until the as-of date, then drop out rather than count as "
        "failures). ◆ marks the median day, ◇ the day 75% were proficient."
    )
    chart = adoption_charts.proficiency("chart-proficiency", data.curves, data.window_days)
    return _section(
        "proficiency",
        "Time to proficiency",
        lede,
        _figure(chart, drawn, empty="No reps trained yet."),
    )


def _coaching(data: ReportData, drawn: list[Chart]) -> str:
    lede = (
        "Coaching by first-line manager's team, labelled by territory. Teams are listed by region "
        "and territory, never ranked, and no individual rep appears."
    )
    coverage = coaching_charts.coaching("chart-coaching", data.managers)
    lenient = coaching_charts.leniency("chart-leniency", data.managers)
    content = _figure(coverage, drawn, empty="No coaching data for this period.")
    if lenient is not None:
        content += _figure(lenient, drawn)
    if data.managers:
        content += _managers_table(data.managers)
    return _section("coaching", "Coaching coverage, timeliness and rater leniency", lede, content)


def _value(value: float | None, tier: str, *, percent: bool = True, digits: int = 0) -> str:
    if value is None:
        return "–"
    if percent:
        return pct(value, directional=tier == Tier.DIRECTIONAL)
    return f"{value:.{digits}f}"


def _managers_table(groups: Sequence[ManagerGroup]) -> str:
    rows = []
    for g in coaching_charts.ordered_teams(groups):
        hidden = g.tier in (Tier.SUPPRESSED, Tier.COUNTS_ONLY)
        status = withheld(g.tier, g.eligible_reps) if hidden else g.tier
        eligible = "n<5" if g.tier == Tier.SUPPRESSED else _count(g.eligible_reps)
        lenient = "–" if g.leniency is None else f"{g.leniency:+.2f}"
        rows.append(
            f'<tr class="{e(g.tier)}"><th scope="row">{e(g.team)}</th><td>{e(g.region)}</td>'
            f'<td class="num">{e(eligible)}</td>'
            f'<td class="num">{e(_value(g.coaching_coverage, g.tier))}</td>'
            f'<td class="num">{e(_value(g.median_days_to_submit, g.tier, percent=False, digits=1))}</td>'
            f'<td class="num">{e(_value(g.submitted_within_5_business_days, g.tier))}</td>'
            f'<td class="num">{e(lenient)}</td>'
            f'<td class="num">{e(_value(g.top_box_share, g.tier))}</td><td>{e(status)}</td></tr>'
        )
    head = [
        ("Team (territory)", False),
        ("Region", False),
        ("Eligible reps", True),
        ("Coaching coverage", True),
        ("Median days to submit", True),
        ("Within 5 business days", True),
        ("Rater leniency", True),
        ("Top-box share", True),
        ("Small numbers", False),
    ]
    return _table(head, rows, "Coaching figures by team")


def _count(value: int | None) -> str:
    return "–" if value is None else str(value)


def _follow_through(data: ReportData, drawn: list[Chart]) -> str:
    lede = (
        "Development actions agreed in coaching and due in the period: the share completed, and "
        "completed on time (by the due date + 7 days)."
    )
    chart = coaching_charts.follow_through("chart-follow-through", data.follow_through)
    content = _figure(chart, drawn, empty="No development actions were due in the period.")
    if data.follow_through:
        content += _follow_table(data.follow_through)
    return _section("follow-through", "Development-action follow-through", lede, content)


def _follow_table(rows: Sequence[FollowThrough]) -> str:
    body = []
    for r in rows:
        due = "n<5" if r.tier == Tier.SUPPRESSED else _count(r.due)
        body.append(
            f'<tr class="{e(r.tier)}"><th scope="row">{e(r.group)}</th><td class="num">{e(due)}</td>'
            f'<td class="num">{e(_count(r.completed))}</td><td class="num">{e(_count(r.on_time))}</td>'
            f'<td class="num">{e(_value(r.share_completed, r.tier))}</td>'
            f'<td class="num">{e(_value(r.share_on_time, r.tier))}</td></tr>'
        )
    head = [
        ("Group", False),
        ("Due", True),
        ("Completed", True),
        ("On time", True),
        ("Completed %", True),
        ("On time %", True),
    ]
    return _table(head, body, "Actions by group")


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
        (
            "Sustained",
            "A second proficient rating at least 30 days after the first, within 180 days of it.",
        ),
        (
            "Time to proficiency",
            "Kaplan–Meier over every rep trained by the as-of date: a rep not yet proficient is "
            "censored at the as-of date. The median is the first day half were proficient; "
            "'not reached' means fewer than half so far.",
        ),
        (
            "Wilson 95% interval",
            "The range a percentage could plausibly take given how few people it rests on; the "
            "Wilson method stays sensible near 0% and 100%. An outlined cell's interval excludes "
            "the overall figure: a difference unlikely to be chance alone.",
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
            "the same period (0 = rates like peers); top-box share is the share of top ratings.",
        ),
        (
            "Action follow-through",
            "Actions due in the period and completed, over actions due; on time means completed "
            "by the due date + 7 days.",
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
