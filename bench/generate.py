"""Generate a deterministic synthetic org of any size for the benchmarks.

    .venv/bin/python -m bench.generate --reps 50000 --out /tmp/org-50k

Writes the nightly file drops (hris/, lms/, crm/ — what the file connectors read) and, unless
--no-apis, the same org as the data behind the fake APIs of the tests: salesforce/*.jsonl (the
fake Salesforce org), scim/Users.jsonl (a SCIM server), moodle/*.jsonl (the fake Moodle).

The org: one regional director per region (about one region per 1,000 reps, at least three),
first-line managers with 8 field staff each, reps/KAMs/MSLs with effective-dated history
(hires, team and region moves, leavers); 3-6 LMS completions per rep (some failed assessments
and retakes); a ride-along coaching report every 3-5 weeks with 2-4 ratings that follow a
learning curve after training and carry the rater's leniency (one lenient and one harsh
manager in every ten); development actions; about one call a week. --bad-share corrupts that
share of the LMS and CRM rows (unknown users, bad dates, ratings out of scale).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

from bench.synthetic import GeneratedCounts, OrgSpec, generate_org

DEFAULT_BAD_SHARE = 0.02


def regions_for(reps: int) -> tuple[str, ...]:
    """About one region (one regional director) per 1,000 field staff, at least three."""
    count = max(3, round(reps / 1000))
    if count == 3:
        return ("North", "South", "West")
    return tuple(f"Region {i:02d}" for i in range(1, count + 1))


def spec_for(
    reps: int, *, seed: int = OrgSpec.seed, bad_share: float = DEFAULT_BAD_SHARE
) -> OrgSpec:
    return OrgSpec(reps=reps, regions=regions_for(reps), seed=seed, bad_share=bad_share)


def generate(out: Path, spec: OrgSpec, *, apis: bool = True) -> GeneratedCounts:
    return generate_org(out, spec, apis=apis)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, required=True, help="field staff (reps, KAMs, MSLs)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=OrgSpec.seed)
    parser.add_argument("--bad-share", type=float, default=DEFAULT_BAD_SHARE)
    parser.add_argument("--no-apis", action="store_true", help="only the file drops")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    spec = spec_for(args.reps, seed=args.seed, bad_share=args.bad_share)
    counts = generate(args.out, spec, apis=not args.no_apis)
    for f in fields(counts):
        sys.stdout.write(f"{f.name}: {getattr(counts, f.name)}\n")
    sys.stdout.write(f"seconds: {time.perf_counter() - started:.1f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
