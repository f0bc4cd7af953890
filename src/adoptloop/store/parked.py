"""Parked records: domain records waiting for their person to be matched.

They are stored as JSON with tagged dataclasses and dates (never pickle: the store must not
be able to run code), and decoded back into the same domain records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, select

from adoptloop import domain
from adoptloop.domain import PersonRef, Record
from adoptloop.store import schema

_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        domain.PersonRef,
        domain.Account,
        domain.Rating,
        domain.Completion,
        domain.CoachingObservation,
        domain.DevelopmentAction,
        domain.FieldInteraction,
    )
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$": type(value).__name__, **fields}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_restore(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    fields = {k: _restore(v) for k, v in value.items() if k != "$"}
    if "$" in value:
        return _CLASSES[value["$"]](**fields)
    return fields


def encode(record: Record) -> str:
    return orjson.dumps(_plain(record)).decode()


def decode(payload: str) -> Record:
    record = _restore(orjson.loads(payload))
    if not isinstance(
        record,
        domain.Account
        | domain.Completion
        | domain.CoachingObservation
        | domain.DevelopmentAction
        | domain.FieldInteraction,
    ):
        raise ValueError("parked payload is not a domain record")
    return record


@dataclass(frozen=True, slots=True)
class Parked:
    id: int
    source: str
    stream: str
    record_key: str
    system: str
    external_id: str
    record: Record


def park(
    conn: Connection,
    source: str,
    stream: str,
    key: str,
    ref: PersonRef,
    record: Record,
    run_id: str,
) -> None:
    t = schema.parked
    where = (t.c.source == source) & (t.c.stream == stream) & (t.c.record_key == key)
    values = {
        "system": ref.system,
        "external_id": ref.external_id,
        "payload": encode(record),
        "parked_run": run_id,
    }
    if conn.execute(select(t.c.id).where(where)).first() is None:
        conn.execute(t.insert().values(source=source, stream=stream, record_key=key, **values))
    else:
        conn.execute(t.update().where(where).values(**values))


def unpark(conn: Connection, source: str, stream: str, keys: Sequence[str]) -> None:
    """These records were stored (re-read and resolved): no longer waiting."""
    if keys:
        t = schema.parked
        conn.execute(
            delete(t).where(
                (t.c.source == source) & (t.c.stream == stream) & t.c.record_key.in_(list(keys))
            )
        )


def parked_keys(conn: Connection, source: str, stream: str) -> set[str]:
    """Keys of the records of `stream` that wait for their person."""
    t = schema.parked
    return set(
        conn.execute(
            select(t.c.record_key).where((t.c.source == source) & (t.c.stream == stream))
        ).scalars()
    )


def waiting(
    conn: Connection, source: str | None, *, after_id: int = 0, limit: int = 500
) -> list[Parked]:
    """The next records waiting (of every source when `source` is None), by id."""
    t = schema.parked
    query = select(
        t.c.id, t.c.source, t.c.stream, t.c.record_key, t.c.system, t.c.external_id, t.c.payload
    ).where(t.c.id > after_id)
    if source is not None:
        query = query.where(t.c.source == source)
    rows = conn.execute(query.order_by(t.c.id).limit(limit)).all()
    return [
        Parked(r.id, r.source, r.stream, r.record_key, r.system, r.external_id, decode(r.payload))
        for r in rows
    ]


def drop(conn: Connection, ids: Sequence[int]) -> int:
    """Delete these parked records (by id); how many."""
    t = schema.parked
    return sum(
        conn.execute(delete(t).where(t.c.id.in_(list(ids[i : i + 500])))).rowcount
        for i in range(0, len(ids), 500)
    )


def waiting_for(conn: Connection, source: str, ref: PersonRef) -> int:
    t = schema.parked
    return int(
        conn.execute(
            select(func.count()).where(
                (t.c.source == source)
                & (t.c.system == ref.system)
                & (t.c.external_id == ref.external_id)
            )
        ).scalar_one()
    )


Rate = Callable[[str, float], "domain.Rating | None"]


def rescale_legacy_ratings(conn: Connection, rate: Rate) -> int:
    """After the v3 migration, once: parked observations written before v3 hold their ratings as
    (item, raw) only; each becomes the full Rating `rate` gives (None: the item is no longer
    rated in the capability map, and the rating is dropped, as a connector would not read it).
    Returns how many parked records were rewritten."""
    t = schema.parked
    rewritten = 0
    rows = conn.execute(
        select(t.c.id, t.c.payload).where(t.c.payload.contains('"$":"Rating"'))
    ).all()
    for row_id, payload in rows:
        data = orjson.loads(payload)
        legacy = [r for r in data.get("ratings", []) if "capability_id" not in r]
        if not legacy:
            continue
        ratings = []
        for rating in data["ratings"]:
            if "capability_id" in rating:
                ratings.append(rating)
            elif (scaled := rate(rating["item"], rating["raw"])) is not None:
                ratings.append(_plain(scaled))
        data["ratings"] = ratings
        conn.execute(t.update().where(t.c.id == row_id).values(payload=orjson.dumps(data).decode()))
        rewritten += 1
    return rewritten
