"""The sums behind the adoption metrics, and keeping them between runs.

adoption.metrics turns sums into rows; this module forms them. Each person contributes:
- per trained rep x capability (attributed as DESIGN.md says: the `rep` row valid on
  min(trained_at + W, D), none for a leaver), its group in every grouping (region, team,
  manager, module) and its counts (trained, cohort, observed, adopted, sustained, regressed)
  plus its Kaplan-Meier observation: an event `days_to_proficient` days after training, or a
  censoring kept by training day (censored at D - trained_at, whatever D is);
- per person, coaching coverage: eligible on D (and the group of the row that makes them so)
  and visited in (D - 90 d, D], with the first as-of date on which that may differ although
  no input changed (`valid_until`: an employment boundary reaching the 90-day window, a visit
  leaving it, a future-dated visit entering it);
- per person observed on counted visits (any date), written by the database
  (store.aggregates.write_visits, no row through Python): their ratings per capability and
  visit day (the report's reinforcement counts those in (D - 90 d, D] and dates the latest on
  or before D), and each visit's observer, day, days to submission and ratings, which the
  report's rater statistics sum per observer over (D - 90 d, D].

`Aggregates` holds the sums: cells per (grouping, group, capability; "" for coverage) and
Kaplan-Meier's per-day counts (the kept ones read from the store a curve at a time, not
held: `curves`); grouping "*" holds the "(all)" rows; `rated` the ratings per capability and
day (kept in metric_km as grouping "rated": ("rated", "(all)", capability, "r", day number)).
A full computation adds every
contribution (but the ratings per day, which only the kept path reads); `update` (the run's adoption stage) keeps them in the store (schema v8) and
redoes only the people whose states rows the states pass recomputed (store metric_dirty) and
those whose coverage contribution expired, subtracting their stored contribution and adding the
new one. It rebuilds everything when there is no bookmark, after the capability map, a window
or the adoptloop version changed, or when the as-of date went back. A full computation of the
states (the first run; a new map, window or version; an as-of date gone back) rebuilds the sums
beside it instead (`Rebuild`), from each person's rows as it makes them, and leaves the
bookmark: the update after it redoes nobody. tests/adoption/test_aggregates.py checks that the
kept sums, rows and report equal a full recomputation after random edits.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any, Literal

from adoptloop import __version__
from adoptloop.adoption.employment import Employment
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import aggregates as kept
from adoptloop.store import metrics as store
from adoptloop.store.adoption import HRRow, hr_rows
from adoptloop.store.aggregates import CELL_COUNTS, CellKey, KmKey
from adoptloop.store.commits import Commits, Handover
from adoptloop.store.db import streaming
from adoptloop.store.metrics import NO_GROUP, RowSource, TrainedRow, team_key
from adoptloop.store.records import row_digest

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

By = Literal["region", "team", "manager", "module", "capability"]
GROUPINGS = ("region", "team", "manager", "module")  # a trained rep's groupings
COVERAGE_GROUPINGS = ("region", "team", "manager")  # an eligible person's
EVERYONE = "*"  # the grouping of the "(all)" rows
RATED = "rated"  # the grouping of the ratings per capability and day (Aggregates.km)
ALL = "(all)"
COACHING_DAYS = 90
_DAY = timedelta(days=1)
_INDEX = {name: i for i, name in enumerate(CELL_COUNTS)}


def group_of(by: By, row: HRRow, module: str | None = None) -> str | None:
    """The group a row puts a rep in (None: only the "(all)" rows)."""
    if by == "region":
        return row.region or NO_GROUP
    if by == "team":
        return team_key(row.team, row.manager_hr_id) or NO_GROUP
    if by == "manager":
        return row.manager_hr_id or NO_GROUP
    if by == "module":
        return module or NO_GROUP
    return None


def load_people(conn: Connection, only: Sequence[str] | None = None) -> dict[str, Employment]:
    """Everyone's employment (with `only`, those people's), from their HR rows."""
    return {
        hr_id: Employment([row for _, row in rows])
        for hr_id, rows in groupby(hr_rows(conn, only), key=lambda item: item[0])
    }


# --- contributions ------------------------------------------------------------------------------


def rep_values(rep: TrainedRow, person: Employment | None, as_of: date) -> tuple[Any, ...] | None:
    """A trained rep x capability's metric_reps row, the values of store.aggregates.REP_COLUMNS
    in that order (its group in each of GROUPINGS, as group_of puts it); None when it counts
    nowhere."""
    post = person.rep_on(min(rep.window_end, as_of)) if person else None
    if post is None:
        return None
    manager = post.manager_hr_id
    return (
        rep.hr_id,
        rep.capability_id,
        post.region or NO_GROUP,
        team_key(post.team, manager) or NO_GROUP,
        manager or NO_GROUP,
        rep.trained_module or NO_GROUP,
        rep.trained_at,
        bool(rep.in_cohort),
        bool(rep.observed),
        bool(rep.proficient),
        rep.state == "sustained",
        rep.state == "regressed",
        rep.days_to_proficient,
    )


def rep_contribution(
    rep: TrainedRow, person: Employment | None, as_of: date
) -> dict[str, Any] | None:
    """rep_values by column name."""
    values = rep_values(rep, person, as_of)
    return None if values is None else dict(zip(_REP_KEYS, values, strict=True))


_REP_KEYS = tuple(str(c) for c in kept.REP_COLUMNS)  # plain strings, not the columns' names


def person_contribution(
    hr_id: str, rows: Sequence[HRRow], person: Employment, first_visit: date | None, as_of: date
) -> dict[str, Any]:
    """A person's metric_people row: their coverage group on `as_of` (None: not eligible),
    whether visited, and the first as-of date on which either may differ."""
    post = person.eligible_on(as_of, COACHING_DAYS)
    groups = {g: group_of(g, post) if post else None for g in COVERAGE_GROUPINGS}  # type: ignore[arg-type]
    # eligibility and the group read employment over [D - 89, D]: it holds while no boundary
    # (a row's start or end, a hire, a termination) falls within a day of the sliding window
    bounds = [
        day
        for row in rows
        for day in (
            row.valid_from,
            row.valid_to,
            row.hire_date,
            row.termination_date + _DAY if row.termination_date else None,
        )
        if day is not None and day >= as_of - timedelta(days=COACHING_DAYS + 1)
    ]
    until = [as_of + _DAY if day <= as_of + _DAY else day - _DAY for day in bounds]
    if first_visit is not None:  # it leaves the window 90 days on, or enters it on its day
        until.append(
            first_visit + timedelta(days=COACHING_DAYS) if first_visit <= as_of else first_visit
        )
    return {
        "hr_id": hr_id,
        **groups,
        "visited": first_visit is not None and first_visit <= as_of,
        "valid_until": min(until) if until else None,
    }


def contributions(
    conn: Connection,
    source: RowSource,
    capabilities: CapabilityMap,
    as_of: date,
    people: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(metric_reps rows, metric_people rows) of `people` (everyone: None); the database
    writes their visits' contributions (store.aggregates.write_visits)."""
    posts: dict[str, list[HRRow]] = defaultdict(list)
    for hr_id, row in hr_rows(conn, people):
        posts[hr_id].append(row)
    employment = {hr_id: Employment(rows) for hr_id, rows in posts.items()}
    reps = [
        part
        for rep in store.trained_rows(conn, source, people)
        if rep.capability_id in capabilities.capabilities
        and (part := rep_contribution(rep, employment.get(rep.hr_id), as_of)) is not None
    ]
    return reps, _persons(conn, posts, employment, as_of, people)


TOP_BOX = 1.0  # a scaled rating at the top of its scale


def person_contributions(conn: Connection, as_of: date) -> list[dict[str, Any]]:
    """Everyone's metric_people row."""
    posts: dict[str, list[HRRow]] = defaultdict(list)
    for hr_id, row in hr_rows(conn):
        posts[hr_id].append(row)
    employment = {hr_id: Employment(rows) for hr_id, rows in posts.items()}
    return _persons(conn, posts, employment, as_of, None)


def _persons(
    conn: Connection,
    posts: Mapping[str, Sequence[HRRow]],
    employment: Mapping[str, Employment],
    as_of: date,
    people: Sequence[str] | None,
) -> list[dict[str, Any]]:
    visits = store.first_visits(conn, as_of - timedelta(days=COACHING_DAYS), people)
    return [
        person_contribution(hr_id, posts[hr_id], person, visits.get(hr_id), as_of)
        for hr_id, person in employment.items()
    ]


# --- the sums -----------------------------------------------------------------------------------


@dataclass
class Aggregates:
    """cells[(grouping, group, capability)] = CELL_COUNTS; km[(grouping, group, capability,
    kind, day)] = reps (kind "e": proficient `day` days after training; "c": not proficient,
    trained on day number `day`); rated[(capability, day number)] = ratings on that day."""

    cells: dict[CellKey, list[int]] = field(default_factory=dict)
    km: Counter[KmKey] = field(default_factory=Counter)
    rated: Counter[tuple[str, int]] = field(default_factory=Counter)  # (capability, day number)
    # groupings whose Kaplan-Meier counts are the kept ones (metric_km), read by `curves` a
    # curve at a time rather than held in `km` (update's)
    stored: frozenset[str] = frozenset()

    def _cell(self, key: CellKey) -> list[int]:
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = [0] * len(CELL_COUNTS)
        return found

    def add_rep(self, rep: Mapping[str, Any], sign: int = 1) -> None:
        cap = rep["capability_id"]
        keys = [(g, rep[g], cap) for g in GROUPINGS] + [(EVERYONE, ALL, cap)]
        # the first seven CELL_COUNTS, signed once (a rebuild adds ~200,000 reps x 5 cells)
        cohort, observed, adopted = rep["in_cohort"], rep["observed"], rep["proficient"]
        sustained, regressed = rep["sustained"], rep["regressed"]
        cohort_sustained = sign * (cohort and sustained)
        cohort, observed, adopted = sign * cohort, sign * observed, sign * adopted
        sustained, regressed = sign * sustained, sign * regressed
        days = rep["days_to_proficient"]
        kind, day = (
            ("e", max(0, days)) if days is not None else ("c", rep["trained_at"].toordinal())
        )
        cells, km = self.cells, self.km
        for key in keys:
            cell = cells.get(key)
            if cell is None:
                cell = self._cell(key)
            cell[0] += sign
            cell[1] += cohort
            cell[2] += observed
            cell[3] += adopted
            cell[4] += sustained
            cell[5] += regressed
            cell[6] += cohort_sustained
            at = (*key, kind, day)
            km[at] = km.get(at, 0) + sign  # (a Counter's missing key is a Python call)

    def add_person(self, person: Mapping[str, Any], sign: int = 1) -> None:
        if person["region"] is None:  # not eligible
            return
        keys = [(g, person[g], "") for g in COVERAGE_GROUPINGS] + [(EVERYONE, ALL, "")]
        for key in keys:
            cell = self._cell(key)
            cell[_INDEX["eligible"]] += sign
            cell[_INDEX["coached"]] += sign * person["visited"]

    def add(
        self,
        reps: Iterable[Mapping[str, Any]],
        persons: Iterable[Mapping[str, Any]],
        rated: Iterable[kept.RatedDay] = (),
        sign: int = 1,
    ) -> None:
        for rep in reps:
            self.add_rep(rep, sign)
        for person in persons:
            self.add_person(person, sign)
        for cap, day, n in rated:
            self.rated[(cap, day.toordinal())] += sign * n

    def rated_km(self) -> dict[KmKey, int]:
        """`rated` as the kept sums hold it: metric_km rows of grouping "rated"."""
        return {(RATED, ALL, cap, "r", day): n for (cap, day), n in self.rated.items()}

    def ratings(self, as_of: date, days: int) -> dict[str, tuple[int, date | None]]:
        """capability -> (ratings dated in (as_of - days, as_of], the latest rating's date on
        or before as_of), for each capability rated on or before as_of."""
        out: dict[str, tuple[int, date | None]] = {}
        last, first = as_of.toordinal(), as_of.toordinal() - days
        for (cap, day), n in self.rated.items():
            if not n or day > last:
                continue
            count, latest = out.get(cap, (0, None))
            if first < day:
                count += n
            if latest is None or day > latest.toordinal():
                latest = date.fromordinal(day)
            out[cap] = (count, latest)
        return out

    def groups(self, grouping: str) -> Iterator[tuple[str, str, list[int]]]:
        """(group, capability, counts) of the non-empty cells of `grouping`."""
        for (g, group, cap), counts in self.cells.items():
            if g == grouping and any(counts):
                yield group, cap, counts

    def curves(
        self, conn: Connection, grouping: str, as_of: date
    ) -> Iterator[tuple[str, str, Counter[tuple[int, bool]]]]:
        """(group, capability, Counter of Kaplan-Meier observations (days, proficient)) of each
        non-empty curve of `grouping`. A grouping of `stored` is read from the store a curve
        at a time (store.aggregates.km_curves: only one curve's counts are held); any other
        from `km` (a grouping neither in `km` nor in `stored` has no curves)."""
        ordinal = as_of.toordinal()
        counted: Iterable[tuple[str, str, list[kept.KmCount]]]
        if grouping in self.stored:
            counted = kept.km_curves(conn, grouping)
        else:
            mine: dict[tuple[str, str], list[kept.KmCount]] = defaultdict(list)
            for (g, group, cap, kind, day), n in self.km.items():
                if g == grouping:
                    mine[(group, cap)].append((kind, day, n))
            counted = ((group, cap, counts) for (group, cap), counts in mine.items())
        for group, cap, counts in counted:
            observations = _observations(counts, ordinal)
            if observations:
                yield group, cap, observations


def _observations(counts: Iterable[kept.KmCount], ordinal: int) -> Counter[tuple[int, bool]]:
    """One curve's per-day counts as Kaplan-Meier observations (days, proficient): an event
    `day` days after training; a rep not proficient, trained on day number `day`, censored at
    the as-of date's day number `ordinal` minus it."""
    out: Counter[tuple[int, bool]] = Counter()
    for kind, day, n in counts:
        if n:
            out[(day, True) if kind == "e" else (ordinal - day, False)] += n
    return out


def full(
    conn: Connection, source: RowSource, capabilities: CapabilityMap, as_of: date
) -> Aggregates:
    """The sums over everyone (the rows of `source`)."""
    out = Aggregates()
    out.add(*contributions(conn, source, capabilities, as_of))  # the ratings: only kept ones
    return out


# --- kept in the store ----------------------------------------------------------------------------


def basis(capabilities: CapabilityMap) -> str:
    """What every contribution depends on besides the data (a change rebuilds them all)."""
    return row_digest(
        {
            "map": capabilities.spec.model_dump(mode="json"),
            "window_days": capabilities.default_window_days,
            "adoptloop": __version__,
            # 2: the ratings per capability and day (schema v9); 3: the visits (v10)
            "metrics": 3,
        }
    )


# Rows of the kept visits' tables copied per transaction beside a full states computation
# (Rebuild): the pass holds its writes back while one is copied (~0.1 CPU-s at 150,000 rows).
COPY_ROWS = 150_000

# People per transaction when an update redoes more than this many: a chunk's contributions
# and change to the sums are held at once (a full rebuild at 10,000 reps peaked 8 MB lower with
# 2,000 than with 5,000, in the same CPU time).
CHUNK_PEOPLE = 2_000


def update(
    engine: Engine,
    capabilities: CapabilityMap,
    as_of: date,
    groupings: Sequence[str],
    curves: Sequence[str] | None = None,
    coverage: Sequence[str] = (),
) -> tuple[Aggregates, dict[str, Any]]:
    """Bring the kept sums to `as_of` (after the states pass: `bring_to`); returns the sums of
    `groupings` (plus the "(all)" ones) and the coaching coverage cells (capability "") of
    `coverage`, with the Kaplan-Meier curves of `curves` (None: of every one of `groupings`;
    left in the store, `Aggregates.curves` reads them a curve at a time) and the ratings per
    capability and day, and the counts of what was redone (nothing when the run brought the
    sums to `as_of` already)."""
    counts = bring_to(engine, capabilities, as_of)
    with engine.begin() as conn:
        cells = kept.load_cells(conn, [EVERYONE, *groupings])
        cells.update(
            kept.load_cells(conn, [g for g in coverage if g not in groupings], coverage_only=True)
        )
        rated = kept.load_km(conn, [RATED])
    stored = frozenset([EVERYONE, *(groupings if curves is None else curves)])
    ratings = Counter({(k[2], k[4]): n for k, n in rated.items()})
    return Aggregates(cells, rated=ratings, stored=stored), counts


def bring_to(engine: Engine, capabilities: CapabilityMap, as_of: date) -> dict[str, Any]:
    """Bring the kept sums to `as_of` (after the states pass) without reading them; returns
    the counts of what was redone: everyone on a rebuild (no bookmark, another basis, `as_of`
    gone back), else the people whose rows changed or whose figures move with the date.

    The people redone are read and written CHUNK_PEOPLE at a time, each chunk in a
    transaction of its own with its change to the kept sums, so memory and the time a write
    transaction holds the store stay bounded as the org grows (a full rebuild at 100,000 reps
    held one transaction for minutes and 1 GB). The bookmark is forgotten before the first
    chunk, so an update cut short between chunks is followed by a full rebuild; an update of
    one chunk is one transaction, as before."""
    source = RowSource.states()
    with engine.begin() as conn:
        last = kept.last_update(conn)
        rebuild = last is None or last[1] != basis(capabilities) or as_of < last[0]
        people = kept.everyone(conn) if rebuild else kept.due_people(conn, as_of)
    chunks = [people[i : i + CHUNK_PEOPLE] for i in range(0, len(people), CHUNK_PEOPLE)]
    if len(chunks) > 1:
        with engine.begin() as conn:
            kept.forget(conn)
            if rebuild:
                kept.clear(conn)
        for chunk in chunks:
            with engine.begin() as conn:
                _redo(conn, source, capabilities, as_of, chunk, rebuild=rebuild, everyone=False)
    with engine.begin() as conn:
        if len(chunks) <= 1:
            if rebuild:
                kept.clear(conn)
            _redo(conn, source, capabilities, as_of, people, rebuild=rebuild, everyone=rebuild)
        kept.finish_update(conn, as_of, basis(capabilities))
    return {"metrics": "full" if rebuild else "incremental", "people": len(people)}


class Rebuild:
    """The kept sums rebuilt beside a full states computation (adoption.compute), from each
    person's HR rows, employment and states rows as the pass makes them: what `bring_to`'s
    rebuild reads again after the pass (everyone's HR rows and trained states rows, by chunks
    of people) is not read twice. The same contributions and sums as that rebuild: a
    trained row's contribution is `rep_values` of the row (rep_contribution's), a person's is
    `person_contribution`; the visits' are written by the database for everyone at once.

    Written on the pass's writer (store.commits.Commits): `begin` first (the bookmark
    forgotten, every kept row cleared, the visits' rows and their ratings per day), then
    `flush` every CHUNK_PEOPLE people (their contributions: only one chunk's is held), and
    `finish` after the last person: the sums over every contribution, by the database
    (store.aggregates.sum_contributions: the same as `Aggregates.add` of each), and the
    bookmark. A pass cut short leaves no bookmark: the next `bring_to` rebuilds.
    """

    def __init__(self, reader: Connection, capabilities: CapabilityMap, as_of: date) -> None:
        self.capabilities = capabilities
        self.as_of = as_of
        self.people = 0  # taken in
        self.pending = 0  # taken in since the last flush
        self._reps: list[tuple[Any, ...]] = []  # rep_values
        self._persons: list[dict[str, Any]] = []
        since = as_of - timedelta(days=COACHING_DAYS)
        self._visits = store.first_visits_in_order(reader, since)
        self._visit = next(self._visits, None)
        self._aside: threading.Thread | None = None  # the visits' rows (begin)
        self._failed: list[BaseException] = []
        self._lock = Handover()  # the pass lends the write lock to the visits' copy

    def begin(self, writer: Connection) -> None:
        """Forget the bookmark and clear every kept row; the visits' rows and their ratings
        per day for everyone. On SQLite those are read and grouped beside the pass, on a
        connection of their own into its temporary tables (they take no write lock; ~4 CPU-s
        of the database's at 50,000 reps, while the pass runs Python on the other core), then
        copied in when the pass lets go of the write lock for it (`copying`), or at `finish`."""
        kept.forget(writer)
        kept.clear(writer)
        if writer.dialect.name == "sqlite":
            self._aside = threading.Thread(
                target=self._visits_aside, args=(writer.engine,), name="kept-visits", daemon=True
            )
            self._aside.start()
        else:
            kept.write_visits(writer, None, top_box=TOP_BOX)
            _add_rated(writer, kept.rated_sums(writer, None))

    def _visits_aside(self, engine: Engine) -> None:
        try:
            with streaming(engine) as conn:  # a small page cache: each page is read once
                kept.stage_visits(conn, top_box=TOP_BOX)
                rated = kept.staged_rated_sums(conn)  # read before the write lock is taken
                parts = kept.staged_parts(conn, COPY_ROWS)
                for k, part in enumerate(parts):
                    self._lock.take()  # the pass's transaction (with the clear) is committed
                    try:
                        commits = Commits(conn, rows=0, seconds=0.0)  # one transaction

                        def copy(
                            part: kept.StagedPart = part, last: bool = k == len(parts) - 1
                        ) -> None:
                            kept.insert_staged_visits(conn, part)
                            if last:
                                _add_rated(conn, rated)

                        commits.write(copy, 0)
                        commits.close()
                    finally:
                        self._lock.give_back()
                kept.drop_staged(conn)
        except BaseException as error:  # noqa: BLE001 (raised in the pass's thread: finish)
            self._failed.append(error)

    def copying(self, commits: Commits) -> bool:
        """Whether a part of the visits' copy holds the store's write lock now (asked before
        each of the pass's writes, `commits` its transactions): the pass holds its writes
        back meanwhile and goes on making rows (store.commits.Handover). Otherwise it waited
        at its next BEGIN IMMEDIATE for the copy, with nothing to do (at 50,000 reps ~1.2M
        rows, 1-2 s), and the copy waited for the pass's commits."""
        return self._lock.lent(commits)

    def close(self) -> None:
        """Let the visits' rows beside the pass be copied and wait for them (after a failed
        pass too: the writer's transaction ended, their copy commits rows that the next
        rebuild clears)."""
        self._lock.close()
        if self._aside is not None:
            self._aside.join()
            self._aside = None

    def add(
        self,
        hr_id: str,
        posts: Sequence[HRRow],
        person: Employment,
        trained: Iterable[TrainedRow],
    ) -> None:
        """A person's contributions: `trained` their states rows with a trained_at (adoption.
        compute's), `posts` their HR rows (`person` the employment made from them). People
        come in the order of the store's hr_ids (that of store.metrics.first_visits_in_order)."""
        first_visit = None
        if self._visit is not None and self._visit[0] == hr_id:
            first_visit = self._visit[1]
            self._visit = next(self._visits, None)
        mapped = self.capabilities.capabilities
        for rep in trained:
            if rep.trained_at is None or rep.capability_id not in mapped:
                continue
            part = rep_values(rep, person, self.as_of)
            if part is not None:
                self._reps.append(part)
        if posts:  # as `contributions`: everyone with an HR row
            self._persons.append(person_contribution(hr_id, posts, person, first_visit, self.as_of))
        self.people += 1
        self.pending += 1

    def flush(self, writer: Connection) -> None:
        """Write the contributions taken in since the last flush."""
        kept.insert_contributions(writer, self._reps, self._persons)
        self._reps, self._persons, self.pending = [], [], 0

    def finish(self, writer: Connection) -> None:
        """The last people's contributions, the sums over everyone's, and the bookmark: the
        sums are as of `as_of`."""
        self.flush(writer)
        kept.sum_contributions(writer, GROUPINGS, COVERAGE_GROUPINGS, (EVERYONE, ALL))
        if self._aside is not None:
            writer.commit()  # the visits' copy beside the pass (when not made yet) waits
            self.close()  # for the write lock
        if self._failed:
            raise self._failed[0]
        kept.finish_update(writer, self.as_of, basis(self.capabilities))


def _add_rated(conn: Connection, rated: Iterable[kept.RatedDay]) -> None:
    """Add the ratings per capability and day to the kept sums (grouping "rated")."""
    change = Aggregates()
    change.add((), (), rated)
    kept.apply_km(conn, change.rated_km())


def _redo(
    conn: Connection,
    source: RowSource,
    capabilities: CapabilityMap,
    as_of: date,
    people: Sequence[str],
    *,
    rebuild: bool,
    everyone: bool,
) -> None:
    """Replace the contributions of `people` and add the change to the kept sums (after a
    clear, `rebuild`: there is nothing to take away). Only these people's change is held: a
    chunked rebuild's memory is one chunk's, not the whole org's sums (their Kaplan-Meier
    counts are about one key per trained rep and capability by manager and by team)."""
    change = Aggregates()
    if not rebuild:
        change.add(*kept.contributions_of(conn, people), sign=-1)
    reps, persons = contributions(conn, source, capabilities, as_of, people)
    kept.replace_contributions(conn, [] if rebuild else people, reps, persons)
    whom = None if everyone else people
    kept.write_visits(conn, whom, top_box=TOP_BOX)
    change.add(reps, persons, kept.rated_sums(conn, whom))
    kept.apply_cells(conn, change.cells)
    kept.apply_km(conn, {**change.km, **change.rated_km()})  # one write: "rated" is apart
