"""Who was employed when, in which HR row: the one place adoption reads HR history.

DESIGN.md ("Adoption", precise rules) speaks of HR rows with `valid_to` and `termination_date`
both the last day employed (inclusive), employment as the union of a person's rows, and, where
rows overlap, the latest `valid_from` winning. This module answers those questions on what the
store holds, with these conventions (each decides real numbers):

- The store's `people.valid_to` is EXCLUSIVE (the day the next row starts; NULL = open): a row
  covers day d when valid_from <= d < valid_to. The HR readers write it so (store/records.py
  `upsert_people` sets it to the next row's valid_from), so an HR file's inclusive valid_to V
  arrives as V + 1 (or as the next row's start).
- Within the days a row covers, the person is employed from `hire_date` (the hire day counts)
  through `termination_date` (the last day employed counts); without a hire date from the row's
  start, without a termination date to the row's end. A row with status `terminated` and no
  termination date employs nobody (a leaver row of the implicit HR form). A termination date
  before the row's own hire date belongs to an earlier spell (a rehire row that kept it) and
  is ignored.
- Employed on d = some row employs the person on d (the union; a rehire leaves a gap where no
  row does). The row valid on d = among the rows employing the person on d, the one with the
  latest valid_from. No such row = the person had left (or was not hired yet): nothing about
  them is attributed to a group on d.
- Only `rep` rows count in cohorts and coaching metrics (FIELD_ROLE); the store keeps canonical
  roles (the `roles:` map is applied at pull).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from adoptloop.mappings.roles import FIELD_ROLE
from adoptloop.store.adoption import HRRow

_DAY = timedelta(days=1)


def employed_span(row: HRRow) -> tuple[date, date | None] | None:
    """The days `row` employs the person: (first, last inclusive; None = open), or None."""
    first = max(row.valid_from, row.hire_date) if row.hire_date else row.valid_from
    last = row.valid_to - _DAY if row.valid_to is not None else None
    ends = row.termination_date
    if ends is not None and row.hire_date is not None and ends < row.hire_date:
        ends = None  # an earlier spell's termination carried on a rehire row
    if ends is None and row.status == "terminated":
        return None
    if ends is not None:
        last = ends if last is None else min(last, ends)
    if last is not None and last < first:
        return None
    return first, last


class Employment:
    """One person's HR rows (any order): employment and the row valid on a day."""

    __slots__ = ("_spans",)

    def __init__(self, rows: Sequence[HRRow]) -> None:
        spans = [(span, row) for row in rows if (span := employed_span(row)) is not None]
        # latest valid_from first: the first span containing a day is the row valid on it
        self._spans = sorted(spans, key=lambda s: s[1].valid_from, reverse=True)

    def on(self, day: date) -> HRRow | None:
        """The HR row valid on `day` (latest valid_from among those employing); None: not
        employed that day."""
        for (first, last), row in self._spans:
            if first <= day and (last is None or day <= last):
                return row
        return None

    def rep_on(self, day: date) -> HRRow | None:
        """The row valid on `day` when it is a field (`rep`) row; None otherwise."""
        row = self.on(day)
        return row if row is not None and row.role == FIELD_ROLE else None

    def employed_days(self, start: date, end: date) -> tuple[int, date | None]:
        """(days employed in [start, end], the last of them or None): the union of the rows."""
        clipped: list[tuple[date, date]] = []
        for (first, last), _row in self._spans:
            lo, hi = max(first, start), end if last is None else min(last, end)
            if lo <= hi:
                clipped.append((lo, hi))
        clipped.sort()
        days, covered_to = 0, None  # covered_to: the last day already counted
        for lo, hi in clipped:
            begin = lo if covered_to is None else max(lo, covered_to + _DAY)
            if begin <= hi:
                days += (hi - begin).days + 1
            covered_to = hi if covered_to is None else max(covered_to, hi)
        return days, covered_to

    def eligible_on(self, as_of: date, window_days: int) -> HRRow | None:
        """Coaching eligibility over (as_of - window_days, as_of]: employed on at least half of
        those days (45 of 90), and a `rep` in the row valid on the last employed day of the
        window; returns that row (the person's group), or None when not eligible."""
        days, last = self.employed_days(as_of - timedelta(days=window_days - 1), as_of)
        if last is None or 2 * days < window_days:
            return None
        return self.rep_on(last)
