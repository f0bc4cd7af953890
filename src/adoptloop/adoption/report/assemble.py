"""Fill a ReportData from the store: the numbers the report shows, small-number rules applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adoptloop.adoption.metrics import (
    ALL,
    COACHING_DAYS,
    MetricsRow,
    RaterStats,
    adoption_metrics,
    coach_the_coach,
    coaching_coverage,
    follow_through,
    leniency,
    median_or_none,
    rater_stats,
    reinforcement,
    team_labels,
)
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
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import cursors
from adoptloop.store import metrics as store
from adoptloop.store.metrics import NO_GROUP, RowSource

if TYPE_CHECKING:
    from sqlalchemy import Connection


def _cell(
    row: MetricsRow,
    name: str,
    numerator: int,
    denominator: int,
    *,
    overall: tuple[int, int] | None = None,
) -> Cell:
    """A shown share with its Wilson interval; flagged when that interval excludes `overall`."""
    level = row.tier
    shown = level in (Tier.DIRECTIONAL, Tier.COMPARABLE) and denominator > 0
    low, high = wilson(numerator, denominator) if shown else (None, None)
    flagged = (
        row.group != ALL
        and low is not None
        and high is not None
        and overall is not None
        and overall[1] > 0
        and not low <= overall[0] / overall[1] <= high
    )
    return Cell(
        group=row.group,
        capability=name,
        value=round(100 * numerator / denominator, 1) if shown else None,
        numerator=None if level is Tier.SUPPRESSED else numerator,
        denominator=None if level is Tier.SUPPRESSED else denominator,
        tier=level.value,
        ci_low=round(100 * low, 1) if low is not None else None,
        ci_high=round(100 * high, 1) if high is not None else None,
        flagged=flagged,
    )


def _shown(value: float | None, n: int) -> float | None:
    return value if value is not None and tier(n) in (Tier.DIRECTIONAL, Tier.COMPARABLE) else None


def build_report_data(
    conn: Connection,
    source: RowSource,
    capabilities: CapabilityMap,
    as_of: date,
    *,
    title: str = "Is what we trained applied in the field?",
    by_region: Sequence[MetricsRow] | None = None,
) -> ReportData:
    """`by_region`: adoption_metrics(conn, source, capabilities, as_of, "region", ...) when the
    caller has it already (the same rows, not computed twice)."""
    names = {c.id: c.name for c in capabilities.spec.capabilities}
    data = ReportData(
        title=title,
        as_of=as_of,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        window_days=capabilities.default_window_days,
    )
    if by_region is None:
        by_region = adoption_metrics(conn, source, capabilities, as_of, "region")
    overall = {r.capability: r for r in by_region if r.group == ALL}
    for row in by_region:
        name = names[row.capability]
        whole = overall.get(row.capability)
        data.heatmap.append(
            _cell(
                row,
                name,
                row.adopted,
                row.cohort,
                overall=(whole.adopted, whole.cohort) if whole else None,
            )
        )
        data.coverage.append(
            _cell(
                row,
                name,
                row.observed,
                row.cohort,
                overall=(whole.observed, whole.cohort) if whole else None,
            )
        )
    for cap, row in overall.items():
        if row.tier is Tier.SUPPRESSED:  # as its heatmap cell: no numbers for under 5 reps
            continue
        data.funnel.append(
            FunnelStep(names[cap], row.cohort, row.observed, row.adopted, row.cohort_sustained)
        )
    data.curves = _curves(overall.values(), names)
    stats = rater_stats(conn, as_of)
    data.managers = _managers(conn, as_of, stats)
    actions: dict[str, tuple[int, int, int]] = defaultdict(lambda: (0, 0, 0))
    for (group, _cap), counts in follow_through(conn, capabilities, as_of, "region").items():
        actions[group] = (
            actions[group][0] + counts[0],
            actions[group][1] + counts[1],
            actions[group][2] + counts[2],
        )
    for group in sorted(actions, key=lambda g: (g == ALL, g)):
        due, done, on_time = actions[group]
        level = tier(due)
        hide = level is Tier.SUPPRESSED
        data.follow_through.append(
            FollowThrough(
                group=group,
                due=None if hide else due,
                completed=None if hide else done,
                on_time=None if hide else on_time,
                share_completed=_shown(round(100 * done / due, 1) if due else None, due),
                share_on_time=_shown(round(100 * on_time / due, 1) if due else None, due),
                tier=level.value,
            )
        )
    data.freshness = freshness(conn)
    data.notes = _notes(conn, source, as_of, names, stats)
    return data


def _curves(overall: Iterable[MetricsRow], names: dict[str, str]) -> list[ProficiencyCurve]:
    """The Kaplan-Meier curve of each capability's "(all)" row, from 10 trained reps."""
    curves = []
    for row in overall:
        curve = row.curve
        if curve is None or tier(curve.reps) in (Tier.SUPPRESSED, Tier.COUNTS_ONLY):
            continue
        curves.append(
            ProficiencyCurve(
                capability=names[row.capability],
                days=curve.days,
                proficient_share=curve.share,
                median_days=curve.quantile(0.5),
                p75_days=curve.quantile(0.75),
                reps=curve.reps,
            )
        )
    return curves


def _managers(conn: Connection, as_of: date, stats: dict[str, RaterStats]) -> list[ManagerGroup]:
    lenient = leniency(stats)
    coverage = coaching_coverage(conn, as_of, "manager")
    labels = team_labels(conn, as_of, [m for m in coverage if m not in (ALL, NO_GROUP)])
    regions = store.regions_on(conn, as_of)
    out = []
    for manager, (eligible, coached) in sorted(coverage.items()):
        if manager == ALL:
            continue
        s = stats.get(manager)
        level = tier(eligible)
        reports = s.reports if s else 0
        enough_reports = tier(reports) in (Tier.DIRECTIONAL, Tier.COMPARABLE)
        out.append(
            ManagerGroup(
                team=labels.get(manager, "(no team)" if manager == NO_GROUP else "team"),
                region=regions.get(manager) or NO_GROUP,  # also when they rated nobody
                eligible_reps=None if level is Tier.SUPPRESSED else eligible,
                coaching_coverage=round(100 * coached / eligible, 1)
                if eligible and level in (Tier.DIRECTIONAL, Tier.COMPARABLE)
                else None,
                median_days_to_submit=median_or_none(s.submission_days)
                if s and enough_reports
                else None,
                submitted_within_5_business_days=(
                    round(100 * s.within_5_business_days / len(s.submission_days), 1)
                    if s and enough_reports and s.submission_days
                    else None
                ),
                leniency=lenient.get(manager) if s and enough_reports else None,
                top_box_share=round(100 * s.top_box / s.ratings, 1)
                if s and enough_reports and s.ratings
                else None,
                tier=level.value,
            )
        )
    return out


def freshness(conn: Connection) -> list[Freshness]:
    """Per synced stream: when it last synced, and the newest dated record its source gave."""
    latest, people_newest = store.newest_dates(conn)
    newest: dict[str, str] = {}
    out = []
    for cursor in cursors.all_cursors(conn):
        source = cursor["source"]
        if source not in newest:
            values = latest.get(source, [""])
            newest[source] = max(values) or people_newest
        out.append(
            Freshness(source, cursor["stream"], cursor["updated_at"], newest[source] or None)
        )
    return out


def _notes(
    conn: Connection,
    source: RowSource,
    as_of: date,
    names: dict[str, str],
    stats: dict[str, RaterStats],
) -> list[str]:
    notes = [
        "Groups under 5 reps are suppressed; 5-9 show counts only; 10-29 show percentages with "
        "a Wilson 95% interval and are directional; 30 or more are comparable.",
        "A rep counts in the region they were in when their adoption window closed; reps still "
        "inside their window are not counted yet.",
    ]
    reports = sum(s.reports for s in stats.values())
    if reports >= 10:
        tagged = sum(s.tagged_reports for s in stats.values())
        days = [d for s in stats.values() for d in s.submission_days]
        within = sum(s.within_5_business_days for s in stats.values())
        notes.append(
            f"Coaching reports in the last {COACHING_DAYS} days: {reports}; "
            f"{100 * tagged / reports:.0f}% rate at least one mapped capability; median "
            f"{median_or_none(days) or 0:.0f} days from visit to submission, "
            f"{100 * within / max(1, len(days)):.0f}% within 5 business days."
        )
    coached, managers = coach_the_coach(conn, as_of)
    if tier(managers) in (Tier.DIRECTIONAL, Tier.COMPARABLE):
        notes.append(
            f"Coach the coach: {100 * coached / managers:.0f}% of first-line managers were "
            "observed by their own manager in the last 180 days."
        )
    elif managers >= 5:
        notes.append(
            f"Coach the coach: {coached} of {managers} first-line managers observed by their own manager in 180 days."
        )
    for cap, (ratings, trained, since) in sorted(reinforcement(conn, source, as_of).items()):
        if cap in names and trained >= 5:
            last = f"last rated {since} days ago" if since is not None else "never rated"
            notes.append(
                f"Reinforcement, {names[cap]}: {ratings / trained:.1f} ratings per trained rep in "
                f"the last {COACHING_DAYS} days; {last}."
            )
    return notes


def write_report(path: Path, data: ReportData) -> Path:
    """Render and write the HTML report atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_html(data), encoding="utf-8")
    tmp.replace(path)
    return path
