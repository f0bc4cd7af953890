"""The report's "What training caused" and "Rater calibration" sections (report/causal.py fills
them): per capability the uplift interval drawn against zero with the plain before/after beside
it for contrast, one sentence on what the number means; per coaching manager the leniency
interval, listed by region and name, never ranked. Small inline SVG, no chart library: the
report stays small. Every number arrives small-number-filtered; this module only shows it.
"""

# Ranges are typeset with en dashes and minus signs on purpose: readers see them.
# ruff: noqa: RUF001

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from adoptloop.adoption.report.chartkit import DIRECTIONAL_MARK
from adoptloop.adoption.report.data import RaterInterval, ReportData, UpliftRow
from adoptloop.adoption.report.tables import e, table, table_parts
from adoptloop.adoption.smallnumbers import Tier

_W, _H, _PAD = 240, 22, 8

CAUSED = (
    "Did training cause the adoption? Per capability, the change in the share of a trained "
    "rep's ratings that are proficient in the window after training, against reps not yet "
    "trained in the same weeks (the rise everyone saw and who was trained first are taken "
    "out; docs/uplift.md). Only from 10 trained reps; "
    f"{DIRECTIONAL_MARK}: 10–29, directional."
)
CALIBRATION = (
    "For L&D: how much higher (+) or lower (−) each coaching manager rates on the 0–1 scale "
    "than the region's average rater, adjusted for which reps they rated and when, with its "
    "95% interval. Listed by region and name, never ranked; no rep appears. Shown from 10 "
    "rated reps; a manager whose reps nobody else rated cannot be told apart from the team."
)


def _signed(value: float, unit: str = "", digits: int = 0) -> str:
    text = f"{abs(value):.{digits}f}{unit}"
    return text if round(value, digits) == 0 else ("+" if value > 0 else "−") + text


def _span(values: Sequence[float | None], least: float) -> float:
    """Half the axis: the largest magnitude drawn, at least `least`, rounded up."""
    top = max([abs(v) for v in values if v is not None] + [least])
    step = least / 2
    return math.ceil(top / step) * step


def _interval_svg(
    low: float, high: float, mid: float, span: float, label: str, naive: float | None = None
) -> str:
    """An interval (line), its estimate (dot) against the zero line; the naive before/after as
    a hollow diamond when given."""

    def x(v: float) -> float:
        return round(_PAD + (v + span) / (2 * span) * (_W - 2 * _PAD), 1)

    y = _H / 2
    colour = "var(--good)" if low > 0 else "var(--bad)" if high < 0 else "var(--muted)"
    parts = [
        f'<line x1="{x(0)}" y1="1" x2="{x(0)}" y2="{_H - 1}" stroke="var(--ink)" '
        'stroke-dasharray="2,2"/>',
        f'<line x1="{x(low)}" y1="{y}" x2="{x(high)}" y2="{y}" stroke="{colour}" '
        'stroke-width="4" stroke-linecap="round"/>',
        f'<circle cx="{x(mid)}" cy="{y}" r="4.5" fill="{colour}"/>',
    ]
    if naive is not None:
        n = x(max(-span, min(span, naive)))
        parts.append(
            f'<path d="M{n} {y - 6}l6 6-6 6-6-6z" fill="none" stroke="var(--ink)" '
            'stroke-width="1.5"/>'
        )
    return (
        f'<svg class="interval" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        f'role="img" aria-label="{e(label)}">{"".join(parts)}</svg>'
    )


def _meaning(u: UpliftRow) -> str:
    """One sentence on what the row's number means, or why there is none."""
    if u.tier == Tier.SUPPRESSED:
        return "Fewer than 5 trained reps were rated in their window: not shown."
    if u.tier == Tier.COUNTS_ONLY:
        return (
            f"{u.n_trained} trained reps were rated in their window: an estimate needs 10 or more."
        )
    if u.estimate is None or u.ci_low is None or u.ci_high is None:
        return f"No estimate: {u.reason or 'the data cannot identify an effect'}."
    interval = f"95% interval {_signed(u.ci_low)} to {_signed(u.ci_high)} points"
    against = f"against {u.n_comparison} reps not yet trained in the same weeks"
    if u.ci_low > 0:
        said = (
            f"Training raised the share of {u.capability} ratings that are proficient by "
            f"about {abs(u.estimate):.0f} points ({interval}), {against}."
        )
    elif u.ci_high < 0:
        said = (
            f"Trained reps' share of proficient {u.capability} ratings fell by about "
            f"{abs(u.estimate):.0f} points after training ({interval}), {against}."
        )
    else:
        said = (
            f"No clear effect of training on {u.capability}: the estimate is "
            f"{_signed(u.estimate)} points, but its {interval} includes zero ({against})."
        )
    if u.naive is not None:
        said += (
            f" A plain before/after would say {_signed(u.naive)} points; it also counts the "
            "rise every rep saw, so it is not the effect."
        )
    return said


def caused(data: ReportData) -> tuple[str, str, str, str]:
    """The "What training caused" section: (anchor, heading, lede, content) for html.py."""
    return ("caused", "What training caused", CAUSED, _uplift(data))


def calibration(data: ReportData) -> tuple[str, str, str, Iterable[str]]:
    """The "Rater calibration" section: (anchor, heading, lede, content in pieces: a row per
    coaching manager) for html.py."""
    return ("calibration", "Rater calibration", CALIBRATION, _raters(data))


def _uplift(data: ReportData) -> str:
    if data.uplift_missing:
        return f'<p class="empty">{e(data.uplift_missing)}</p>'
    if not data.uplift:
        return '<p class="empty">No capability has trained reps rated yet.</p>'
    span = _span([v for u in data.uplift for v in (u.ci_low, u.ci_high, u.naive)], least=10.0)
    rows = []
    for u in data.uplift:
        mark = DIRECTIONAL_MARK if u.tier == Tier.DIRECTIONAL else ""
        if u.estimate is not None and u.ci_low is not None and u.ci_high is not None:
            drawn = _interval_svg(
                u.ci_low,
                u.ci_high,
                u.estimate,
                span,
                f"{u.capability}: uplift {u.estimate:.1f} points, interval {u.ci_low:.1f} to "
                f"{u.ci_high:.1f}",
                u.naive,
            )
            estimate = f"{_signed(u.estimate, digits=1)}{mark}"
            interval = f"{_signed(u.ci_low, digits=1)} to {_signed(u.ci_high, digits=1)}"
        else:
            drawn, estimate, interval = "", "–", "–"
        naive = "–" if u.naive is None else _signed(u.naive, digits=1)
        trained = "n<5" if u.n_trained is None else str(u.n_trained)
        comparison = "–" if u.n_comparison is None else str(u.n_comparison)
        rows.append(
            f'<tr class="{e(u.tier)}"><th scope="row">{e(u.capability)}</th>'
            f'<td class="num">{e(estimate)}</td><td class="num">{e(interval)}</td>'
            f"<td>{drawn}</td>"
            f'<td class="num">{e(naive)}</td><td class="num">{e(trained)}</td>'
            f'<td class="num">{e(comparison)}</td></tr>'
        )
    head = [
        ("Capability", False),
        ("Uplift (points)", True),
        ("95% interval", True),
        (f"Against zero (±{span:.0f} points)", False),
        ("Plain before/after", True),
        ("Trained reps", True),
        ("Not yet trained", True),
    ]
    key = (
        '<p class="summary">Dot and bar: the uplift and its 95% interval; the dashed line is '
        "zero (no effect); green when the whole interval is above zero. Hollow diamond: the "
        "plain before/after, for contrast only.</p>"
    )
    meanings = "".join(f"<li><b>{e(u.capability)}</b>: {e(_meaning(u))}</li>" for u in data.uplift)
    return (
        table(head, rows, "What training caused, per capability")
        + key
        + f'<h3>What the numbers mean</h3><ul class="meanings">{meanings}</ul>'
    )


def _raters(data: ReportData) -> Iterable[str]:
    """The "Rater calibration" section's content: intervals, by region and name, a row at a
    time."""
    if data.uplift_missing:
        return [f'<p class="empty">{e(data.uplift_missing)}</p>']
    if not data.raters:
        return ['<p class="empty">No coaching manager rated reps in the last year.</p>']
    shown = [r for r in data.raters if r.leniency is not None]
    span = _span([v for r in shown for v in (r.ci_low, r.ci_high)], least=0.1)
    rows = (_rater_row(r, span) for r in data.raters)
    head = [
        ("Manager", False),
        ("Region", False),
        ("Reps rated", True),
        ("Leniency (0–1 scale)", True),
        ("95% interval", True),
        (f"Against the region (±{span:.2f})", False),
        ("Note", False),
    ]
    return table_parts(head, rows, "Rater calibration by region (listed by name, not ranked)")


def _rater_row(r: RaterInterval, span: float) -> str:
    drawn, lenient, interval = "", "–", "–"
    if r.leniency is not None and r.ci_low is not None and r.ci_high is not None:
        drawn = _interval_svg(
            r.ci_low, r.ci_high, r.leniency, span, f"{r.manager}: leniency {r.leniency:.2f}"
        )
        mark = DIRECTIONAL_MARK if r.tier == Tier.DIRECTIONAL else ""
        lenient = f"{_signed(r.leniency, digits=2)}{mark}"
        interval = f"{_signed(r.ci_low, digits=2)} to {_signed(r.ci_high, digits=2)}"
    if r.tier == Tier.SUPPRESSED:
        note = "fewer than 5 reps rated: not shown"
    elif r.tier == Tier.COUNTS_ONLY:
        note = "5–9 reps rated: counts only"
    elif r.leniency is None:
        note = r.reason or "not estimable"
    elif r.ci_low > 0:  # type: ignore[operator]
        note = "rates higher than the region's average rater"
    elif r.ci_high < 0:  # type: ignore[operator]
        note = "rates lower than the region's average rater"
    else:
        note = "in line with the region"
    reps = "n<5" if r.n_reps is None else str(r.n_reps)
    return (
        f'<tr class="{e(r.tier)}"><th scope="row">{e(r.manager)}</th><td>{e(r.region)}</td>'
        f'<td class="num">{e(reps)}</td><td class="num">{e(lenient)}</td>'
        f'<td class="num">{e(interval)}</td><td>{drawn}</td><td>{e(note)}</td></tr>'
    )
