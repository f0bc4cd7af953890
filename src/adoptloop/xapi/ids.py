"""Deterministic identifiers: statement ids and pseudonymous actors.

- A statement id is a UUIDv5 of its stable key and revision under a UUID derived from the
  customer's namespace, so the same source record always gives the same id.
- An actor is an xAPI account whose name is HMAC-SHA256(key, hr_id) in hex: stable for a
  person, meaningless without the key, and never an email or a name.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any


def uuid5_str(namespace: bytes, name: str) -> str:
    """`str(uuid.uuid5(UUID(bytes=namespace), name))`, without building UUID objects."""
    return _uuid5_hex(hashlib.sha1(namespace, usedforsecurity=False), name)


def _uuid5_hex(prefix: Any, name: str) -> str:
    """The UUIDv5 string of `prefix` (a sha1 holding the namespace bytes) extended by `name`."""
    sha = prefix.copy()
    sha.update(name.encode("utf-8"))
    digest = sha.digest()
    h = digest.hex()
    # version 5 in the 13th hex digit; the RFC 4122 variant (10xx) in the 17th
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[(digest[8] >> 4) & 3]}{h[17:20]}-{h[20:32]}"


_VARIANT = "89ab"


class StatementIds:
    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._root = uuid.uuid5(uuid.NAMESPACE_URL, namespace).bytes
        self._prefix = hashlib.sha1(self._root, usedforsecurity=False)

    def __reduce__(self) -> tuple[type[StatementIds], tuple[str]]:
        """Pickled as its namespace (a sha1 object does not pickle): for the translate stage's
        worker process."""
        return StatementIds, (self._namespace,)

    def statement(self, key: str, revision: int) -> str:
        return _uuid5_hex(self._prefix, f"{key}#{revision}")

    def voiding(self, voided_id: str) -> str:
        return _uuid5_hex(self._prefix, f"void#{voided_id}")


class Pseudonymizer:
    def __init__(self, home_page: str, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the actor HMAC key must be at least 16 bytes")
        self._home_page = home_page
        self._key = key
        self._cache: dict[str, str] = {}
        self._agents: dict[str, dict[str, Any]] = {}

    def name(self, hr_id: str) -> str:
        name = self._cache.get(hr_id)
        if name is None:
            name = hmac.new(self._key, hr_id.encode("utf-8"), hashlib.sha256).hexdigest()
            if len(self._cache) < 200_000:
                self._cache[hr_id] = name
        return name

    def agent(self, hr_id: str) -> dict[str, Any]:
        """The actor; the same dict for the same person (callers never change it)."""
        agent = self._agents.get(hr_id)
        if agent is None:
            agent = {
                "objectType": "Agent",
                "account": {"homePage": self._home_page, "name": self.name(hr_id)},
            }
            if len(self._agents) < 200_000:
                self._agents[hr_id] = agent
        return agent


def suppression_digest(key: bytes, kind: str, value: str) -> str:
    """The keyed digest (HMAC-SHA256 with the actor key) an erased person's identifier is
    remembered by: enough to recognise it again, not to recover it. `kind` says what the value
    is ("hr_id", "email", "employee_number", "account:<system>"); an HR id's digest is the
    erasure's subject digest, as stores before v5 kept it."""
    scope = b"" if kind == "hr_id" else kind.encode("utf-8") + b"\x00"
    return hmac.new(key, b"erasure\x00" + scope + value.encode("utf-8"), hashlib.sha256).hexdigest()
