"""The table bench/run.py prints: one column per size, one row per figure, with its target
(the issue's targets; the JSON keeps them under `targets`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TARGETS = {
    "statements_per_second": 20_000,
    "translate_vs_kernel": 0.8,
    "translate_vs_naive": 2.5,
    "pull_vs_bare_fetch": 0.7,
    "peak_rss_mb": 200,
    "incremental_ratio": 0.02,
    "adoption_seconds": 30,
    "delivery_ratio": 0.90,
    "serve_two_vs_one": 1.6,
    "unchanged_api_calls": 10,
}


def _rows(results: list[dict[str, Any]]) -> Iterator[tuple[str, list[str], str]]:
    def get(r: dict[str, Any], *path: str) -> Any:
        node: Any = r
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def fmt(value: Any, unit: str = "") -> str:
        if value is None:
            return "-"
        if isinstance(value, float) and unit == "%":
            return f"{value:.1%}"
        if isinstance(value, int | float):
            return f"{value:,}{unit}"
        return str(value)

    yield "ratings (rating statements)", [fmt(get(r, "adoption", "ratings")) for r in results], ""
    yield "full run, seconds", [fmt(get(r, "full", "seconds")) for r in results], ""
    for stage in ("pull", "states", "translate", "deliver", "adoption"):
        yield f"  {stage}", [fmt(get(r, "full", "stages", stage)) for r in results], ""
    yield (
        "statements made",
        [fmt(get(r, "full", "statements")) for r in results],
        "",
    )
    yield (
        "translate statements/s",
        [fmt(get(r, "full", "statements_per_second")) for r in results],
        f">= {TARGETS['statements_per_second']:,}",
    )
    yield (
        "  translate_vs_kernel",
        [fmt(r.get("translate_vs_kernel")) for r in results],
        f">= {TARGETS['translate_vs_kernel']}",
    )
    yield (
        "  translate_vs_naive",
        [fmt(r.get("translate_vs_naive")) for r in results],
        f">= {TARGETS['translate_vs_naive']}",
    )
    yield (
        "pull_vs_bare_fetch (CRM)",
        [fmt(r.get("pull_vs_bare_fetch")) for r in results],
        f">= {TARGETS['pull_vs_bare_fetch']}",
    )
    yield (
        "  ceiling at this CPU (pull + org over the cores)",
        [fmt(get(r, "pull_vs_bare_fetch_ceiling", "ceiling")) for r in results],
        "",
    )
    yield (
        "peak RSS, MB",
        [fmt(get(r, "full", "peak_rss_mb")) for r in results],
        f"<= {TARGETS['peak_rss_mb']}, +10% 10k->50k",
    )
    for stage in ("pull", "states", "translate", "estimates", "deliver", "adoption"):
        yield (
            f"  after {stage}",
            [fmt(get(r, "full", "peak_rss_mb_by_stage", stage)) for r in results],
            "",
        )
    yield (
        "  translate's workers (added up)",
        [fmt(get(r, "full", "workers_peak_rss_mb", "translate")) for r in results],
        "",
    )
    yield (
        "peak RSS with the workers, MB",
        [fmt(get(r, "full", "peak_rss_mb_with_workers")) for r in results],
        "upper bound",
    )
    yield (
        "the run's processes at once, MB",
        [fmt(get(r, "full", "peak_rss_mb_processes")) for r in results],
        "sampled",
    )
    yield "store size, MB", [fmt(get(r, "full", "store_mb")) for r in results], ""
    yield "SF API calls, full", [fmt(get(r, "full", "salesforce_api_calls")) for r in results], ""
    yield "incremental run, seconds", [fmt(get(r, "incremental", "seconds")) for r in results], ""
    yield (
        "incremental / full",
        [fmt(get(r, "incremental", "ratio"), "%") for r in results],
        f"<= {TARGETS['incremental_ratio']:.0%}",
    )
    yield (
        "  sync stages only",
        [fmt(get(r, "incremental", "sync_ratio"), "%") for r in results],
        "",
    )
    yield (
        "SF API calls, incremental",
        [fmt(get(r, "incremental", "salesforce_api_calls")) for r in results],
        "~ changed rows",
    )
    yield (
        "  / full",
        [fmt(get(r, "incremental", "api_calls_ratio"), "%") for r in results],
        "",
    )
    yield (
        "SF API calls, unchanged run",
        [fmt(get(r, "unchanged", "salesforce_api_calls")) for r in results],
        f"<= {TARGETS['unchanged_api_calls']}",
    )
    yield (
        "  unchanged run, seconds",
        [fmt(get(r, "unchanged", "seconds")) for r in results],
        "",
    )
    yield (
        "adoption (states + metrics), s",
        [fmt(get(r, "adoption", "seconds")) for r in results],
        f"< {TARGETS['adoption_seconds']} s",
    )
    yield (
        "delivery / raw ceiling",
        [fmt(get(r, "delivery", "ratio"), "%") for r in results],
        f">= {TARGETS['delivery_ratio']:.0%}",
    )
    yield (
        "  delivery statements/s",
        [
            f"{fmt(get(r, 'delivery', 'per_second'))} / {fmt(get(r, 'delivery', 'raw_ceiling_per_second'))}"
            for r in results
        ],
        "",
    )
    yield (
        "serve_two_vs_one",
        [fmt(r.get("serve_two_vs_one")) for r in results],
        f">= {TARGETS['serve_two_vs_one']}",
    )
    yield (
        "  serve statements/s, 1 / 2 nodes",
        [
            f"{fmt(get(r, 'serve_nodes', 'one', 'per_second'))} / {fmt(get(r, 'serve_nodes', 'two', 'per_second'))}"
            for r in results
        ],
        "",
    )
    yield (
        "  LRS (remote: stand-in; local)",
        [str(get(r, "serve_nodes", "lrs") or "-") for r in results],
        "",
    )
    yield (
        "  LRS round trip added, ms",
        [fmt(get(r, "serve_nodes", "lrs_latency_ms")) for r in results],
        "",
    )
    yield (
        "  1 node / raw ceiling",
        [fmt(get(r, "serve_nodes", "one_vs_raw_ceiling"), "%") for r in results],
        "",
    )
    yield (
        "  sent twice (2 nodes)",
        [fmt(get(r, "serve_nodes", "two", "sent_twice")) for r in results],
        "0",
    )


def print_table(results: list[dict[str, Any]]) -> None:
    heads = [f"{r['reps']:,} reps, {r['store']}" for r in results]
    rows = list(_rows(results))
    first = max(len(label) for label, _, _ in rows)
    widths = [max(len(h), *(len(v[i]) for _, v, _ in rows)) for i, h in enumerate(heads)]
    print(
        f"{'':<{first}}  "
        + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
        + "  target"
    )
    for label, values, target in rows:
        cells = "  ".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))
        print(f"{label:<{first}}  {cells}  {target}")
