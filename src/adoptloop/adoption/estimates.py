"""The causal estimates of one as-of date, fitted once: per capability the `(all)` uplift row
(adoption/uplift.py) and every rater's leniency (adoption/raters.py).

A run needs them twice, for the estimate statements (pipeline/estimates.py) and for the report
(report/causal.py): the estimates stage computes them and the run hands the same rows to the
report. They are also kept in the store with the digest of everything the fits read: each
capability's panel of counted ratings (rep, day, proficient, trained_at) and its window, the
leniency model's ratings and the raters' regions, the as-of date, and the versions of
adoptloop and of the statistics libraries. A later computation whose inputs have the same
digest takes the kept rows instead of fitting again (a run with no new ratings, completions or
HR changes; `adoptloop report` after a run): the fits are deterministic functions of exactly
those inputs, so the kept rows are the rows a fit gives. Reading the inputs imports none of the
statistics libraries (seconds and about 120 MB): only a fit does.

The `(all)` rows here carry no pre-trend test (neither the statements nor the report show it);
`adoptloop uplift` fits its own rows with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from typing import TYPE_CHECKING, Any

import orjson

from adoptloop import __version__
from adoptloop.adoption.raters import Leniency, Rated, leniency, rater_inputs
from adoptloop.adoption.smallnumbers import Tier
from adoptloop.adoption.uplift import Panel, Uplift, collect, fit
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import adoption as store

if TYPE_CHECKING:
    from sqlalchemy import Connection

_LIBRARIES = ("diff-diff", "numpy", "pandas", "scipy")
_CHUNK = 10_000  # ratings per piece of the digest


@dataclass(frozen=True)
class Estimates:
    uplift: list[Uplift]  # the `(all)` row of each capability, by capability
    leniency: list[Leniency]  # every rater, by region then manager
    inputs: str  # the digest of what they were fitted on
    reused: bool  # taken from the store, not fitted


def estimates_as_of(conn: Connection, capabilities: CapabilityMap, as_of: date) -> Estimates:
    """The estimates as of `as_of`: the kept ones when the inputs are the same, else fitted
    (and not kept: `keep` does that, in a write transaction). Needs the uplift extra
    (estimators.require) when they are fitted."""
    panels = collect(conn, capabilities, as_of, None)
    rated, regions = rater_inputs(conn, as_of)
    inputs = _digest(panels, rated, regions, capabilities, as_of)
    kept = store.kept_estimates(conn, inputs)
    if kept is not None:
        return Estimates(
            [Uplift(**{**row, "tier": Tier(row["tier"])}) for row in kept["uplift"]],
            [Leniency(**{**row, "tier": Tier(row["tier"])}) for row in kept["leniency"]],
            inputs,
            reused=True,
        )
    uplift = fit(panels, capabilities, None, pretrend=False)
    del panels  # the ratings are summed into the rows: free them before the next fits
    return Estimates(uplift, leniency(rated, regions, as_of), inputs, reused=False)


def keep(conn: Connection, estimates: Estimates) -> None:
    """Keep fitted estimates in the store for the next computation on the same inputs."""
    if estimates.reused:
        return
    store.keep_estimates(
        conn,
        estimates.inputs,
        {
            "uplift": [_plain(row) for row in estimates.uplift],
            "leniency": [_plain(row) for row in estimates.leniency],
        },
    )


def _plain(row: Uplift | Leniency) -> dict[str, Any]:
    return {**dataclasses.asdict(row), "tier": row.tier.value}


def _digest(
    panels: dict[str, Panel],
    rated: Sequence[Rated],
    regions: dict[str, str],
    capabilities: CapabilityMap,
    as_of: date,
) -> str:
    """BLAKE2b-128 of everything the fits read (floats as orjson writes them: exact)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(
        orjson.dumps(
            {
                "as_of": as_of,
                "adoptloop": __version__,
                "libraries": {name: _version(name) for name in _LIBRARIES},
                "windows": {c: capabilities.window_days(c) for c in panels},
                "regions": regions,
            },
            option=orjson.OPT_SORT_KEYS,
        )
    )
    for capability in sorted(panels):
        ratings = panels[capability].ratings
        digest.update(orjson.dumps(capability))
        for start in range(0, len(ratings), _CHUNK):
            digest.update(
                orjson.dumps(
                    [
                        (r.rep, r.day, r.proficient, r.trained_at)
                        for r in ratings[start : start + _CHUNK]
                    ]
                )
            )
    digest.update(b"raters")
    for start in range(0, len(rated), _CHUNK):
        digest.update(
            orjson.dumps(
                [
                    (r.rater, r.rep, r.capability, r.day, r.scaled)
                    for r in rated[start : start + _CHUNK]
                ]
            )
        )
    return digest.hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
