"""Fits kept by the digest of their own inputs: each uplift fit (one capability's panel) and
each leniency fit (one connected group of raters) is made again only when what it reads
changed (adoption/estimates.py hands one `KeptFits` to uplift.fit and raters.leniency).

A fit is a deterministic function of its inputs and of the versions of adoptloop and of the
statistics libraries (the `salt`), so the result kept under the digest of exactly those inputs
is the result a new fit gives. Results go through JSON both ways (a new one too), so a kept
result and a new one are the same values of the same types.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson


class KeptFits:
    """The results of earlier fits (digest -> {"kind", "result"}) and the ones made or taken
    this time (`used`: what to keep for the next computation)."""

    def __init__(self, kept: Mapping[str, Any], salt: str) -> None:
        self._kept = kept
        self._salt = salt.encode()
        self.used: dict[str, dict[str, Any]] = {}
        self.fitted: Counter[str] = Counter()
        self.reused: Counter[str] = Counter()

    def result(self, kind: str, inputs: Any, fit: Callable[[], Any]) -> Any:
        """The kept result of the `kind` fit on `inputs` (orjson-serialisable), else `fit()`."""
        digest = hashlib.blake2b(self._salt, digest_size=16)
        digest.update(kind.encode())
        digest.update(orjson.dumps(inputs))
        key = digest.hexdigest()
        entry = self._kept.get(key)
        if entry is not None and entry["kind"] == kind:
            self.reused[kind] += 1
        else:
            entry = {"kind": kind, "result": orjson.loads(orjson.dumps(fit()))}
            self.fitted[kind] += 1
        self.used[key] = entry
        return entry["result"]

    def counts(self, kinds: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per kind: fits made and fits taken from the kept ones."""
        return {k: {"fitted": self.fitted[k], "reused": self.reused[k]} for k in kinds}
