"""adoptloop: is what we trained actually being applied in the field?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("adoptloop")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
