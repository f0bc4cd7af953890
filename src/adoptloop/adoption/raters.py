"""Rater leniency: how much higher (or lower) a coaching manager rates than the region's average
rater, adjusted for which reps they rated and when (DESIGN.md "What training caused").

A raw mean minus the others blames the managers of weaker teams (and flatters those of strong
ones): their reps' ratings are lower whoever rates them. Here every rating (scaled 0..1) is
explained by a rep x capability effect (the rep's level on that capability), a period effect
(RATER_PERIOD_DAYS, counted back from D: the rising tide) and a rater effect, by least squares
(diff-diff's `solve_ols`, the rep x capability effect absorbed by demeaning), with a
cluster-robust (CR1, by rep) covariance. A rater effect is only told apart from their team's
ability when the reps they rate are also rated by someone else: raters are joined into
connected groups (two raters are joined when they rated a common rep); a rater alone in theirs
is not identifiable (blank leniency and the reason). Leniency = the rater's effect minus the
average effect of the identifiable raters of the same region in the same connected group, with
a 95 % interval from the same covariance.

Rules: ratings on counted visits in (D - RATER_DAYS, D] of people whose HR row on the visit date
is a `rep` row (adoption.employment); a rater's region is their HR row valid on D. Small
numbers: n_reps (reps the manager rated) decides the row: < 5 everything blank (suppressed),
5-9 counts only, 10+ the leniency and its interval. Reps are never ranked.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from adoptloop.adoption import estimators
from adoptloop.adoption.employment import Employment
from adoptloop.adoption.kept_fits import KeptFits
from adoptloop.adoption.metrics import fraction
from adoptloop.adoption.smallnumbers import Z_95, Tier, tier
from adoptloop.store import metrics as store
from adoptloop.store import records
from adoptloop.store.adoption import hr_rows
from adoptloop.store.metrics import NO_GROUP

if TYPE_CHECKING:
    from sqlalchemy import Connection

RATER_DAYS = 365  # a year of ratings: a quarter rarely puts a rep before two raters
RATER_PERIOD_DAYS = 28
NOT_IDENTIFIABLE = "not identifiable: the reps they rated were rated by no one else"
COLUMNS = (
    "manager",
    "region",
    "n_ratings",
    "n_reps",
    "leniency",
    "ci_low",
    "ci_high",
    "suppressed",
)


@dataclass(slots=True)
class Leniency:
    manager: str
    region: str
    n_ratings: int
    n_reps: int
    tier: Tier
    leniency: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    raw: float | None = None  # mean minus the region's other raters: for contrast only
    reason: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.tier is Tier.SUPPRESSED

    def cells(self) -> dict[str, Any]:
        shown = self.tier.shows_estimates
        counts = not self.suppressed

        def num(value: float | None) -> str:
            return "" if value is None or not shown else str(fraction(value))

        return {
            "manager": self.manager,
            "region": self.region,
            "n_ratings": self.n_ratings if counts else "",
            "n_reps": self.n_reps if counts else "",
            "leniency": num(self.leniency),
            "ci_low": num(self.ci_low),
            "ci_high": num(self.ci_high),
            "suppressed": "true" if self.suppressed else "false",
        }

    def record(self) -> dict[str, Any]:
        cells = self.cells()
        out: dict[str, Any] = {k: (None if v == "" else v) for k, v in cells.items()}
        for k in ("leniency", "ci_low", "ci_high"):
            out[k] = float(out[k]) if out[k] is not None else None
        shown = self.tier.shows_estimates
        out |= {
            "suppressed": self.suppressed,
            "tier": self.tier.value,
            "reason": self.reason if shown else None,
            "raw_mean_minus_others": float(fraction(self.raw))
            if shown and self.raw is not None
            else None,
        }
        return out


def raters(conn: Connection, as_of: date, *, days: int = RATER_DAYS) -> list[Leniency]:
    """Every rater's row (by region, then manager id), from the store as of `as_of`."""
    estimators.require()
    return leniency(*rater_inputs(conn, as_of, days=days), as_of)


@dataclass(frozen=True, slots=True)
class CountedRatings:
    """Every counted rating of a `rep` row (store.metrics.rating_columns, kept where the rated
    person's HR row on the visit date is a `rep` row), as numpy columns in the order of their
    values (rater, visit day, rated rep, capability, scaled value: `_Columns.sorted`; two
    ratings in the same place are the same five values, so the order is the same whoever
    reads them, in one read or kept between runs): read once for both estimators, with no
    object per rating. Each distinct id is one string object, shared by its ratings."""

    raters: Any  # str objects
    reps: Any  # str objects
    capabilities: Any  # str objects
    days: Any  # int64 date ordinals
    scaled: Any  # float64
    regions: dict[str, str]  # every rater's region (their HR row valid on the as-of date)

    def where(self, keep: Any) -> CountedRatings:
        """The ratings the boolean mask `keep` selects, in their order."""
        return CountedRatings(
            self.raters[keep],
            self.reps[keep],
            self.capabilities[keep],
            self.days[keep],
            self.scaled[keep],
            self.regions,
        )

    def rows(self) -> list[tuple[str, str, str, date, float]]:
        """(rater, rep, capability, day, scaled) of each rating (a leniency fit's inputs, as
        its kept result's digest reads them)."""
        ordinals = self.days.tolist()
        dates = {d: date.fromordinal(d) for d in set(ordinals)}
        return list(
            zip(
                self.raters.tolist(),
                self.reps.tolist(),
                self.capabilities.tolist(),
                map(dates.__getitem__, ordinals),
                self.scaled.tolist(),
                strict=True,
            )
        )


@dataclass(frozen=True, slots=True)
class _Columns:
    """Counted ratings (of anyone, any day) as numpy columns: ids as codes into `names`, which
    are sorted, so that codes order as their ids do (and, as `sorted` makes them, each used:
    `without` and a day's cut may leave some unused, which the next `sorted` drops); the
    ratings in their values' order."""

    names: Any  # str objects, sorted
    observers: Any  # int32 codes
    observed: Any  # int32 codes
    capabilities: Any  # int32 codes
    days: Any  # int32 date ordinals
    scaled: Any  # float64

    @classmethod
    def sorted(
        cls,
        names: Sequence[str],
        observers: Any,
        observed: Any,
        capabilities: Any,
        days: Any,
        scaled: Any,
    ) -> _Columns:
        """The columns with codes into `names` (which may repeat an id) recoded into the
        sorted names they use, the ratings sorted by rater, day, rated person, capability and
        scaled value."""
        np = estimators.load("numpy")
        unique, inverse = np.unique(np.array(names, dtype=object), return_inverse=True)
        n = len(observers)
        codes = inverse[np.concatenate([observers, observed, capabilities])]
        used, codes = np.unique(codes, return_inverse=True)  # sorted: the names' order kept
        codes = codes.astype(np.int32)
        o, p, c = codes[:n], codes[n : 2 * n], codes[2 * n :]
        order = np.lexsort((scaled, c, p, days, o))
        return cls(unique[used], o[order], p[order], c[order], days[order], scaled[order])

    @classmethod
    def read(cls, columns: store.RatingColumns) -> _Columns:
        """store.metrics.rating_columns' read, sorted."""
        np = estimators.load("numpy")
        return cls.sorted(
            columns.names,
            np.frombuffer(columns.observers, dtype=np.int32),
            np.frombuffer(columns.observed, dtype=np.int32),
            np.frombuffer(columns.capabilities, dtype=np.int32),
            np.frombuffer(columns.days, dtype=np.int32),
            np.frombuffer(columns.scaled, dtype=np.float64),
        )

    def where(self, keep: Any) -> _Columns:
        """The ratings the boolean mask `keep` selects, in their order (the same names)."""
        return _Columns(
            self.names,
            self.observers[keep],
            self.observed[keep],
            self.capabilities[keep],
            self.days[keep],
            self.scaled[keep],
        )

    def without(self, people: Sequence[str]) -> _Columns:
        """The ratings of everyone but `people` (rated persons), in their order."""
        np = estimators.load("numpy")
        gone = np.isin(self.observed, np.flatnonzero(np.isin(self.names, list(people))))
        return self.where(~gone)

    def joined(self, other: _Columns) -> _Columns:
        """Both columns' ratings, sorted."""
        np = estimators.load("numpy")
        shift = len(self.names)
        return _Columns.sorted(
            [*self.names.tolist(), *other.names.tolist()],
            np.concatenate([self.observers, other.observers + shift]),
            np.concatenate([self.observed, other.observed + shift]),
            np.concatenate([self.capabilities, other.capabilities + shift]),
            np.concatenate([self.days, other.days]),
            np.concatenate([self.scaled, other.scaled]),
        )

    def pack(self) -> bytes:
        """The columns as bytes (`unpack` reads them): a JSON header (format, byte order, the
        names, the number of ratings), then the five arrays."""
        header = orjson.dumps(
            {
                "format": _PACKED,
                "byteorder": sys.byteorder,
                "names": self.names.tolist(),
                "n": len(self.observers),
            }
        )
        arrays = (self.observers, self.observed, self.capabilities, self.days, self.scaled)
        return b"".join([len(header).to_bytes(8, "little"), header, *(a.tobytes() for a in arrays)])

    @classmethod
    def unpack(cls, data: bytes) -> _Columns | None:
        """Columns `pack` made; None when they are of another format or byte order, or not
        whole (then every rating is read again: they are a copy of the store's rows)."""
        np = estimators.load("numpy")
        dtypes = (np.int32, np.int32, np.int32, np.int32, np.float64)
        try:
            size = int.from_bytes(data[:8], "little")
            header = orjson.loads(data[8 : 8 + size])
            if header.get("format") != _PACKED or header.get("byteorder") != sys.byteorder:
                return None
            n, at = int(header["n"]), 8 + size
            if len(data) != at + n * sum(np.dtype(d).itemsize for d in dtypes):
                return None
            arrays = []
            for dtype in dtypes:
                arrays.append(np.frombuffer(data, dtype=dtype, count=n, offset=at))
                at += np.dtype(dtype).itemsize * n
            return cls(np.array(header["names"], dtype=object), *arrays)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


_PACKED = 1  # the packed columns' format: another is read again, not unpacked


@dataclass(frozen=True, slots=True)
class KeptRatings:
    """What to keep for the next read (store.metrics.keep_rating_columns): the packed
    columns of every counted rating, read at inputs stamp `stamp`; `columns` None: the kept
    ones are these already."""

    stamp: str | None
    columns: bytes | None


def counted_ratings(conn: Connection, as_of: date, since: date | None = None) -> CountedRatings:
    """The counted ratings of `rep` rows dated in (since, as_of] (since None: on or before
    as_of), in one read (store.metrics.rating_columns)."""
    return _counted(conn, _Columns.read(store.rating_columns(conn, since, as_of)), as_of)


def kept_counted_ratings(conn: Connection, as_of: date) -> tuple[CountedRatings, KeptRatings]:
    """`counted_ratings(conn, as_of)`, read from the kept columns and the ratings of the people
    marked since (store.metrics.estimate_dirty) when columns are kept, else of every rating;
    and what to keep for the next read (store.metrics.keep_rating_columns). The same ratings
    in the same order either way (`_Columns.sorted`)."""
    stamp = records.inputs_stamp(conn)
    found = store.kept_rating_columns(conn)
    kept = None if found is None else _Columns.unpack(found[1])
    if found is None or kept is None:
        every = _Columns.read(store.rating_columns(conn, None, None))
        changed = True
    else:
        dirty = store.estimate_dirty(conn)
        every = kept
        if dirty:
            fresh = _Columns.read(store.rating_columns(conn, None, None, dirty=True))
            every = kept.without(dirty).joined(fresh)
        changed = bool(dirty) or found[0] != stamp
    counted = _counted(conn, every.where(every.days <= as_of.toordinal()), as_of)
    # (inputs never written since the store began stamping them: nothing could be kept)
    keepable = changed and stamp is not None
    return counted, KeptRatings(stamp, every.pack() if keepable else None)


def _counted(conn: Connection, read: _Columns, as_of: date) -> CountedRatings:
    """The ratings of `read` whose rated person's HR row on the visit day is a `rep` row."""
    np = estimators.load("numpy")
    employment = employment_by_person(conn)
    names = read.names
    # whether the rated person's HR row on the visit day is a `rep` row: once per distinct
    # (person, day), as one int64 each
    pairs, which = np.unique(
        read.observed.astype(np.int64) << 32 | read.days.astype(np.int64), return_inverse=True
    )
    counted = np.fromiter(
        (
            (history := employment.get(names[pair >> 32])) is not None
            and history.rep_on(date.fromordinal(pair & 0xFFFFFFFF)) is not None
            for pair in pairs.tolist()
        ),
        dtype=bool,
        count=len(pairs),
    )
    keep = counted[which]
    raters = names[read.observers[keep]]
    return CountedRatings(
        raters,
        names[read.observed[keep]],
        names[read.capabilities[keep]],
        read.days[keep].astype(np.int64),
        read.scaled[keep],
        {rater: _region(employment.get(rater), as_of) for rater in set(raters.tolist())},
    )


def rater_inputs(
    conn: Connection,
    as_of: date,
    *,
    days: int = RATER_DAYS,
    counted: CountedRatings | None = None,
) -> tuple[CountedRatings, dict[str, str]]:
    """The model's ratings (rep rows only, in the model's order) and each rater's region;
    `counted`: every counted rating, read already (counted_ratings: the estimates stage reads
    them once for both estimators, and hands them to uplift.collect), else the model's year
    is read here."""
    since = as_of - timedelta(days=days)
    if counted is None:
        counted = counted_ratings(conn, as_of, since)
    rated = counted.where(counted.days > since.toordinal())
    regions = {rater: counted.regions[rater] for rater in set(rated.raters.tolist())}
    return rated, regions


def employment_by_person(conn: Connection) -> dict[str, Employment]:
    """Everyone's HR history (adoption.employment), by hr_id."""
    return {
        hr_id: Employment([row for _, row in rows])
        for hr_id, rows in groupby(hr_rows(conn), key=itemgetter(0))
    }


def _region(history: Employment | None, as_of: date) -> str:
    row = history.on(as_of) if history is not None else None
    return row.region if row is not None and row.region else NO_GROUP


def leniency(
    ratings: CountedRatings,
    regions: dict[str, str],
    as_of: date,
    kept: KeptFits | None = None,
) -> list[Leniency]:
    """The model on `ratings`; `regions`: rater -> region. Each connected group is fitted on
    its own ratings alone; `kept`: take a group's fit from there when those are unchanged."""
    np = estimators.load("numpy")
    pd = estimators.load("pandas")
    # raters as integer codes in the order they first appear, reps likewise
    rater, names = pd.factorize(ratings.raters)
    rep = pd.factorize(ratings.reps)[0]
    n_ratings = np.bincount(rater, minlength=len(names)).tolist()
    width = int(rep.max(initial=0)) + 1  # (rater, rep) pairs as one integer each
    pairs = np.unique(rater.astype(np.int64) * width + rep)
    n_reps = np.bincount(pairs // width, minlength=len(names)).tolist()
    rows = {
        m: Leniency(m, regions.get(m, NO_GROUP), n_ratings[i], n_reps[i], tier(n_reps[i]))
        for i, m in enumerate(names.tolist())
    }
    # each rater's sum of ratings, added in their order (as a running sum one by one would)
    _raw(
        dict(zip(rows, np.bincount(rater, ratings.scaled, len(names)).tolist(), strict=True)), rows
    )
    components = _components(ratings.raters, ratings.reps)
    index = {m: i for i, m in enumerate(rows)}
    group_of = np.empty(len(names), dtype=np.int64)
    for i, component in enumerate(components):
        group_of[[index[m] for m in component]] = i
    group = group_of[rater]
    for i, component in enumerate(components):
        if len(component) == 1:
            rows[component[0]].reason = NOT_IDENTIFIABLE
        elif any(rows[m].tier.shows_estimates for m in component):
            # a group none of whose raters is shown is not fitted: its leniencies (and their
            # reasons) would all be blanked below
            members = ratings.where(group == i)  # the group's ratings, in their order
            places = [rows[m].region for m in component]
            fit = partial(_fit, members, component, places, as_of)
            if kept is None:
                fitted = fit()
            else:
                inputs = (as_of, component, places, members.rows())
                fitted = kept.result("leniency", inputs, fit)
            for m, (value, low, high, reason) in zip(component, fitted, strict=True):
                row = rows[m]
                row.leniency, row.ci_low, row.ci_high, row.reason = value, low, high, reason
    for row in rows.values():
        if not row.tier.shows_estimates:
            row.leniency = row.ci_low = row.ci_high = row.raw = None
    return sorted(rows.values(), key=lambda r: (r.region, r.manager))


def _raw(sums: dict[str, float], rows: dict[str, Leniency]) -> None:
    """Mean minus the mean of the region's other raters (the unadjusted comparison); `sums`:
    each rater's sum of ratings."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for m, own in sums.items():
        region = totals[rows[m].region]
        region[0] += own
        region[1] += rows[m].n_ratings
    for m, own in sums.items():
        n = rows[m].n_ratings
        region_sum, region_n = totals[rows[m].region]
        if region_n > n:
            rows[m].raw = own / n - (region_sum - own) / (region_n - n)


def _components(raters: Sequence[str], reps: Sequence[str]) -> list[list[str]]:
    """Raters joined when they rated a common rep: the connected components of the graph of
    raters and reps (one edge per rating: `raters[i]` rated `reps[i]`), by scipy on integer
    codes. Each group sorted; the groups in the order their earliest rater first appears."""
    if len(raters) == 0:
        return []
    np = estimators.load("numpy")
    pd = estimators.load("pandas")
    csgraph = estimators.load("scipy.sparse.csgraph")
    sparse = estimators.load("scipy.sparse")
    rater, rater_names = pd.factorize(np.array(raters, dtype=object))  # first-appearance order
    rep, rep_names = pd.factorize(np.array(reps, dtype=object))
    first_rep = len(rater_names)  # the reps' nodes follow the raters'
    nodes = first_rep + len(rep_names)
    graph = sparse.csr_matrix(
        (np.ones(len(rater), dtype=np.int8), (rater, rep + first_rep)), shape=(nodes, nodes)
    )
    _count, labels = csgraph.connected_components(graph, directed=False)
    groups: dict[int, list[str]] = {}
    for name, label in zip(rater_names.tolist(), labels[:first_rep].tolist(), strict=True):
        groups.setdefault(label, []).append(name)
    return [sorted(g) for g in groups.values()]


def _fit(
    ratings: CountedRatings, component: list[str], places: list[str], as_of: date
) -> list[tuple[float | None, float | None, float | None, str | None]]:
    """Least squares with rep x capability, period and rater effects on one connected group
    (`places`: each rater's region); per rater of the group: (leniency, 95 % low, high, reason)."""
    np = estimators.load("numpy")
    pd = estimators.load("pandas")
    linalg = estimators.load("diff_diff.linalg")
    frame = pd.DataFrame(
        {
            "unit": ratings.reps + "\x1f" + ratings.capabilities,
            "rep": ratings.reps,
            "period": (as_of.toordinal() - ratings.days) // RATER_PERIOD_DAYS,
            "rater": ratings.raters,
            "y": ratings.scaled,
        }
    )
    others = component[1:]  # the first rater is the reference (effect 0)
    periods = sorted(frame["period"].unique())[1:]
    design = np.column_stack(
        [(frame["rater"] == m).to_numpy(float) for m in others]
        + [(frame["period"] == p).to_numpy(float) for p in periods]
    )
    columns = pd.DataFrame(design).groupby(frame["unit"].to_numpy()).transform("mean")
    x = design - columns.to_numpy()
    y = frame["y"].to_numpy() - frame.groupby("unit")["y"].transform("mean").to_numpy()
    with estimators.quiet("raters"):
        coef, _resid, vcov = linalg.solve_ols(
            x,
            y,
            cluster_ids=frame["rep"].to_numpy(),
            rank_deficient_action="silent",
        )
    k = len(others)
    effects = np.concatenate([[0.0], np.nan_to_num(coef[:k])])
    cov = np.zeros((k + 1, k + 1))
    cov[1:, 1:] = np.nan_to_num(vcov[:k, :k])
    out: list[tuple[float | None, float | None, float | None, str | None]] = [
        (None, None, None, None)
    ] * len(component)
    for region in set(places):
        members = [i for i, place in enumerate(places) if place == region]
        if len(members) == 1:
            out[members[0]] = (None, None, None, "no other rater of the region to compare with")
            continue
        for i in members:
            contrast = np.zeros(k + 1)
            contrast[members] -= 1 / len(members)
            contrast[i] += 1
            value = float(contrast @ effects)
            se = float(np.sqrt(max(contrast @ cov @ contrast, 0.0)))
            out[i] = (value, value - Z_95 * se, value + Z_95 * se, None)
    return out


def write_csv(rows: Sequence[Leniency], out: TextIO) -> None:
    """The raters table as CSV (DESIGN.md's contract)."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.cells())
