"""Fill a ReportData from the store: the numbers the report shows, small-number rules applied."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adoptloop.adoption import aggregates
from adoptloop.adoption.aggregates import Aggregates
from adoptloop.adoption.kaplan_meier import Curve
from adoptloop.adoption.metrics import (
    ALL,
    COACHING_DAYS,
    MetricsRow,
    RaterStats,
    coach_the_coach,
    coverage,
    leniency,
    median_of_counts,
    median_or_none,
    metric_rows,
    rater_stats,
    reinforcement,
    team_labels,
)
from adoptloop.adoption.report.actions import opportunities
from adoptloop.adoption.report.causal import causal
from adoptloop.adoption.report.data import (
    Cell,
    FunnelStep,
    ManagerGroup,
    ProficiencyCurve,
    ReportData,
)
from adoptloop.adoption.report.freshness import freshness
from adoptloop.adoption.report.html import write_html
from adoptloop.adoption.smallnumbers import Tier, tier, wilson
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import metrics as store
from adoptloop.store.metrics import NO_GROUP, RowSource
from adoptloop.store.names import display_names

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from adoptloop.adoption.estimates import Estimates

AT_RISK_EVERY = 30  # days between the at-risk counts under the time-to-proficiency curves


@dataclass(frozen=True)
class ReportOptions:
    """adoption.report's settings, plus what the caller knows: the actor pseudonym of an hr_id
    (the statements' account.name) for `show_names: false`, and the clock (tests pin it)."""

    show_names: bool = True
    stale_after_days: int = 2
    pseudonym: Callable[[str], str] | None = None
    now: datetime | None = None


def _shows_rates(n: int) -> bool:
    return tier(n).shows_estimates


def _cell(row: MetricsRow, name: str, numerator: int, denominator: int, org: float | None) -> Cell:
    """A share of the row with its Wilson interval; the row's cohort decides the tier, and
    `versus_org` says whether the whole interval sits below or above `org` (0..1)."""
    level = row.tier
    shown = level.shows_estimates and denominator > 0
    low, high = wilson(numerator, denominator) if shown else (None, None)
    versus = ""
    if row.group != ALL and low is not None and high is not None and org is not None:
        versus = "below" if high < org else "above" if low > org else ""
    return Cell(
        group=row.group,
        capability=name,
        value=round(100 * numerator / denominator, 1) if shown else None,
        numerator=None if level is Tier.SUPPRESSED else numerator,
        denominator=None if level is Tier.SUPPRESSED else denominator,
        tier=level.value,
        ci_low=round(100 * low, 1) if low is not None else None,
        ci_high=round(100 * high, 1) if high is not None else None,
        versus_org=versus,
    )


def _org(row: MetricsRow | None, numerator: str, denominator: str) -> float | None:
    if row is None:
        return None
    num, den = getattr(row, numerator), getattr(row, denominator)
    return num / den if num is not None and den else None


def build_report_data(
    conn: Connection,
    source: RowSource,
    capabilities: CapabilityMap,
    as_of: date,
    *,
    title: str = "Is what we trained applied in the field?",
    by_region: Sequence[MetricsRow] | None = None,
    options: ReportOptions | None = None,
    sums: Aggregates | None = None,
    estimates: Estimates | None = None,
) -> ReportData:
    """`sums`: the adoption sums (adoption.aggregates) of the region and manager groupings
    and the ratings per capability and day when the caller keeps them (else computed in full
    from `source`, and the reinforcement figures read from the store); `by_region`: their
    region rows (adoption.metrics.metric_rows) when the caller has them already; `estimates`:
    the run's uplift and raters results when it has them already (not fitted twice)."""
    options = options or ReportOptions()
    now = options.now or datetime.now(UTC)
    names = {c.id: c.name for c in capabilities.spec.capabilities}
    data = ReportData(
        title=title,
        as_of=as_of,
        generated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        window_days=capabilities.default_window_days,
        stale_after_days=options.stale_after_days,
    )
    kept = sums
    if sums is None:
        sums = aggregates.full(conn, source, capabilities, as_of)
    if by_region is None:
        by_region = metric_rows(conn, sums, capabilities, as_of, "region")
    overall = {r.capability: r for r in by_region if r.group == ALL}
    caused = causal(
        conn,
        capabilities,
        as_of,
        names,
        lambda ids: _people_labels(conn, ids, as_of, options),
        estimates,
    )
    data.uplift, data.raters, data.uplift_missing = caused.uplift, caused.raters, caused.missing
    data.where_to_act, data.where_it_works = opportunities(by_region, names, caused.above_zero)
    for row in by_region:
        name = names[row.capability]
        whole = overall.get(row.capability)
        data.heatmap.append(
            _cell(row, name, row.adopted, row.cohort, _org(whole, "adopted", "cohort"))
        )
        data.coverage.append(
            _cell(row, name, row.observed, row.cohort, _org(whole, "observed", "cohort"))
        )
        data.follow_through.append(
            _cell(
                row,
                name,
                row.actions_on_time or 0,
                row.actions_due or 0,
                _org(whole, "actions_on_time", "actions_due"),
            )
        )
    for cap, row in overall.items():
        if row.tier is Tier.SUPPRESSED:  # as its heatmap cell: no numbers for under 5 reps
            continue
        data.funnel.append(
            FunnelStep(
                names[cap],
                row.cohort,
                row.observed,
                row.adopted,
                row.cohort_sustained,
                row.regressed,
                row.tier.value,
            )
        )
    data.curves = _curves(overall.values(), names)
    # the regions of the raters and of the teams' managers, read once, for them only
    managers = {m for m in coverage(sums, "manager") if m not in (ALL, NO_GROUP)}
    regions: dict[str, str | None] = {}

    def regions_of(raters: Collection[str]) -> Mapping[str, str | None]:
        regions.update(store.regions_on(conn, as_of, managers.union(raters)))
        return regions

    stats = rater_stats(conn, as_of, kept=kept is not None, regions=regions_of)
    data.managers = _managers(conn, as_of, stats, options, sums, regions)
    data.freshness = freshness(conn, now, options.stale_after_days)
    data.notes = _notes(conn, source, as_of, names, stats, kept)
    return data


def _curves(overall: Iterable[MetricsRow], names: dict[str, str]) -> list[ProficiencyCurve]:
    """The Kaplan-Meier curve of each capability's "(all)" row, from 10 trained reps."""
    curves = []
    for row in overall:
        curve = row.curve
        if curve is None or not _shows_rates(curve.reps):
            continue
        curves.append(
            ProficiencyCurve(
                capability=names[row.capability],
                days=curve.days,
                proficient_share=curve.share,
                median_days=curve.quantile(0.5),
                p75_days=curve.quantile(0.75),
                reps=curve.reps,
                at_risk=at_risk(curve),
            )
        )
    return curves


def at_risk(curve: Curve) -> tuple[tuple[int, int | None], ...]:
    """Reps still at risk (neither proficient nor censored before the day) every 30 days, from
    day 0 to the last observed time; a rep censored or proficient on a tick day is still at
    risk on it (as in Kaplan-Meier). Fewer than 5 is None (small numbers)."""
    if not curve.exits:
        return ()
    ticks = range(0, curve.exits[-1][0] + 1, AT_RISK_EVERY)
    counts = ((t, curve.at_risk(t)) for t in ticks)
    return tuple((t, n if n >= 5 else None) for t, n in counts)


def _managers(
    conn: Connection,
    as_of: date,
    stats: dict[str, RaterStats],
    options: ReportOptions,
    sums: Aggregates,
    regions: Mapping[str, str | None],
) -> list[ManagerGroup]:
    """One row per first-line manager's team. The team's eligible reps decide its tier, for
    every figure of the row, rater statistics included: coverage, timeliness, leniency and
    top-box share only from 10 reps, and leniency only when the region's other teams (the
    comparison) have 10 eligible reps too. `regions`: the managers' regions on D."""
    lenient = leniency(stats)
    teams = coverage(sums, "manager")
    by_region = coverage(sums, "region")
    managers = [m for m in teams if m not in (ALL, NO_GROUP)]
    labels = team_labels(conn, as_of, managers)
    people = _people_labels(conn, managers, as_of, options)
    out = []
    for manager, (eligible, coached) in sorted(teams.items()):
        if manager == ALL:
            continue
        s = stats.get(manager)
        level = tier(eligible)
        rates = _shows_rates(eligible) and s is not None
        region = regions.get(manager) or NO_GROUP  # also when they rated nobody
        peers = by_region.get(region, (0, 0))[0] - eligible
        out.append(
            ManagerGroup(
                team=labels.get(manager, "(no team)" if manager == NO_GROUP else "team"),
                region=region,
                eligible_reps=None if level is Tier.SUPPRESSED else eligible,
                coaching_coverage=round(100 * coached / eligible, 1)
                if _shows_rates(eligible)
                else None,
                median_days_to_submit=median_or_none(s.submission_days) if s and rates else None,
                submitted_within_5_business_days=(
                    round(100 * s.within_5_business_days / len(s.submission_days), 1)
                    if s and rates and s.submission_days
                    else None
                ),
                leniency=lenient.get(manager) if s and rates and _shows_rates(peers) else None,
                top_box_share=round(100 * s.top_box / s.ratings, 1)
                if s and rates and s.ratings
                else None,
                tier=level.value,
                manager=people.get(manager, "(no manager)" if manager == NO_GROUP else ""),
                coached=None if level is Tier.SUPPRESSED else coached,
            )
        )
    return out


def _people_labels(
    conn: Connection, hr_ids: Sequence[str], as_of: date, options: ReportOptions
) -> dict[str, str]:
    """hr_id -> how the report names them: the HR display name, or with show_names off the
    first 12 characters of their actor pseudonym (the statements' account.name)."""
    if options.show_names:
        found = display_names(conn, hr_ids, as_of)
        return {m: found.get(m, "(name not on record)") for m in hr_ids}
    if options.pseudonym is None:
        return dict.fromkeys(hr_ids, "(pseudonymised)")
    return {m: f"actor {options.pseudonym(m)[:12]}…" for m in hr_ids}


def _notes(
    conn: Connection,
    source: RowSource,
    as_of: date,
    names: dict[str, str],
    stats: dict[str, RaterStats],
    sums: Aggregates | None,
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
        days: Counter[int] = Counter()  # days to submission -> reports, not a list of them
        for s in stats.values():
            days.update(s.submission_days)
        within = sum(s.within_5_business_days for s in stats.values())
        notes.append(
            f"Coaching reports in the last {COACHING_DAYS} days: {reports}; "
            f"{100 * tagged / reports:.0f}% rate at least one mapped capability; median "
            f"{median_of_counts(days) or 0:.0f} days from visit to submission, "
            f"{100 * within / max(1, days.total()):.0f}% within 5 business days."
        )
    coached, managers = coach_the_coach(conn, as_of)
    if _shows_rates(managers):
        notes.append(
            f"Coach the coach: {100 * coached / managers:.0f}% of first-line managers were "
            "observed by their own manager in the last 180 days."
        )
    elif managers >= 5:
        notes.append(
            f"Coach the coach: {coached} of {managers} first-line managers observed by their own manager in 180 days."
        )
    for cap, (ratings, trained, since) in sorted(
        reinforcement(conn, source, as_of, sums=sums).items()
    ):
        if cap in names and _shows_rates(trained):
            last = f"last rated {since} days ago" if since is not None else "never rated"
            notes.append(
                f"Reinforcement, {names[cap]}: {ratings / trained:.1f} ratings per trained rep in "
                f"the last {COACHING_DAYS} days; {last}."
            )
    return notes


def write_report(path: Path, data: ReportData) -> Path:
    """Render and write the HTML report atomically, section by section (report.html.write_html);
    a report that fails to render leaves no file behind (nor a part of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            write_html(data, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return path
