"""Erased people: the audit entries, and the check that keeps them from being imported again."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import orjson
from sqlalchemy import Connection, select

from adoptloop.store import schema
from adoptloop.store.schema import utcnow
from adoptloop.xapi.ids import erasure_digest


class ErasureList:
    """Answers "was this HR id erased?" without the store holding any erased HR id."""

    def __init__(self, key: bytes, digests: frozenset[str]) -> None:
        self._key = key
        self._digests = digests

    @classmethod
    def load(cls, conn: Connection, key: bytes) -> ErasureList:
        rows = conn.execute(select(schema.erasures.c.subject_digest)).scalars()
        return cls(key, frozenset(rows))

    def __contains__(self, hr_id: object) -> bool:
        return (
            bool(self._digests)
            and isinstance(hr_id, str)
            and erasure_digest(self._key, hr_id) in self._digests
        )


def record_erasure(conn: Connection, key: bytes, hr_id: str, counts: Mapping[str, int]) -> str:
    erasure_id = str(uuid.uuid4())
    conn.execute(
        schema.erasures.insert().values(
            erasure_id=erasure_id,
            erased_at=utcnow(),
            subject_digest=erasure_digest(key, hr_id),
            counts=orjson.dumps(dict(counts), option=orjson.OPT_SORT_KEYS).decode(),
        )
    )
    return erasure_id


def is_recorded(conn: Connection, key: bytes, hr_id: str) -> bool:
    t = schema.erasures
    digest = erasure_digest(key, hr_id)
    return (
        conn.execute(select(t.c.erasure_id).where(t.c.subject_digest == digest)).first() is not None
    )
