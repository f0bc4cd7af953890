"""The statistics library behind `uplift` and `raters`: loaded on demand, quiet, or a clear error.

Both commands estimate with diff-diff (https://github.com/igerber/diff-diff, MIT): the
imputation difference-in-differences estimator of Borusyak, Jaravel and Spiess (2024) for
uplift, its OLS kit (`diff_diff.linalg.solve_ols`, cluster-robust CR1) for rater leniency.
It is the optional extra `adoptloop[uplift]` (numpy, pandas and scipy come with it); without
it the commands stop with exit 2 and say what to install. Importing them costs seconds and about
120 MB (scipy.stats, pandas): `require` checks they are installed without importing them, and
`load` imports them only where they are used (numpy for the uplift panels' cells, the rest where
a fit runs). docs/uplift.md records why this
library (a comparison with pyfixest's did2s and Callaway-Sant'Anna on simulated orgs).
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import structlog

from adoptloop.errors import ConfigError

log = structlog.get_logger(__name__)

INSTALL_HINT = "pip install 'adoptloop[uplift]'"
_MODULES = ("diff_diff", "numpy", "pandas", "scipy")


def require() -> None:
    """ConfigError (exit 2) naming the extra when one of its libraries is not installed; finds
    them without importing them (a run whose estimates are reused never pays the import)."""
    for module in _MODULES:
        if importlib.util.find_spec(module) is None:
            raise _missing(module)


def installed() -> bool:
    """Whether every library of the extra is installed (found without importing them)."""
    try:
        require()
    except ConfigError:
        return False
    return True


def load(module: str = "diff_diff") -> ModuleType:
    """Import `module` of the uplift extra; ConfigError (exit 2) naming the extra when missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing(exc.name or module) from None


def _missing(module: str) -> ConfigError:
    return ConfigError(
        f"uplift and raters need the optional statistics libraries ({module} is not "
        f"installed): {INSTALL_HINT}"
    )


@contextmanager
def quiet(what: str) -> Iterator[None]:
    """Run a fit with the library's warnings (rank deficiency, few clusters, deprecations)
    logged at debug level instead of printed: the commands report their own caveats."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        log.debug("estimator warning", fit=what, warning=str(warning.message)[:300])
