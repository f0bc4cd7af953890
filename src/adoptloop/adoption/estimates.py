"""The causal estimates of one as-of date: per capability the `(all)` uplift row
(adoption/uplift.py) and every rater's leniency (adoption/raters.py).

A run needs them twice, for the estimate statements (pipeline/estimates.py) and for the report
(report/causal.py): the estimates stage computes them and the run hands the same rows to the
report. They are kept in the store, at two levels:

- The rows, with their basis: the as-of date, the capability map, the versions of adoptloop
  and of the statistics libraries, and the store's inputs stamp (store.records: every write of
  people, completions, observations or ratings replaces it). A computation on the same basis
  takes the kept rows without reading anything (a run with nothing new; `adoptloop report`
  after a run).
- Each fit's result under the digest of that fit's own inputs (adoption/kept_fits.py): an
  uplift fit reads one capability's panel cells, a leniency fit one connected group of raters'
  ratings and regions. When the basis changed, the inputs are read and only the fits whose
  inputs changed are made again; the others are taken as kept.

The fits are deterministic functions of exactly those inputs, so the kept rows and results are
what a fit gives (tests/adoption/test_kept_estimates.py). The counted ratings are read once for
both estimators (the leniency model's year is most of the uplift panels' too); the estimates
process reads them through the ones kept between runs (`kept_ratings`: the columns of every
counted rating and the ratings of the people written since, raters.kept_counted_ratings), in
the same order as a read of every rating, so the same fits' inputs. Reading the
inputs imports only numpy (the panels' cells are summed with it); the rest of the statistics
libraries (seconds and about 120 MB) only a fit imports.

The `(all)` rows here carry no pre-trend test (neither the statements nor the report show it);
`adoptloop uplift` fits its own rows with it.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from typing import TYPE_CHECKING, Any

import orjson

from adoptloop import __version__
from adoptloop.adoption.kept_fits import KeptFits
from adoptloop.adoption.raters import (
    KeptRatings,
    Leniency,
    counted_ratings,
    kept_counted_ratings,
    leniency,
    rater_inputs,
)
from adoptloop.adoption.smallnumbers import Tier
from adoptloop.adoption.uplift import Uplift, collect, fit
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import adoption as store
from adoptloop.store import records
from adoptloop.store.db import release_cache

if TYPE_CHECKING:
    from sqlalchemy import Connection

_LIBRARIES = ("diff-diff", "numpy", "pandas", "scipy")
KINDS = ("uplift", "leniency")


@dataclass(frozen=True)
class Estimates:
    uplift: list[Uplift]  # the `(all)` row of each capability, by capability
    leniency: list[Leniency]  # every rater, by region then manager
    inputs: str  # the digest of their basis (see the module's docstring)
    reused: bool  # taken from the store whole: nothing read, nothing fitted
    fits: dict[str, dict[str, int]]  # per kind: fits made and fits taken from the kept ones
    kept_fits: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # the counted ratings read, for the next computation (store.metrics.keep_rating_columns);
    # None: not read through the kept ones (`estimates_as_of`'s `kept_ratings`)
    kept_ratings: KeptRatings | None = field(default=None, repr=False, compare=False)


def estimates_as_of(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    *,
    free: bool = True,
    kept_ratings: bool = False,
) -> Estimates:
    """The estimates as of `as_of`: the kept ones on the same basis, else computed with each
    fit whose inputs are unchanged taken from the kept ones (and not kept: `keep` does that,
    in a write transaction). Needs the uplift extra (estimators.require) when a fit is made.
    `free`: collect the fits' garbage before returning (False: the caller is a process that
    ends once it has answered, pipeline/estimates_child.py). `kept_ratings`: the counted
    ratings are read through the kept ones (raters.kept_counted_ratings: the ratings of the
    people marked since and the kept columns of everyone else's), and what to keep for the
    next computation comes back as the estimates' `kept_ratings` (the estimates process hands
    it to the run, which keeps it: pipeline/estimates_child.py `KeptRatingsFile`)."""
    salt, inputs, kept, earlier = _kept(conn, capabilities, as_of)
    if kept.get("inputs") == inputs:
        return _reused(kept, inputs, earlier)
    fits = KeptFits(earlier, salt)
    read: KeptRatings | None = None
    if kept_ratings:  # one read for both estimators
        counted, read = kept_counted_ratings(conn, as_of)
    else:
        counted = counted_ratings(conn, as_of)
    rated, regions = rater_inputs(conn, as_of, counted=counted)
    panels = collect(conn, capabilities, as_of, None, rated=counted)
    del counted  # the panels and the model's year hold what the fits need
    release_cache(conn)  # the pages read: of no use to the fits, which need the memory
    rows = leniency(rated, regions, as_of, kept=fits)
    del rated
    uplift = fit(panels, capabilities, None, pretrend=False, kept=fits)
    if free and fits.fitted:
        # the fits' frames sit in reference cycles (pandas' blocks): freed now, not at the
        # collector's next full pass, so the next stage starts without them (about 9 MB at
        # 10,000 reps)
        gc.collect()
    return Estimates(
        uplift,
        rows,
        inputs,
        reused=False,
        fits=fits.counts(KINDS),
        kept_fits=fits.used,
        kept_ratings=read,
    )


def kept_as_of(conn: Connection, capabilities: CapabilityMap, as_of: date) -> Estimates | None:
    """The kept estimates when they are on this basis (nothing written to their inputs since
    they were computed, the same as-of date, map and library versions): what `estimates_as_of`
    would return without reading anything; None when it would read and fit. Reads the kept
    row and the inputs stamp, and imports no statistics library: the run asks before it sets
    its estimates' process to work (pipeline/run.py)."""
    _, inputs, kept, earlier = _kept(conn, capabilities, as_of)
    return _reused(kept, inputs, earlier) if kept.get("inputs") == inputs else None


def _kept(
    conn: Connection, capabilities: CapabilityMap, as_of: date
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """(the salt, the basis of estimates as of `as_of`, the kept estimates or {}, their fits
    when kept under the same salt or {})."""
    salt = _salt()
    inputs = _basis(salt, capabilities, as_of, records.inputs_stamp(conn))
    kept = store.kept_estimates(conn) or {}
    earlier = kept.get("fits", {}) if kept.get("salt") == salt else {}
    return salt, inputs, kept, earlier


def _reused(kept: dict[str, Any], inputs: str, earlier: dict[str, Any]) -> Estimates:
    return Estimates(
        *_rows(kept),
        inputs,
        reused=True,
        fits={k: {"fitted": 0, "reused": kept["fits_made"][k]} for k in KINDS},
        kept_fits=earlier,
    )


def keep(conn: Connection, estimates: Estimates) -> None:
    """Keep computed estimates, and the fits they came from, for the next computation."""
    if estimates.reused:
        return
    store.keep_estimates(
        conn,
        {
            "inputs": estimates.inputs,
            "salt": _salt(),
            "uplift": [_plain(row) for row in estimates.uplift],
            "leniency": [_plain(row) for row in estimates.leniency],
            "fits": estimates.kept_fits,
            "fits_made": {k: sum(c.values()) for k, c in estimates.fits.items()},
        },
    )


def as_plain(estimates: Estimates) -> dict[str, Any]:
    """The estimates as JSON-able values (what the estimates' process sends the run:
    pipeline/estimates_child.py); `from_plain` makes them again."""
    return {
        "uplift": [_plain(row) for row in estimates.uplift],
        "leniency": [_plain(row) for row in estimates.leniency],
        "inputs": estimates.inputs,
        "reused": estimates.reused,
        "fits": estimates.fits,
        "kept_fits": estimates.kept_fits,
    }


def from_plain(plain: dict[str, Any]) -> Estimates:
    """The estimates `as_plain` gave (the rows as the kept ones are read: equal to a fit's)."""
    return Estimates(
        *_rows(plain),
        plain["inputs"],
        reused=plain["reused"],
        fits=plain["fits"],
        kept_fits=plain["kept_fits"],
    )


def _rows(plain: dict[str, Any]) -> tuple[list[Uplift], list[Leniency]]:
    return (
        [Uplift(**{**row, "tier": Tier(row["tier"])}) for row in plain["uplift"]],
        [Leniency(**{**row, "tier": Tier(row["tier"])}) for row in plain["leniency"]],
    )


def _plain(row: Uplift | Leniency) -> dict[str, Any]:
    """The row's fields as plain values (what dataclasses.asdict gives, without its deep copy
    of every value: the fields are strings, numbers and None, but for a pre-trend)."""
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    if isinstance(row, Uplift) and row.pretrend is not None:
        values["pretrend"] = dataclasses.asdict(row.pretrend)
    return {**values, "tier": row.tier.value}


def _salt() -> str:
    """What every fit depends on besides its inputs: the versions of adoptloop and of the
    statistics libraries."""
    versions = {name: _version(name) for name in _LIBRARIES} | {"adoptloop": __version__}
    return orjson.dumps(versions, option=orjson.OPT_SORT_KEYS).decode()


def _basis(salt: str, capabilities: CapabilityMap, as_of: date, stamp: str | None) -> str:
    """BLAKE2b-128 of what the rows depend on besides the stored inputs, and the inputs stamp."""
    return hashlib.blake2b(
        orjson.dumps(
            {
                "salt": salt,
                "as_of": as_of,
                "map": capabilities.spec.model_dump(mode="json"),
                "windows": {c: capabilities.window_days(c) for c in capabilities.capabilities},
                "stamp": stamp,
            },
            option=orjson.OPT_SORT_KEYS,
        ),
        digest_size=16,
    ).hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
