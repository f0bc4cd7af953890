"""``python -m bench.synthetic --out DIR``: see bench/synthetic/org.py."""

import sys

from bench.synthetic.org import main

sys.exit(main())
