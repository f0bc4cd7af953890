"""Issue 17 point 4: bench/growth.py, the growth curve (seconds and peak RSS per stage by size),
on small fake bench/run.py results: nothing is measured here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import growth

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(reps: int, store: str = "sqlite") -> dict[str, Any]:
    """A bench/run.py result for one size, shaped as run.py writes it: stages that grow
    linearly (pull, translate), one that grows as reps^0.5 (adoption), RSS that grows slowly."""
    scale = reps / 1_000
    full_stages = {
        "pull": 10.0 * scale,
        "states": 0.5 * scale,
        "translate": 4.0 * scale,
        "estimates": 5.0 * scale,
        "deliver": 0.0,
        "adoption": 2.0 * scale**0.5,
    }
    return {
        "reps": reps,
        "store": store,
        "full": {
            "seconds": sum(full_stages.values()) + 3.0,
            "stages": full_stages,
            "peak_rss_mb": 200.0 + scale,
            "peak_rss_mb_by_stage": {s: 150.0 + i + scale for i, s in enumerate(full_stages)},
            "rows": {"ratings": 19 * reps},
            "statements": 36 * reps,
        },
        "incremental": {
            "seconds": 1.0 + 0.2 * scale,
            "stages": {"pull": 0.1 * scale, "translate": 0.05 * scale, "adoption": 1.0},
            "peak_rss_mb": 190.0,
        },
    }


def _document(*runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": {"cpus": 2},
        "store": runs[0]["store"],
        "runs": {str(r["reps"]): r for r in runs},
    }


def test_collect_gives_seconds_and_peak_rss_per_stage_and_the_growth_exponents() -> None:
    """Issue 17 point 4: per size the full and incremental seconds by stage and the peak RSS
    after each stage; per stage k in seconds ~ reps^k (1 for a linear stage, 0.5 for one that
    grows as the square root, 0 for a constant one)."""
    documents = [_document(_run(10_000)), _document(_run(1_000), _run(50_000))]

    result = growth.collect(documents)

    assert [s["reps"] for s in result["sizes"]] == [1_000, 10_000, 50_000]
    ten = result["sizes"][1]
    assert ten["full"]["stages"]["translate"] == pytest.approx(40.0)
    assert ten["full"]["peak_rss_mb_by_stage"]["translate"] == pytest.approx(162.0)
    assert ten["incremental"]["stages"]["adoption"] == 1.0
    assert ten["ratings"] == 190_000
    full = result["exponents"]["full"]
    assert full["pull"] == pytest.approx(1.0, abs=1e-3)
    assert full["adoption"] == pytest.approx(0.5, abs=1e-3)
    assert "deliver" not in full  # 0 s: nothing to fit
    assert result["exponents"]["incremental"]["adoption"] == pytest.approx(0.0, abs=1e-3)
    assert result["store"] == "sqlite"


def test_plot_only_redraws_the_same_png_from_the_json(tmp_path: Path) -> None:
    """Issue 17 point 4: the PNG is made from bench/growth.json alone: `--plot-only` redraws
    it byte for byte (no date or version in it), and a missing JSON is a clear usage error."""
    sources = []
    for reps in (1_000, 10_000, 50_000, 100_000):
        path = tmp_path / f"run-{reps}.json"
        path.write_text(json.dumps(_document(_run(reps, "postgresql"))))
        sources.append(str(path))
    out_json, first, again = tmp_path / "growth.json", tmp_path / "a.png", tmp_path / "b.png"

    assert growth.main(["--from", *sources, "--json", str(out_json), "--png", str(first)]) == 0
    assert growth.main(["--plot-only", "--json", str(out_json), "--png", str(again)]) == 0

    assert first.read_bytes().startswith(PNG_SIGNATURE)
    assert first.read_bytes() == again.read_bytes()
    assert json.loads(out_json.read_text())["store"] == "postgresql"
    with pytest.raises(SystemExit) as usage:
        growth.main(["--plot-only", "--json", str(tmp_path / "none.json")])
    assert usage.value.code == 2


def test_measuring_runs_bench_run_once_per_size_without_delivery(tmp_path: Path) -> None:
    """Issue 17 point 4: each size is its own bench/run.py (--deliver 0, the chosen store, its
    JSON kept per size), and the curve is collected from what they wrote."""
    calls: list[list[str]] = []

    def fake_run(argv: list[str]) -> int:
        calls.append(argv)
        reps = int(argv[argv.index("--reps") + 1])
        Path(argv[argv.index("--out") + 1]).write_text(json.dumps(_document(_run(reps))))
        return 0

    out_json = tmp_path / "growth.json"
    argv = ["--reps", "1000", "2000", "--results", str(tmp_path), "--json", str(out_json)]
    assert growth.main([*argv, "--png", str(tmp_path / "g.png")], run=fake_run) == 0

    assert [c[:6] for c in calls] == [
        ["--reps", "1000", "--deliver", "0", "--store", "sqlite"],
        ["--reps", "2000", "--deliver", "0", "--store", "sqlite"],
    ]
    assert (tmp_path / "growth-sqlite-2000.json").is_file()
    assert [s["reps"] for s in json.loads(out_json.read_text())["sizes"]] == [1_000, 2_000]
