"""What training caused: per capability (and group), the effect of training on the share of a
trained rep's ratings of the capability that are proficient in the window after training,
against reps not yet trained in the same weeks (DESIGN.md "What training caused").

Method (docs/uplift.md): the imputation difference-in-differences estimator of Borusyak,
Jaravel and Spiess (2024), from diff-diff. A rep x period panel (periods of PERIOD_DAYS days)
of the share of the rep's ratings of c that are proficient; rep and period fixed effects are
fitted on the untreated cells only (reps never trained by D, and trained reps before their
training), every treated cell's counterfactual is imputed from them, and the effect is the
average of (observed - imputed) over treated cells, with a 95 % interval clustered by rep. So
a rising tide (the period effects) and weaker reps trained first (the rep effects) are not
mistaken for training, as a before/after difference would (`naive`, shown for contrast only).

Rules, each deciding real numbers:
- A rating counts when it is a counted rating of c (store.adoption.person_inputs: submitted,
  not deleted, visit date <= D) and the rep's HR row valid on the visit date is a `rep` row
  (adoption.employment): managers and directors never count, even when rated.
- trained_at is the adoption engine's (outcomes.trained_dates). Treated cells: ratings in the
  window (trained_at, trained_at + W] (W: the capability's window, 90 d by default); ratings
  after the window are left out (the estimand is the window); ratings in the training's own
  period on or before trained_at are left out (the period would be marked treated).
- Groups (--by region / manager): a trained rep belongs to the group of the HR row valid on
  min(trained_at + W, D), as in the adoption metrics; a rep not trained on c to the row valid
  on D, else (they left) the row of their last counted rating. A group's estimate uses only
  its own reps, treated and comparison. `(all)` uses every rep.
- Small numbers: n_trained (reps with a rated treated cell) decides the row: < 5 everything
  blank (suppressed); 5-9 counts only; 10+ the estimate and its interval. A fit the data
  cannot support (no comparison cells) leaves the estimate blank with a reason.
"""

from __future__ import annotations

import csv
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TextIO

from adoptloop.adoption import estimators
from adoptloop.adoption.kept_fits import KeptFits
from adoptloop.adoption.metrics import ALL, fraction
from adoptloop.adoption.outcomes import trained_dates
from adoptloop.adoption.raters import (
    CountedRatings,
    counted_ratings,
    employment_by_person,
)
from adoptloop.adoption.smallnumbers import Tier, tier
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store.adoption import HRRow, first_completions

if TYPE_CHECKING:
    from sqlalchemy import Connection

UpliftBy = Literal["region", "manager"]
PERIOD_DAYS = 14  # the panel's time unit: two weeks (docs/uplift.md: why not one or four)
PRE_LEADS = 6  # pre-trend check: six two-week periods (12 weeks) before training
MIN_LEAD_REPS = 10  # trained reps that must identify a lead before it is tested (the 10+ tier)
METHOD = "imputation-did"  # Borusyak-Jaravel-Spiess, diff-diff ImputationDiD
MIN_COMPARISON = 2  # comparison reps below which no fit is attempted

COLUMNS = (
    "group",
    "capability",
    "estimate",
    "ci_low",
    "ci_high",
    "n_trained",
    "n_comparison",
    "method",
    "suppressed",
)
_DAY = timedelta(days=1)


class Rating(NamedTuple):
    """One counted rating of a rep on a capability, as the panel needs it (a tuple: a panel
    holds one per rating, made several times faster than a frozen dataclass)."""

    rep: str
    day: date
    proficient: bool
    trained_at: date | None


@dataclass(frozen=True, slots=True)
class PreTrend:
    """The event-study leads: the estimated 'effect' k periods before training (should be
    about 0), and the joint Wald test that they all are."""

    leads: dict[int, float]
    p_value: float | None


@dataclass(slots=True)
class Uplift:
    group: str
    capability: str
    n_trained: int
    n_comparison: int
    tier: Tier
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    naive: float | None = None  # before/after among trained reps: for contrast, never the answer
    pretrend: PreTrend | None = None
    reason: str | None = None
    method: str = METHOD

    @property
    def suppressed(self) -> bool:
        return self.tier is Tier.SUPPRESSED

    def cells(self) -> dict[str, Any]:
        """The CSV row (DESIGN.md's contract): fractions with 4 decimals, blanks by tier."""
        shown = self.tier.shows_estimates
        counts = not self.suppressed
        return {
            "group": self.group,
            "capability": self.capability,
            "estimate": _num(self.estimate) if shown else "",
            "ci_low": _num(self.ci_low) if shown else "",
            "ci_high": _num(self.ci_high) if shown else "",
            "n_trained": self.n_trained if counts else "",
            "n_comparison": self.n_comparison if counts else "",
            "method": self.method,
            "suppressed": "true" if self.suppressed else "false",
        }

    def record(self) -> dict[str, Any]:
        """The JSON row: the CSV cells as numbers, plus tier, reason, naive and pre-trend."""
        cells = self.cells()
        out: dict[str, Any] = {
            k: (None if cells[k] == "" else cells[k]) for k in COLUMNS if k != "suppressed"
        }
        for k in ("estimate", "ci_low", "ci_high"):
            out[k] = float(out[k]) if out[k] is not None else None
        shown = self.tier.shows_estimates
        out |= {
            "suppressed": self.suppressed,
            "tier": self.tier.value,
            "reason": self.reason,
            "naive_before_after": _round(self.naive) if shown else None,
            "pretrend": (
                {
                    "leads": {str(k): _round(v) for k, v in sorted(self.pretrend.leads.items())},
                    "p_value": _round(self.pretrend.p_value),
                }
                if self.pretrend is not None and shown
                else None
            ),
        }
        return out


def _num(value: float | None) -> str:
    return "" if value is None else str(fraction(value))


def _round(value: float | None) -> float | None:
    return None if value is None else float(fraction(value))


@dataclass(slots=True)
class Panel:
    """One capability's counted ratings, as columns (a panel holds every rating of its
    capability: a few bytes each, not an object each), and each rep's group."""

    reps: list[str] = field(default_factory=list)  # the rep of each rating (one str per rep)
    days: array[int] = field(default_factory=lambda: array("i"))  # date ordinals
    proficient: bytearray = field(default_factory=bytearray)
    trained: array[int] = field(default_factory=lambda: array("i"))  # ordinal; 0: not trained
    groups: dict[str, str | None] = field(default_factory=dict)  # with `by` (collect)

    @property
    def ratings(self) -> list[Rating]:
        """The ratings one by one (a group's rows are chosen from them)."""
        return [
            Rating(rep, date.fromordinal(day), bool(hit), date.fromordinal(t) if t else None)
            for rep, day, hit, t in zip(
                self.reps, self.days, self.proficient, self.trained, strict=True
            )
        ]


def collect(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    by: UpliftBy | None,
    *,
    rated: CountedRatings | None = None,
) -> dict[str, Panel]:
    """capability -> its counted ratings (rep rows only) and each rep's group.

    `rated`: every counted rating of a `rep` row on or before `as_of`, read already (the
    estimates stage reads them once for both estimators: raters.counted_ratings); else they
    are read here. A panel's cells are sorted, so the
    order of its ratings does not count."""
    np = estimators.load("numpy")
    trained = {  # hr_id -> capability -> trained_at's ordinal
        hr_id: {
            c: first.toordinal()
            for c, (first, _module) in trained_dates(
                [(m, day) for _, m, day in rows], capabilities, as_of
            ).items()
        }
        for hr_id, rows in groupby(first_completions(conn), key=itemgetter(0))
    }
    if rated is None:
        rated = counted_ratings(conn, as_of)
    employment = employment_by_person(conn) if by is not None else {}
    panels: dict[str, Panel] = {}
    for capability, spec in capabilities.capabilities.items():
        mine = rated.capabilities == capability
        reps = rated.reps[mine].tolist()
        days = rated.days[mine].astype(np.int32)
        panel = panels[capability] = Panel(reps)
        panel.days.frombytes(days.tobytes())
        panel.proficient.extend((rated.scaled[mine] >= spec.threshold).tobytes())
        trained_on = {rep: c[capability] for rep, c in trained.items() if capability in c}
        panel.trained.extend(map(trained_on.get, reps, repeat(0)))
        if by is None:
            continue
        last: dict[str, int] = {}  # rep -> their last rating's day
        for rep, day in zip(reps, days.tolist(), strict=True):
            last[rep] = max(last.get(rep, 0), day)
        for rep, last_day in last.items():
            history = employment[rep]
            first = trained.get(rep, {}).get(capability)
            if first is not None:
                window = timedelta(days=capabilities.window_days(capability))
                post = history.on(min(date.fromordinal(first) + window, as_of))
            else:
                post = history.on(as_of) or history.rep_on(date.fromordinal(last_day))
            panel.groups[rep] = _group_of(post, by)
    return panels


def _group_of(row: HRRow | None, by: UpliftBy) -> str | None:
    if row is None:
        return None
    return row.region if by == "region" else row.manager_hr_id


def uplift(
    conn: Connection, capabilities: CapabilityMap, as_of: date, by: UpliftBy | None = None
) -> list[Uplift]:
    """The uplift rows: per capability an `(all)` row, then (with `by`) one per group."""
    estimators.require()  # a clear error before reading anything when the extra is missing
    return fit(collect(conn, capabilities, as_of, by), capabilities, by, pretrend=True)


def fit(
    panels: Mapping[str, Panel],
    capabilities: CapabilityMap,
    by: UpliftBy | None,
    *,
    pretrend: bool,
    kept: KeptFits | None = None,
) -> list[Uplift]:
    """The rows of `collect`'s panels; `pretrend`: test the `(all)` rows' pre-trends too;
    `kept`: take a fit whose cells are unchanged from there (not with `pretrend`)."""
    out: list[Uplift] = []
    for capability, panel in sorted(panels.items()):
        window = capabilities.window_days(capability)
        out.append(estimate(panel, ALL, capability, window, pretrend=pretrend, kept=kept))
        if by is None:
            continue
        members: dict[str, list[Rating]] = defaultdict(list)
        for rating in panel.ratings:
            group = panel.groups.get(rating.rep)
            if group is not None:
                members[group].append(rating)
        out.extend(
            estimate(members[g], g, capability, window, pretrend=False, kept=kept)
            for g in sorted(members)
        )
    return out


def estimate(
    ratings: Sequence[Rating] | Panel,
    group: str,
    capability: str,
    window_days: int,
    *,
    pretrend: bool,
    kept: KeptFits | None = None,
) -> Uplift:
    """One row: the imputation DiD estimate on `ratings` with its 95 % interval (by rep).
    A row the small-number rule shows no estimate of is not fitted."""
    cells = _cells(ratings, window_days)
    treated = {rep for rep, _t, _y, g in cells if g and _t >= g}
    comparison = {rep for rep, t, _y, g in cells if not g or t < g}
    row = Uplift(group, capability, len(treated), len(comparison), tier(len(treated)))
    if not row.tier.shows_estimates:
        return row
    row.naive = naive_before_after(ratings, window_days)
    if len(comparison) < MIN_COMPARISON:
        row.reason = "no reps untrained in the same weeks to compare with"
        return row
    what = f"uplift {group}/{capability}"
    if kept is None or pretrend:
        interval, row.pretrend = _imputation(cells, what, pretrend=pretrend)
    else:
        interval = kept.result("uplift", cells, lambda: _imputation(cells, what)[0])
    if interval is None:
        row.reason = "the data cannot identify an effect (too few comparison ratings)"
        return row
    row.estimate, row.ci_low, row.ci_high = interval
    return row


def _imputation(
    cells: list[tuple[str, int, float, int]], what: str, *, pretrend: bool = False
) -> tuple[tuple[float, float, float] | None, PreTrend | None]:
    """diff-diff's ImputationDiD on the cells: (effect, 95 % low, high), None when not
    finite; and the pre-trend test when asked."""
    diff_diff = estimators.load()
    pd = estimators.load("pandas")
    imputable = _imputable(cells)
    if not any(g and t >= g for _rep, t, _y, g in imputable):
        # every trained rep's cells are treated: no effect can be imputed (diff-diff gives NaN)
        return None, (PreTrend({}, None) if pretrend else None)
    frame = pd.DataFrame(imputable, columns=["rep", "t", "y", "g"])
    # reps as integer codes in the order of their names: diff-diff orders units the same way
    # (the cells are sorted by rep), so the fit is the same to the bit, and it hashes and
    # sorts ints about a third faster than strings
    frame["rep"] = pd.factorize(frame["rep"], sort=True)[0]
    with estimators.quiet(what):
        fitted = diff_diff.ImputationDiD(cluster="rep", rank_deficient_action="silent").fit(
            frame, outcome="y", unit="rep", time="t", first_treat="g"
        )
        value, (low, high) = fitted.overall_att, fitted.overall_conf_int
        trend = _pretrend(fitted, _supported_leads(cells)) if pretrend else None
    if not _finite(value, low, high):
        return None, trend
    return (float(value), float(low), float(high)), trend


def _imputable(
    cells: Sequence[tuple[str, int, float, int]],
) -> list[tuple[str, int, float, int]]:
    """The cells of the reps with an untreated cell (never trained by D, or rated before
    their training period), in their order. A rep whose every cell is treated has no rep
    effect, so none of its cells can be imputed: BJS (and diff-diff) give those cells no
    weight in the effect or its variance (docs/uplift.md, "Reps rated only after training").
    Left in, their empty rows make diff-diff's variance system singular and it falls back
    from a direct sparse solve to an iterative one (lsmr), a few times slower; the estimate
    is the same number, the interval the same to about 1e-14."""
    untreated = {rep for rep, t, _y, g in cells if not g or t < g}
    return [cell for cell in cells if cell[0] in untreated]


def _columns(ratings: Sequence[Rating] | Panel) -> tuple[Any, Any, Any, Any]:
    """(rep, day ordinal, proficient 0/1, trained_at ordinal or 0) of each rating, as numpy
    arrays."""
    np = estimators.load("numpy")
    if isinstance(ratings, Panel):
        return (
            np.array(ratings.reps, dtype=object),
            np.array(ratings.days, dtype=np.int64),
            np.frombuffer(bytes(ratings.proficient), dtype=np.uint8).astype(np.int64),
            np.array(ratings.trained, dtype=np.int64),
        )
    n = len(ratings)
    return (
        np.fromiter((r.rep for r in ratings), object, n),
        np.fromiter((r.day.toordinal() for r in ratings), np.int64, n),
        np.fromiter((r.proficient for r in ratings), np.int64, n),
        np.fromiter(
            (0 if r.trained_at is None else r.trained_at.toordinal() for r in ratings),
            np.int64,
            n,
        ),
    )


def _cells(
    ratings: Sequence[Rating] | Panel, window_days: int
) -> list[tuple[str, int, float, int]]:
    """(rep, period, share proficient, first treated period or 0 = not trained by D): one per
    rated rep x period, sorted, periods numbered from 1 at the first rating or training day.
    Ratings after a rep's window are left out: the estimand is the window. Summed with numpy
    (a panel holds every rating of its capability), into plain Python values."""
    np = estimators.load("numpy")
    reps, day, proficient, trained = _columns(ratings)
    is_trained = trained > 0
    kept = ~is_trained | (day <= trained + window_days)
    if not kept.any():
        return []
    day, trained, proficient, reps = day[kept], trained[kept], proficient[kept], reps[kept]
    is_trained = is_trained[kept]
    starts = trained[is_trained] + 1  # the first day of each trained rep's window
    origin = min(int(day.min()), int(starts.min())) if starts.size else int(day.min())
    t = (day - origin) // PERIOD_DAYS + 1
    g = np.where(is_trained, (trained + 1 - origin) // PERIOD_DAYS + 1, 0)
    # before training, in the period the training opens: left out
    counted = ~(is_trained & (t == g) & (day <= trained))
    t, g, proficient, reps = t[counted], g[counted], proficient[counted], reps[counted]
    if not t.size:
        return []
    pd = estimators.load("pandas")
    rep, names = pd.factorize(reps, sort=True)  # names sorted as Python sorts them
    order = np.lexsort((g, t, rep))
    rep, t, g, proficient = rep[order], t[order], g[order], proficient[order]
    first = np.flatnonzero(
        np.concatenate(([True], (rep[1:] != rep[:-1]) | (t[1:] != t[:-1]) | (g[1:] != g[:-1])))
    )
    hits = np.add.reduceat(proficient, first)
    count = np.diff(np.append(first, proficient.size))
    return list(
        zip(
            names[rep[first]].tolist(),
            t[first].tolist(),
            (hits / count).tolist(),
            g[first].tolist(),
            strict=True,
        )
    )


def _supported_leads(cells: Iterable[tuple[str, int, float, int]]) -> int:
    """How many leads, counted back from k = -2 (the period before training, -1, is the
    reference), at least MIN_LEAD_REPS trained reps identify. A rep identifies lead k when it
    has an untreated cell k periods before its training period and another untreated cell:
    a rep's only untreated cell is absorbed by its rep effect, so it says nothing about a
    trend. A sparse panel (most trained reps rated once before training) otherwise gives leads
    and a p-value that a handful of reps decide."""
    before: dict[str, set[int]] = defaultdict(set)
    cell_count: dict[str, int] = defaultdict(int)
    for rep, t, _y, g in cells:
        if g and t < g:
            before[rep].add(t - g)
            cell_count[rep] += 1
    support: dict[int, int] = defaultdict(int)
    for rep, leads in before.items():
        if cell_count[rep] >= 2:
            for k in leads:
                support[k] += 1
    n = 0
    while n < PRE_LEADS and support[-2 - n] >= MIN_LEAD_REPS:
        n += 1
    return n


def _pretrend(fitted: Any, n_leads: int) -> PreTrend:
    """The BJS pre-trend test (their equation 9): the `n_leads` supported leads added to the
    untreated fit; no leads and no p-value when none is supported."""
    if n_leads == 0:
        return PreTrend({}, None)
    try:
        test = fitted.pretrend_test(n_leads=n_leads)
    except (ValueError, RuntimeError, KeyError, IndexError, ZeroDivisionError):
        return PreTrend({}, None)
    leads: dict[int, float] = {}
    for key, value in (test.get("lead_coefficients") or {}).items():
        coef = value.get("coef") if isinstance(value, Mapping) else value
        if coef is not None and _finite(coef):
            leads[int(key)] = float(coef)  # -k: k periods before the training period
    p_value = test.get("p_value")
    if not leads or p_value is None or not _finite(p_value):
        return PreTrend({}, None)
    return PreTrend(leads, float(p_value))


def _finite(*values: Any) -> bool:
    try:
        return all(
            v is not None and float(v) == float(v) and abs(float(v)) != float("inf") for v in values
        )
    except (TypeError, ValueError):
        return False


def naive_before_after(ratings: Sequence[Rating] | Panel, window_days: int) -> float | None:
    """Among trained reps: the share proficient in (trained_at, trained_at + W] minus the share
    in (trained_at - W, trained_at]. Shown beside the estimate for contrast only."""
    _reps, day, proficient, trained = _columns(ratings)
    span = day - trained
    is_trained = trained > 0
    after = is_trained & (span > 0) & (span <= window_days)
    before = is_trained & (span > -window_days) & (span <= 0)
    if not before.any() or not after.any():
        return None
    return float(
        int(proficient[after].sum()) / int(after.sum())
        - int(proficient[before].sum()) / int(before.sum())
    )


def write_csv(rows: Sequence[Uplift], out: TextIO) -> None:
    """The uplift table as CSV (DESIGN.md's contract)."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.cells())
