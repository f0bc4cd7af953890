"""Identity resolution through the store (pipeline/identity.py + store/identities.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select

from adoptloop.domain import ERASED, PersonRef
from adoptloop.mappings.identity import IdentityRule
from adoptloop.pipeline import identity
from adoptloop.pipeline.identity import IdentityResolver
from adoptloop.pipeline.suppression import Suppression
from adoptloop.store import identities, records, schema
from adoptloop.store.db import open_store
from tests.support import hr_row

RULES = [IdentityRule(attribute="Email", person_field="email")]


def _store(tmp_path: Path) -> Engine:
    engine = open_store(f"sqlite:///{tmp_path}/store.db")
    with engine.begin() as conn:
        records.upsert_people(conn, [hr_row("E1", "ana@example.com"), hr_row("E2", "bo@x.io")])
    return engine


def test_a_new_account_is_matched_remembered_and_then_looked_up(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    ana = PersonRef("crm", "U1", {"Email": "ANA@example.com"})
    with engine.begin() as conn:
        assert IdentityResolver(RULES).resolve(conn, ana) == "E1"
    with engine.begin() as conn:
        assert identities.known(conn, "crm", ["U1"]) == {"U1": "E1"}
        # a later run needs no rule: the account is known (even if the email changed since)
        moved = PersonRef("crm", "U1", {"Email": "nobody@example.com"})
        assert IdentityResolver(RULES).resolve(conn, moved) == "E1"


def test_an_account_nobody_matches_is_none_and_not_remembered(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    with engine.begin() as conn:
        resolver = IdentityResolver(RULES)
        resolver.prefetch(conn, [PersonRef("crm", "U9", {"Email": "who@example.com"})])
        assert resolver.resolve(conn, PersonRef("crm", "U9", {})) is None
        assert conn.execute(select(func.count()).select_from(schema.identities)).scalar() == 0


def test_an_account_of_an_erased_person_is_erased_and_never_written_down(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    with engine.begin() as conn:
        suppression = Suppression(b"k" * 16)
        suppression.add("hr_id", "E2")
        resolver = IdentityResolver(RULES, suppression=suppression)
        assert resolver.resolve(conn, PersonRef("crm", "U2", {"Email": "bo@x.io"})) == ERASED
        assert identities.known(conn, "crm", ["U2"]) == {}


def test_prefetch_answers_many_accounts_as_resolve_would_one_by_one(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    refs = [
        PersonRef("crm", "U1", {"Email": "ana@example.com"}),
        PersonRef("crm", "U2", {"Email": "bo@x.io"}),
        PersonRef("crm", "U3", {"Email": "nobody@x.io"}),
    ]
    with engine.begin() as conn:
        batch = IdentityResolver(RULES)
        batch.prefetch(conn, refs)
        answers = [batch.resolve(conn, r) for r in refs]
    assert answers == ["E1", "E2", None]
    with engine.begin() as conn:
        assert identities.known(conn, "crm", ["U1", "U2", "U3"]) == {"U1": "E1", "U2": "E2"}


def test_a_full_resolver_cache_starts_over_and_prefetched_accounts_need_no_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, flat memory: the resolver's cache is bounded (it no longer grows with the
    org); once full it starts over with the batch at hand, so the accounts a batch prefetched
    are still answered without a query, and the answers are the same."""
    monkeypatch.setattr(identity, "_CACHE_LIMIT", 2)
    engine = _store(tmp_path)
    ana = PersonRef("crm", "U1", {"Email": "ana@example.com"})
    bo = PersonRef("crm", "U2", {"Email": "bo@x.io"})
    nobody = PersonRef("crm", "U3", {"Email": "who@example.com"})
    queries: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    with engine.begin() as conn:
        resolver = IdentityResolver(RULES)
        resolver.prefetch(conn, [ana, bo])
        resolver.prefetch(conn, [nobody])  # a full cache: starts over with this batch's
        queries.clear()
        assert resolver.resolve(conn, nobody) is None
        assert queries == []  # answered from the cache
        assert [resolver.resolve(conn, ref) for ref in (ana, bo)] == ["E1", "E2"]
