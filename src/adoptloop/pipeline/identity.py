"""Identity resolution for the pull stage: every source's person id -> the HR id.

An account already matched is looked up in the store; a new one is matched by the source's
identity rules (mappings/identity.py) against the people in the store, and remembered. An
account of an erased person (on the suppression list, pipeline/suppression.py, or one that
matches an erased HR id) is answered with ERASED before any lookup, and never written down; so
is an account a parked record keeps as ERASED.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from adoptloop.domain import ERASED, PersonRef
from adoptloop.mappings.identity import IdentityRule, match_accounts
from adoptloop.pipeline.suppression import Suppression
from adoptloop.store import identities
from adoptloop.store.identities import Identity

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Accounts a resolver remembers (about 200 bytes each): a run's batches name far fewer at a
# time, so a full cache starts over rather than grow with the org (at 50,000 reps, 55,000
# accounts); the store remembers every match, so an account asked again is one indexed lookup.
_CACHE_LIMIT = 20_000


class IdentityResolver:
    """Resolves PersonRefs of one source; caches what it has seen in this run."""

    def __init__(
        self, rules: Sequence[IdentityRule], *, suppression: Suppression | None = None
    ) -> None:
        self.rules = tuple(rules)
        self.suppression = suppression or Suppression(b"")
        self._cache: dict[tuple[str, str], str | None] = {}

    def resolve(self, conn: Connection, ref: PersonRef) -> str | None:
        """The HR id (ERASED for an erased person), or None when nobody matches."""
        key = (ref.system, ref.external_id)
        try:
            return self._cache[key]  # the usual case: prefetched
        except KeyError:
            pass
        answers = self._resolve(conn, [ref])
        self._remember(answers)
        return answers[key]

    def prefetch(self, conn: Connection, refs: Iterable[PersonRef]) -> None:
        """Resolve many refs with a few queries, so that the `resolve` calls that follow are
        answered from the cache."""
        todo: dict[tuple[str, str], PersonRef] = {}
        cache = self._cache
        for ref in refs:
            key = (ref.system, ref.external_id)
            if key not in cache and key not in todo:
                todo[key] = ref
        if todo:
            self._remember(self._resolve(conn, list(todo.values())))

    def _remember(self, answers: dict[tuple[str, str], str | None]) -> None:
        """Into the cache; a cache that cannot take them starts over (its memory is bounded,
        and the accounts of the batch at hand are the ones asked for next)."""
        if len(answers) > _CACHE_LIMIT:
            return
        if len(self._cache) + len(answers) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache.update(answers)

    def _resolve(
        self, conn: Connection, refs: Sequence[PersonRef]
    ) -> dict[tuple[str, str], str | None]:
        answers: dict[tuple[str, str], str | None] = {}
        by_system: dict[str, list[str]] = defaultdict(list)
        for ref in refs:
            if ref.external_id == ERASED or self.suppression.account(ref, self.rules):
                answers[(ref.system, ref.external_id)] = ERASED
            else:
                by_system[ref.system].append(ref.external_id)
        for system, external_ids in by_system.items():
            for external_id, hr_id in identities.known(conn, system, external_ids).items():
                answers[(system, external_id)] = hr_id
        new = [r for r in refs if (r.system, r.external_id) not in answers]
        matches = match_accounts(
            self.rules, new, lambda field, values: identities.people_by(conn, field, values)
        )
        fresh = []
        for ref in new:
            key = (ref.system, ref.external_id)
            match = matches.get(key)
            if match is None:
                answers[key] = None
            elif match.hr_id in self.suppression:
                answers[key] = ERASED  # matched an erased person: never written down again
            else:
                answers[key] = match.hr_id
                fresh.append(Identity(ref.system, ref.external_id, match.hr_id, match.matched_by))
        identities.remember(conn, fresh)
        return answers
