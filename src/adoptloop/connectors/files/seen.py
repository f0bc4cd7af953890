"""The record ids a file's read has met so far, for its duplicate check (reader.checked_rows).

A file read whole names every record id once (a duplicate is the exception), so a set of the
ids held one string and one line number object per row to its end: at 50,000 reps the LMS
completions file's 244,000 rows kept ~30 MB of small objects alive while the pull read it, and
the Python heap they had grown stayed fragmented for the rest of the run (bench/RESULTS.md, the
run's peak at 50k). `FirstSeen` keeps each id's hash in one flat array instead (8 bytes a
slot, no object per id, freed whole at the end of the read). Two different ids with
the same hash (or a real duplicate) are told apart exactly: on the first hash met twice, the
ids read so far are read again (`earlier`) into a dict of id -> first line, which then answers
for the rest of the file, as the set of ids did before.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable

_FIRST_SLOTS = 1 << 12  # slots of a new table (a power of two); it doubles when half full


class FirstSeen:
    """`first_line(id, line)`: the line `id` was first met on, else None (then `line` is)."""

    def __init__(self, earlier: Callable[[], Iterable[tuple[str, int]]]) -> None:
        """`earlier`: the file's (record id, line) pairs again, from its start, in the order
        `first_line` was given them (read only if two ids share a hash)."""
        self._earlier = earlier
        self._exact: dict[str, int] | None = None
        self._hashes = array("q", [0]) * _FIRST_SLOTS  # 0: an empty slot
        self._count = 0

    def first_line(self, record_id: str, line: int) -> int | None:
        exact = self._exact
        if exact is not None:
            first = exact.get(record_id)
            if first is None:
                exact[record_id] = line
            return first
        key = hash(record_id) or 1  # never 0, the empty slot
        hashes = self._hashes
        mask = len(hashes) - 1
        slot = key & mask
        while True:
            found = hashes[slot]
            if not found:
                break
            if found == key:  # this id again, or another id with its hash
                return self._switch_to_exact(record_id, line)
            slot = (slot + 1) & mask
        hashes[slot] = key
        self._count += 1
        if 2 * self._count > mask:
            self._grow()
        return None

    def _grow(self) -> None:
        hashes = self._hashes
        mask = 2 * len(hashes) - 1
        grown = self._hashes = array("q", [0]) * (mask + 1)
        for key in hashes:
            if key:
                slot = key & mask
                while grown[slot]:
                    slot = (slot + 1) & mask
                grown[slot] = key

    def _switch_to_exact(self, record_id: str, line: int) -> int | None:
        """The ids met before `line`, read again, in a dict that answers from now on."""
        exact: dict[str, int] = {}
        for earlier_id, earlier_line in self._earlier():
            if earlier_line >= line:
                break
            exact.setdefault(earlier_id, earlier_line)
        self._exact = exact
        self._hashes = array("q")
        return self.first_line(record_id, line)
