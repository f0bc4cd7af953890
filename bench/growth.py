"""The growth curve: seconds and peak RSS per stage as the org grows, as JSON and a PNG.

    .venv/bin/python -m bench.growth                           # 1k, 10k, 50k, 100k reps (hours)
    .venv/bin/python -m bench.growth --reps 1000 10000 --store postgresql
    .venv/bin/python -m bench.growth --from bench/results/a.json bench/results/b.json
    .venv/bin/python -m bench.growth --plot-only               # bench/growth.png from growth.json

Each size is one `bench/run.py --reps N --deliver 0` (its own process tree, its JSON kept as
bench/results/growth-<store>-<N>.json, so that a size that fails leaves the others). From
those results `bench/growth.json` gets, per size: the ratings, the full run's and the
incremental run's seconds by stage, and the peak RSS of the run process after each stage; and
per stage the growth exponent `k` of seconds ~ reps^k (least squares on log-log: 1 is linear,
below 1 better than linear). `--from` builds the same from results already measured (one
size or several per file). The PNG (matplotlib, the `bench` extra) is drawn from the JSON
alone, so `--plot-only` redraws it, byte for byte, without measuring anything.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench.run import main as run_main

BENCH = Path(__file__).resolve().parent
SIZES = (1_000, 10_000, 50_000, 100_000)
STAGES = ("pull", "states", "translate", "estimates", "deliver", "adoption")
JSON_OUT = BENCH / "growth.json"
PNG_OUT = BENCH / "growth.png"

Runner = Callable[[list[str]], int]  # bench.run.main


def measure(sizes: Sequence[int], store: str, results: Path, run: Runner) -> list[Path]:
    """One bench/run.py per size; the paths of their JSON results."""
    paths = []
    for reps in sizes:
        path = results / f"growth-{store}-{reps}.json"
        print(f"growth: {reps:,} reps ({store}) -> {path}", file=sys.stderr)
        argv = ["--reps", str(reps), "--deliver", "0", "--store", store, "--out", str(path)]
        if run(argv) != 0:
            raise SystemExit(f"bench/run.py {' '.join(argv)} failed")
        paths.append(path)
    return paths


def collect(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The growth document from bench/run.py result documents (sizes sorted, last one wins)."""
    runs: dict[int, dict[str, Any]] = {}
    stores = set()
    machine: dict[str, Any] = {}
    for document in documents:
        machine = document.get("machine", machine)
        for run in document["runs"].values():
            runs[int(run["reps"])] = run
            stores.add(run.get("store", document.get("store", "sqlite")))
    sizes = [_size(runs[reps]) for reps in sorted(runs)]
    return {
        "store": "+".join(sorted(stores)),
        "machine": machine,
        "sizes": sizes,
        "exponents": {phase: _exponents(sizes, phase) for phase in ("full", "incremental")},
    }


def _size(run: dict[str, Any]) -> dict[str, Any]:
    full, incremental = run["full"], run.get("incremental", {})
    return {
        "reps": run["reps"],
        "ratings": full.get("rows", {}).get("ratings"),
        "statements": full.get("statements"),
        "full": {
            "seconds": full["seconds"],
            "stages": _stages(full.get("stages", {})),
            "peak_rss_mb": full.get("peak_rss_mb"),
            "peak_rss_mb_by_stage": _stages(full.get("peak_rss_mb_by_stage", {})),
        },
        "incremental": {
            "seconds": incremental.get("seconds"),
            "stages": _stages(incremental.get("stages", {})),
            "peak_rss_mb": incremental.get("peak_rss_mb"),
        },
    }


def _stages(values: dict[str, Any]) -> dict[str, float]:
    return {stage: values[stage] for stage in STAGES if values.get(stage) is not None}


def _exponents(sizes: list[dict[str, Any]], phase: str) -> dict[str, float | None]:
    """k in seconds ~ reps^k per stage (and for the whole run), fitted on log-log."""
    series: dict[str, list[tuple[float, float]]] = {"total": []}
    for size in sizes:
        seconds = size[phase]["seconds"]
        if seconds:
            series["total"].append((size["reps"], seconds))
        for stage, value in size[phase]["stages"].items():
            if value > 0:
                series.setdefault(stage, []).append((size["reps"], value))
    return {name: _slope(points) for name, points in series.items()}


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len({x for x, _ in points}) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return round(num / den, 3)


# --- the plot ------------------------------------------------------------------------------------


def plot(growth: dict[str, Any], png: Path) -> None:
    """Three panels: full run seconds by stage, incremental seconds by stage (log-log, with a
    dashed linear line through the smallest size's total), and peak RSS by stage."""
    sizes = growth["sizes"]
    reps = [s["reps"] for s in sizes]
    fig = Figure(figsize=(16, 5), dpi=100)
    axes = fig.subplots(1, 3)
    for ax, phase, title in (
        (axes[0], "full", "full run"),
        (axes[1], "incremental", "incremental run (1% changed)"),
    ):
        exponents = growth["exponents"][phase]
        _line(ax, reps, [s[phase]["seconds"] for s in sizes], "total", exponents, "black")
        for stage in STAGES:
            _line(ax, reps, [s[phase]["stages"].get(stage) for s in sizes], stage, exponents)
        first = sizes[0][phase]["seconds"]
        if first:
            ax.plot(
                reps,
                [first * r / reps[0] for r in reps],
                linestyle="--",
                color="grey",
                label="linear",
            )
        ax.set(xscale="log", yscale="log", xlabel="reps", ylabel="seconds", title=title)
    ax = axes[2]
    _line(ax, reps, [s["full"]["peak_rss_mb"] for s in sizes], "whole run", None, "black")
    for stage in STAGES:
        _line(ax, reps, [s["full"]["peak_rss_mb_by_stage"].get(stage) for s in sizes], stage, None)
    ax.set(xscale="log", xlabel="reps", ylabel="MB", title="peak RSS after each stage (full run)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"adoptloop growth ({growth['store']} store)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    # no Software/date metadata: the same JSON gives the same bytes
    fig.savefig(png, format="png", metadata={"Software": None})


def _line(
    ax: Any,
    reps: list[int],
    values: list[Any],
    name: str,
    exponents: dict[str, float | None] | None,
    color: str | None = None,
) -> None:
    points = [(r, v) for r, v in zip(reps, values, strict=True) if v]
    if not points:
        return
    k = (exponents or {}).get(name)
    label = f"{name} (k={k})" if k is not None else name
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label, color=color)


# --- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None, run: Runner | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--from",
        dest="sources",
        type=Path,
        nargs="+",
        default=None,
        help="bench/run.py result files to build the curve from (nothing is measured)",
    )
    parser.add_argument("--plot-only", action="store_true", help="redraw --png from --json")
    parser.add_argument("--json", type=Path, default=JSON_OUT)
    parser.add_argument("--png", type=Path, default=PNG_OUT)
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    if args.plot_only:
        if not args.json.is_file():
            parser.error(f"--plot-only: {args.json} does not exist (measure first)")
        plot(json.loads(args.json.read_text()), args.png)
        print(f"plot: {args.png}")
        return 0
    if args.sources is None:
        args.sources = measure(args.reps, args.store, args.results, run or run_main)
    growth = collect([json.loads(path.read_text()) for path in args.sources])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(growth, indent=2, sort_keys=True) + "\n")
    plot(growth, args.png)
    for phase, exponents in growth["exponents"].items():
        print(f"{phase}: seconds ~ reps^k, " + ", ".join(f"{s} {k}" for s, k in exponents.items()))
    print(f"growth: {args.json}\nplot: {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
