"""Deterministic synthetic org of any size, for the benchmarks and the tests' fake APIs.

``generate_org(out_dir, spec)`` writes the nightly file drops (and, with ``apis=True``, the data
behind the fake Salesforce, SCIM and Moodle APIs). ``python -m bench.synthetic --out DIR``.
"""

from bench.synthetic.org import generate_org, main
from bench.synthetic.rows import CAPABILITIES, MODULES
from bench.synthetic.spec import GeneratedCounts, OrgSpec

__all__ = ["CAPABILITIES", "MODULES", "GeneratedCounts", "OrgSpec", "generate_org", "main"]
