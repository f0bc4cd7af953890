"""The adoption stage: the rep x capability states after the pull, the outputs at the end.

A run calls it twice (pipeline/run.py):
- `refresh_states`, right after the pull: adoption_states as of D, so the translate stage
  turns the changed states into adoption statements, and the kept sums of the adoption table
  (adoption.aggregates) brought to D from them, while the estimates process fits beside the
  run (the run waited for it with nothing to do, and did this work after it);
- `write_outputs`, last: the adoption table by group (adoption.metrics) from those sums,
  written as adoption.csv, and the HTML report (adoption.report) beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adoptloop.adoption import aggregates
from adoptloop.adoption.compute import update_states
from adoptloop.adoption.metrics import By, MetricsRow, metric_rows, write_table_csv
from adoptloop.adoption.report.assemble import ReportOptions, build_report_data, write_report
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.pipeline.heap import heap_frozen
from adoptloop.store.db import small_heap
from adoptloop.store.metrics import RowSource
from adoptloop.xapi.ids import Pseudonymizer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from adoptloop.adoption.estimates import Estimates
    from adoptloop.settings.model import Settings


def refresh_states(engine: Engine, capabilities: CapabilityMap, as_of: date) -> dict[str, Any]:
    """Bring adoption_states to `as_of`, then the kept sums from them (`write_outputs` then
    only reads the sums); returns the stage's counts (adoption.compute, and the sums' under
    "kept_sums": those of the rebuild beside a full computation, else
    adoption.aggregates.bring_to's).

    The collector leaves the heap the run had before out of its passes (pipeline.heap): a
    full pass makes a few containers per rep x capability (~300,000 at 50,000 reps) and
    holds them briefly, yet started ~2,500 young and a few full collections (the pass alone
    at 50,000 reps: 1.0 of its 14.3 CPU-s; 0.2 s so)."""
    with heap_frozen():
        counts = update_states(engine, capabilities, as_of)
        with small_heap(engine):  # as in write_outputs: the sums' tables are small
            brought = aggregates.bring_to(engine, capabilities, as_of)
    counts.setdefault("kept_sums", brought)
    return counts


@dataclass(frozen=True)
class AdoptionOutputs:
    rows: list[MetricsRow]
    csv: Path
    report: Path


def report_options(settings: Settings) -> ReportOptions:
    """adoption.report's settings for the report, with the statements' actor pseudonymiser
    (the labels of `show_names: false`)."""
    actor = settings.xapi.actor
    actors = Pseudonymizer(actor.home_page, actor.key.get_secret_value().encode("utf-8"))
    report = settings.adoption.report
    return ReportOptions(
        show_names=report.show_names,
        stale_after_days=report.stale_after_days,
        pseudonym=actors.name,
    )


def write_outputs(
    engine: Engine,
    capabilities: CapabilityMap,
    as_of: date,
    *,
    by: By,
    output_dir: Path,
    options: ReportOptions | None = None,
    estimates: Estimates | None = None,
) -> AdoptionOutputs:
    """The adoption table grouped `by`, as `output_dir`/adoption.csv, and the report as
    `output_dir`/adoption.html (its region rows are the table's when `by` is region; its
    uplift and raters `estimates` when the run has them already), from the sums kept in the
    store (adoption.aggregates.update: only what changed is redone)."""
    curves = sorted({by, "region"} - {"capability"})  # the table's and the report's
    # the collector kept off the heap the run had before, as in refresh_states (the stage
    # alone at 50,000 reps: 711 collections, 0.35 of its 1.9 CPU-s; 60, 0.05 s so)
    # the stage's tables are small: a smaller page cache does (small_heap)
    with heap_frozen(), small_heap(engine):
        # the managers' teams: only their coaching coverage (at 50k reps, 37,466 of the
        # manager grouping's 43,717 cells are per capability, of no use to the report)
        sums, _counts = aggregates.update(
            engine, capabilities, as_of, curves, curves, coverage=["manager"]
        )
        # the survival curves' per-day counts are read a curve at a time (Aggregates.curves)
        with engine.connect() as conn:
            rows = metric_rows(conn, sums, capabilities, as_of, by)
        table = write_csv(rows, output_dir / "adoption.csv")
        with engine.connect() as conn:
            data = build_report_data(
                conn,
                RowSource.states(),
                capabilities,
                as_of,
                by_region=rows if by == "region" else None,
                options=options,
                sums=sums,
                estimates=estimates,
            )
    del sums  # the report's data is made: its HTML is written without the sums beside it
    return AdoptionOutputs(rows, table, write_report(output_dir / "adoption.html", data))


def write_csv(rows: Sequence[MetricsRow], path: Path) -> Path:
    """The adoption table as CSV (columns: adoption.metrics.COLUMNS), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        write_table_csv(rows, fh)
    tmp.replace(path)
    return path
