"""A small org written straight into a real SQLite store, one readable call per fact.

The adoption tests (outcomes, metrics, report data) build their scenarios with this: HR rows,
LMS completions, coaching visits with ratings, development actions and cursors, stored the way
the pull stage leaves them. Unless a test says otherwise the as-of date D is 2024-06-30 (a
Sunday) and training happens on T = D - 120 days, so the default 90-day window (T, T + 90]
closed 30 days before D.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from adoptloop.adoption.compute import update_states
from adoptloop.adoption.metrics import By, MetricsRow, adoption_metrics
from adoptloop.mappings.capability_map import (
    Capability,
    CapabilityMap,
    CapabilityMapFile,
    CoachingItem,
    Scale,
)
from adoptloop.store import cursors, schema
from adoptloop.store.db import open_store
from adoptloop.store.metrics import RowSource

OBJ = "objection-handling"  # threshold 0.75, default 90-day window
DISC = "discovery"  # threshold 0.5, 30-day window
HIGH, LOW = 0.8, 0.5  # proficient / not proficient on objection handling

D = date(2024, 6, 30)
T = D - timedelta(days=120)
EPOCH = date(2020, 1, 1)


def day(offset: int) -> date:
    """`offset` days after T (day(0) is the training day)."""
    return T + timedelta(days=offset)


def before(days: int, as_of: date = D) -> date:
    """`days` days before the as-of date."""
    return as_of - timedelta(days=days)


def capability_map() -> CapabilityMap:
    return CapabilityMap(
        CapabilityMapFile(
            scales={"five-point": Scale(min=1, max=5)},
            capabilities=[
                Capability(id=OBJ, name="Objection handling", threshold=0.75),
                Capability(id=DISC, name="Discovery", threshold=0.5, window_days=30),
            ],
            modules={
                "MOD-OBJ-101": [OBJ],
                "MOD-OBJ-201": [OBJ],
                "MOD-DISC-101": [DISC],
            },
            coaching_items={
                "Objection_Handling_Rating__c": CoachingItem(capability=OBJ, scale="five-point"),
                "Discovery_Rating__c": CoachingItem(capability=DISC, scale="five-point"),
            },
        ),
        default_window_days=90,
    )


@dataclass(frozen=True, slots=True)
class Post:
    """One effective-dated HR row: where the person sits from `since`."""

    since: date
    region: str
    manager: str | None = "M-1"
    territory: str | None = None
    role: str = "rep"


class Scenario:
    """Writes store rows the way the pull stage leaves them, one readable call per fact."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._ids = itertools.count(1)
        self.capabilities = capability_map()

    # --- people -------------------------------------------------------------------------------

    def rep(
        self,
        hr_id: str,
        region: str = "North",
        manager: str | None = "M-1",
        *,
        role: str = "rep",
        hired: date | None = None,
        left: date | None = None,
    ) -> None:
        self.career(hr_id, Post(EPOCH, region, manager, role=role), hired=hired, left=left)

    def manager(
        self, hr_id: str, region: str, territory: str | None, *, boss: str | None = None
    ) -> None:
        """A first-line manager (not a field role), whose team is named by `territory`."""
        self.career(hr_id, Post(EPOCH, region, boss, territory, role="manager"))

    def career(
        self, hr_id: str, *posts: Post, hired: date | None = None, left: date | None = None
    ) -> None:
        """HR rows per post; each row ends (valid_to, exclusive) where the next begins.

        `left`: a last row from that date, terminated (as the HRIS files record a leaver).
        """
        rows: list[dict[str, object]] = [
            {
                "hr_id": hr_id,
                "valid_from": post.since,
                "valid_to": None,
                "first_name": "Rep",
                "last_name": hr_id,
                "role": post.role,
                "manager_hr_id": post.manager,
                "region": post.region,
                "territory": post.territory,
                "status": "active",
                "hire_date": hired,
                "termination_date": None,
                "digest": "0" * 32,
            }
            for post in posts
        ]
        if left is not None:
            rows.append(
                {**rows[-1], "valid_from": left, "status": "terminated", "termination_date": left}
            )
        for current, following in itertools.pairwise(rows):
            current["valid_to"] = following["valid_from"]
        self.conn.execute(schema.people.insert(), rows)

    def hr_row(
        self,
        hr_id: str,
        valid_from: date,
        valid_to: date | None = None,
        region: str = "North",
        manager: str | None = "M-1",
        *,
        role: str = "rep",
        status: str = "active",
        hired: date | None = None,
        terminated: date | None = None,
    ) -> None:
        """One HR row exactly as given; `valid_to` is the store's EXCLUSIVE end (None: open),
        so rows may leave gaps (a rehire) or overlap."""
        self.conn.execute(
            schema.people.insert(),
            [
                {
                    "hr_id": hr_id,
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                    "first_name": "Rep",
                    "last_name": hr_id,
                    "role": role,
                    "manager_hr_id": manager,
                    "region": region,
                    "status": status,
                    "hire_date": hired,
                    "termination_date": terminated,
                    "digest": "0" * 32,
                }
            ],
        )

    # --- LMS ----------------------------------------------------------------------------------

    def completed(
        self,
        hr_id: str,
        module: str,
        on: date,
        *,
        status: str = "completed",
        deleted: bool = False,
    ) -> None:
        self.conn.execute(
            schema.completions.insert(),
            [
                {
                    "source": "lms",
                    "record_id": f"C-{next(self._ids):05d}",
                    "hr_id": hr_id,
                    "module_id": module,
                    "status": status,
                    "completed_at": f"{on.isoformat()}T10:00:00Z",
                    "digest": "0" * 32,
                    "deleted": deleted,
                }
            ],
        )

    def trained(
        self, hr_id: str, on: date = T, *, region: str = "North", manager: str | None = "M-1"
    ) -> None:
        """A rep in `region` who completed the objection-handling module on `on`."""
        self.rep(hr_id, region, manager)
        self.completed(hr_id, "MOD-OBJ-101", on)

    # --- CRM ----------------------------------------------------------------------------------

    def visit(
        self,
        hr_id: str,
        on: date,
        ratings: Mapping[str, float] | None = None,
        *,
        observer: str = "M-1",
        counted: bool = True,
        deleted: bool = False,
        submitted: date | None = None,
    ) -> str:
        """A coaching visit on `on` (submitted the same day unless `submitted` says otherwise),
        rating the rep on each capability in `ratings` (capability -> scaled); returns its id."""
        visit = f"V-{next(self._ids):05d}"
        sent = submitted or on
        self.conn.execute(
            schema.observations.insert(),
            [
                {
                    "source": "crm",
                    "record_id": visit,
                    "observer_hr_id": observer,
                    "observed_hr_id": hr_id,
                    "visit_date": on,
                    "timezone": "Europe/Paris",
                    "status": "Submitted" if counted else "Draft",
                    "counted": counted,
                    "submitted_at": f"{sent.isoformat()}T17:00:00Z" if counted else None,
                    "has_next_step": True,
                    "names_capability": True,
                    "word_count": 40,
                    "digest": "0" * 32,
                    "deleted": deleted,
                }
            ],
        )
        if ratings:
            self.conn.execute(
                schema.ratings.insert(),
                [
                    {
                        "source": "crm",
                        "record_id": visit,
                        "item": f"{capability}-rating",
                        "capability_id": capability,
                        "raw": 1 + 4 * scaled,
                        "scaled": scaled,
                    }
                    for capability, scaled in ratings.items()
                ],
            )
        return visit

    def rated(
        self,
        hr_id: str,
        on: date,
        scaled: float,
        *,
        capability: str = OBJ,
        counted: bool = True,
        deleted: bool = False,
        observer: str = "M-1",
    ) -> None:
        """A coaching visit on `on` rating the rep on one capability."""
        self.visit(
            hr_id, on, {capability: scaled}, observer=observer, counted=counted, deleted=deleted
        )

    def action(
        self,
        hr_id: str,
        due: date | None,
        completed: date | None = None,
        *,
        status: str | None = None,
        capability: str = OBJ,
        agreed: date | None = None,
    ) -> None:
        """A development action agreed 30 days before it is due (unless `agreed` says)."""
        agreed = agreed or (due or D) - timedelta(days=30)
        self.conn.execute(
            schema.development_actions.insert(),
            [
                {
                    "source": "crm",
                    "record_id": f"A-{next(self._ids):05d}",
                    "hr_id": hr_id,
                    "capability_id": capability,
                    "agreed_on": agreed,
                    "due_on": due,
                    "completed_on": completed,
                    "status": status or ("completed" if completed else "open"),
                    "digest": "0" * 32,
                    "deleted": False,
                }
            ],
        )

    def cursor(self, source: str, stream: str, value: str) -> None:
        cursors.set_cursor(self.conn, source, stream, value)

    # --- reading back -------------------------------------------------------------------------

    def table(self, as_of: date = D, by: By = "region") -> list[MetricsRow]:
        """Commit, bring adoption_states to `as_of` as a run does, and aggregate them by group."""
        self._refresh(as_of)
        return adoption_metrics(self.conn, RowSource.states(), self.capabilities, as_of, by)

    def outcomes(self, as_of: date = D) -> dict[tuple[str, str], Row[Any]]:
        """Commit, bring adoption_states to `as_of` as a run does, and read its live rows."""
        self._refresh(as_of)
        t = schema.adoption_states
        rows = self.conn.execute(select(t).where(t.c.deleted.is_(False))).all()
        return {(r.hr_id, r.capability_id): r for r in rows}

    def _refresh(self, as_of: date) -> None:
        """Commit what was written and compute adoption_states as of `as_of`."""
        self.conn.commit()
        update_states(self.conn.engine, self.capabilities, as_of)


@contextmanager
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    """A fresh store on disk; the engine is disposed after."""
    engine = open_store("sqlite:///" + str(tmp_path / "s.db"))
    try:
        yield engine
    finally:
        engine.dispose()
