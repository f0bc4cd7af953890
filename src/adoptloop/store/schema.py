"""Tables of the state store (SQLAlchemy Core).

Every source table is keyed by (source, record_id) and carries `digest` (a hash of the
record as stored) and `translated_digest` (the digest the translate stage last turned into
statements): the translate stage only reads rows where the two differ, so its cost follows
what changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Delete,
    Float,
    Index,
    Insert,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()


def stamp(moment: datetime) -> str:
    """The store's timestamp text: UTC with microseconds, sortable as a string."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow() -> str:
    """Now, as the store writes it (every module of the store stamps rows with this)."""
    return stamp(datetime.now(UTC))


# The schema version these tables are: the number of the head revision in store/migrations/
# (tests/store/test_migrations.py checks they agree). A change to a table below comes with a
# revision there (docs/architecture.md, "Changing the store's schema").
SCHEMA_VERSION = 12

# meta.schema_version mirrors the Alembic revision's number (store/migrations/env.py)
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def revision_number(revision: str) -> int:
    """The schema version a revision id stands for ("0003_rating_scales" -> 3)."""
    return int(revision.split("_", 1)[0])


def mirror_writes(revision: str) -> tuple[Delete, Insert]:
    """The two writes that make meta.schema_version the number of `revision` (after each
    migration step, store/migrations/env.py; when a store is stamped, store/db.py)."""
    return (
        meta.delete().where(meta.c.key == "schema_version"),
        meta.insert().values(key="schema_version", value=str(revision_number(revision))),
    )


# Alembic's own table (the revision the store is at), declared as Alembic creates it so that
# these tables are the whole store; Alembic's comparisons leave it out.
alembic_version = Table(
    "alembic_version",
    metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

people = Table(
    "people",
    metadata,
    Column("hr_id", String(64), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("valid_to", Date),  # exclusive; NULL = current
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("email", Text),
    Column("employee_number", String(64)),
    Column("role", String(64), nullable=False),
    Column("manager_hr_id", String(64)),
    Column("region", Text),
    Column("country", String(8)),
    Column("territory", Text),
    Column("business_unit", Text),
    Column("status", String(16), nullable=False),
    Column("hire_date", Date),
    Column("termination_date", Date),  # the last day employed
    Column("team", Text),  # the team as HR names it (v6); NULL: the manager's team
    Column("digest", String(32), nullable=False),
    # the row a snapshot HR export wrote when it no longer listed the person: undone (the row
    # removed, the one before reopened) when a later read lists them again
    Column("snapshot_closed", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_people_email", "email"),
    Index("ix_people_employee_number", "employee_number"),
)

identities = Table(
    "identities",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("hr_id", String(64), nullable=False),
    Column("matched_by", String(64), nullable=False),
    Index("ix_identities_hr_id", "hr_id"),
)


def _source_columns() -> list[Column[object]]:
    return [
        Column("source", String(64), primary_key=True),
        Column("record_id", String(255), primary_key=True),
    ]


def _tracking_columns() -> list[Column[object]]:
    return [
        Column("digest", String(32), nullable=False),
        Column("translated_digest", String(32)),
        Column("deleted", Boolean, nullable=False, default=False),
    ]


completions = Table(
    "completions",
    metadata,
    *_source_columns(),
    Column("hr_id", String(64), nullable=False),
    Column("module_id", String(255), nullable=False),
    Column("module_title", Text),
    Column("status", String(16), nullable=False),
    Column("completed_at", String(32), nullable=False),  # ISO 8601 UTC with Z
    Column("score", Float),
    *_tracking_columns(),
    Index("ix_completions_hr_module", "hr_id", "module_id"),
)

observations = Table(
    "observations",
    metadata,
    *_source_columns(),
    Column("observer_hr_id", String(64), nullable=False),
    Column("observed_hr_id", String(64), nullable=False),
    Column("visit_date", Date, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("status", String(64), nullable=False),
    Column("counted", Boolean, nullable=False),
    Column("submitted_at", String(32)),
    Column("modified_at", String(32)),
    Column("has_next_step", Boolean, nullable=False),
    Column("names_capability", Boolean, nullable=False),
    Column("word_count", Integer, nullable=False),
    *_tracking_columns(),
    Index("ix_observations_observed", "observed_hr_id", "visit_date"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("item", String(255), primary_key=True),
    Column("capability_id", String(64), nullable=False),
    Column("raw", Float, nullable=False),
    Column("scale_min", Float),  # the item's scale at pull (v3; NULL until an upgraded store's
    Column("scale_max", Float),  # first run fills it from the capability map)
    Column("scaled", Float, nullable=False),
    Index("ix_ratings_capability", "capability_id"),
)

development_actions = Table(
    "development_actions",
    metadata,
    *_source_columns(),
    Column("hr_id", String(64), nullable=False),
    Column("capability_id", String(64), nullable=False),
    Column("agreed_on", Date, nullable=False),
    Column("due_on", Date),
    Column("completed_on", Date),
    Column("status", String(16), nullable=False),
    Column("observation_record_id", String(255)),
    *_tracking_columns(),
)

interactions = Table(
    "interactions",
    metadata,
    *_source_columns(),
    Column("hr_id", String(64), nullable=False),
    Column("date", Date, nullable=False),
    Column("channel", String(64)),
    Column("type", String(128)),
    Column("status", String(64)),
    Column("manager_hr_id", String(64)),
    *_tracking_columns(),
    Index("ix_interactions_hr_date", "hr_id", "date"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

# One row per source: what its latest read brought (data lines read, used, quarantined, held
# back) and when it last read to the end; a source stopped early (API budget) says why.
source_reads = Table(
    "source_reads",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("run_id", String(36), nullable=False),  # the run of the latest read with rows
    Column("read_at", String(32), nullable=False),
    Column("lines", Integer, nullable=False),  # data lines (records) read
    Column("used", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Column("held_back", Integer, nullable=False),  # e.g. waiting for their person
    Column("complete_run_id", String(36)),  # the latest run that read it to the end
    Column("complete_at", String(32)),
    Column("stopped_reason", Text),  # set while the source's latest read stopped early
    Column("held_reason", Text),  # set while a snapshot's deletions are held back (shrank)
)

# One row per statement key (kind/source/record/item): which statement currently stands for it.
# Keyed by (record_ref, key), with no other index, as the translate stage uses it: it reads
# the rows of a batch's records and updates rows by record and key. On SQLite the rows live in
# that key's b-tree (WITHOUT ROWID): one b-tree written per row, where a text primary key, a
# record_ref and an hr_id index made four. A key belongs to one record (it names the record).
# Only an erasure looks rows up by hr_id: it reads the whole table, as it reads the whole
# outbox for the person's pseudonym in payloads (store/erasures.py).
emitted = Table(
    "emitted",
    metadata,
    Column("key", String(512), nullable=False),
    Column("record_ref", String(512), nullable=False),
    Column("hr_id", String(64), nullable=False),
    Column("statement_id", String(36), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("digest", String(32), nullable=False),
    Column("voided", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint("record_ref", "key"),
    sqlite_with_rowid=False,
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("statement_id", String(36), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("hr_id", String(64)),  # whom it is about (for erasure); NULL for voiding statements
    Column("payload", Text, nullable=False),  # canonical JSON, sent byte for byte
    Column("created_run", String(36), nullable=False),
    Column("delivered_at", String(32)),
    Column("state", String(16), nullable=False, default="pending"),  # pending|delivered|rejected
    Column("error", Text),
    # Delivery workers (store/claims.py) claim pending rows with a lease; `claimed_by`
    # stays set after delivery (who delivered it), `lease_until` is cleared.
    Column("created_at", String(32), default=utcnow),  # for the statement-archive retention
    Column("claimed_by", String(128)),
    Column("lease_until", String(32)),
    # No index on hr_id: its only reader, an erasure, also matches the pseudonym inside
    # payloads, which reads the whole table anyway (store/erasures.py).
    Index("ix_outbox_state_seq", "state", "seq"),
)

# Erasures: the audit entry (counts only) and a keyed digest of the erased HR id, so that the
# person is not imported again from exports that still contain them. No name, no id in clear.
erasures = Table(
    "erasures",
    metadata,
    Column("erasure_id", String(36), primary_key=True),
    Column("erased_at", String(32), nullable=False),
    Column("subject_digest", String(64), nullable=False, unique=True),
    Column("counts", Text, nullable=False),
)

# The suppression list (v5): a keyed digest of every identifier an erased person had (HR id,
# email, employee number, each source account), never the identifier itself. The pull drops what
# names one of them (pipeline/suppression.py), so re-read exports cannot bring the person back.
suppressed = Table(
    "suppressed",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("erasure_id", String(36), nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("record_key", String(512), nullable=False),
    Column("location", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("first_seen_run", String(36), nullable=False),
    Column("last_seen_run", String(36), nullable=False),
    Column("resolved", Boolean, nullable=False, default=False),
    Column("updated_at", String(32), default=utcnow, onupdate=utcnow),  # for retention
    UniqueConstraint("source", "stream", "record_key", name="uq_quarantine_record"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("pipeline", String(64), nullable=False),
    Column("scheduled_for", String(64), nullable=False),  # fire time (UTC) or manual:<time>
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("status", String(16), nullable=False),  # running|succeeded|failed|interrupted
    Column("counts", Text, nullable=False, default="{}"),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=1),  # > 1: resumed after an interruption
    Column("holder", String(128)),  # the process that ran it (host:pid:...)
    UniqueConstraint("pipeline", "scheduled_for", name="uq_runs_schedule"),
)

# Locks (store/locks.py): on SQLite a lease row per lock name, renewed while held; on
# PostgreSQL advisory locks are used instead and this table stays empty.
locks = Table(
    "locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", String(32), nullable=False),
    Column("lease_until", String(32), nullable=False),
)

# One row per transcript record sent to an LMS (write-back audit): what, when, and the answer.
writebacks = Table(
    "writebacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(64), nullable=False),
    Column("key", String(512), nullable=False),  # TranscriptRecord.key (hr_id/capability/state)
    Column("hr_id", String(64), nullable=False),
    Column("capability_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("observed_on", Date, nullable=False),
    Column("status", String(16), nullable=False),  # written|already-present|would-write|failed
    Column("external_id", String(255)),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("connector", "key", name="uq_writebacks_key"),
)


def _rep_capability_columns() -> list[Column[object]]:
    """Per rep x capability outcome as of a date: the adoption engine's working rows."""
    return [
        Column("hr_id", String(64), primary_key=True),
        Column("capability_id", String(64), primary_key=True),
        Column("trained_at", Date),
        Column("trained_module", String(255)),
        Column("window_end", Date),
        Column("in_cohort", Boolean, nullable=False),
        Column("observed", Boolean, nullable=False),  # >= 1 rating in the window (cohort only)
        Column("proficient", Boolean, nullable=False),  # >= 1 proficient rating in the window
        Column("state", String(32), nullable=False),
        Column("state_since", Date),
        Column("ever_adopted", Boolean, nullable=False),
        Column("days_to_proficient", Integer),  # None: not (yet) proficient; see `censored_at`
        Column("censored_days", Integer),  # days observed without proficiency (KM censoring)
        Column("region", Text),  # the rep's group at window close (min(window_end, as_of))
        Column("manager_hr_id", String(64)),
        Column("team", Text),  # the HR team of that row (v6)
        Column("transitions", Text, nullable=False, default="[]"),  # [[state, date], ...]
    ]


# The current adoption state of every rep x capability (as of the last run): the source of the
# adoption statements (adopted / sustained / regressed) and of LMS write-back.
adoption_states = Table(
    "adoption_states",
    metadata,
    Column("source", String(64), primary_key=True),  # always "adoption"
    Column("record_id", String(255), primary_key=True),  # hr_id/capability
    *[c for c in _rep_capability_columns() if c.name not in ("hr_id", "capability_id")],
    Column("hr_id", String(64), nullable=False),
    Column("capability_id", String(64), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("digest", String(32), nullable=False),
    Column("translated_digest", String(32)),
    Column("deleted", Boolean, nullable=False, default=False),
    # the kept metrics read the rows of chunks of people (store/metrics.py trained_rows); without
    # it every chunk scanned the whole table (v11)
    Index("ix_adoption_states_source_hr_id", "source", "hr_id"),
)

# People whose adoption inputs (HR rows, completions, counted visits and their ratings) changed
# since adoption_states was last computed: the next computation redoes only them (and whoever
# the passing of time moved), see adoption/compute.py. Written by store/records.py. (v2)
adoption_dirty = Table(
    "adoption_dirty",
    metadata,
    Column("hr_id", String(64), primary_key=True),
)

# The adoption metrics kept between runs (adoption/aggregates.py, v8): each person's
# contribution and the sums over them, so that a run redoes only the people who changed.
# metric_reps: a trained rep x capability's contribution, with its group in each grouping.
metric_reps = Table(
    "metric_reps",
    metadata,
    Column("hr_id", String(64), primary_key=True),
    Column("capability_id", String(64), primary_key=True),
    Column("region", Text, nullable=False),
    Column("team", Text, nullable=False),
    Column("manager", Text, nullable=False),
    Column("module", Text, nullable=False),
    Column("trained_at", Date, nullable=False),
    Column("in_cohort", Boolean, nullable=False),
    Column("observed", Boolean, nullable=False),
    Column("proficient", Boolean, nullable=False),
    Column("sustained", Boolean, nullable=False),
    Column("regressed", Boolean, nullable=False),
    Column("days_to_proficient", Integer),
)

# metric_people: a person's coaching-coverage contribution (groups NULL: not eligible) and the
# first as-of date on which it may differ although no input changed (NULL: never).
metric_people = Table(
    "metric_people",
    metadata,
    Column("hr_id", String(64), primary_key=True),
    Column("region", Text),
    Column("team", Text),
    Column("manager", Text),
    Column("visited", Boolean, nullable=False),
    Column("valid_until", Date),
    Index("ix_metric_people_valid_until", "valid_until"),
)

# the counts each (grouping, group, capability) cell of metric_cells sums (adoption/aggregates.py)
METRIC_CELL_COUNTS = (
    "trained",
    "cohort",
    "observed",
    "adopted",
    "sustained",
    "regressed",
    "cohort_sustained",
    "eligible",
    "coached",
)

# metric_cells: the sums per (grouping, group, capability); capability "" holds the group's
# coaching coverage, grouping "*" the "(all)" rows.
metric_cells = Table(
    "metric_cells",
    metadata,
    Column("grouping", String(16), primary_key=True),
    Column("grp", Text, primary_key=True),
    Column("capability_id", String(64), primary_key=True),
    *[Column(name, Integer, nullable=False) for name in METRIC_CELL_COUNTS],
)

# metric_km: Kaplan-Meier's per-day counts per cell: kind "e", reps proficient `day` days after
# training; kind "c", reps not (yet) proficient trained on day number `day` (date.toordinal:
# censored at as-of minus that day, whatever the as-of date).
metric_km = Table(
    "metric_km",
    metadata,
    Column("grouping", String(16), primary_key=True),
    Column("grp", Text, primary_key=True),
    Column("capability_id", String(64), primary_key=True),
    Column("kind", String(1), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
)

# metric_ratings: a person's ratings per capability and visit day, on the counted, not deleted
# visits they were observed on (adoption/aggregates.py keeps their sums in metric_km, grouping
# "rated": the report's reinforcement figures).
metric_ratings = Table(
    "metric_ratings",
    metadata,
    Column("hr_id", String(64), primary_key=True),
    Column("capability_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("n", Integer, nullable=False),
)

# metric_visits (v10): each counted, not deleted visit a person was observed on, kept with that
# person (hr_id): its observer, day and weekday, days from the visit to its submission (NULL:
# not submitted), and its ratings (how many, their scaled sum, how many at the top of their
# scale), all computed by the database (store/aggregates.py write_visits). The report's rater statistics sum the rows dated in
# (D - 90 d, D] per observer (adoption/aggregates.py keeps them, adoption/metrics.py sums them).
metric_visits = Table(
    "metric_visits",
    metadata,
    Column("hr_id", String(64), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("observer_hr_id", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("lag", Integer),
    Column("weekday", Integer, nullable=False),  # the visit day's: 0 Sunday .. 6 Saturday
    Column("ratings", Integer, nullable=False),
    Column("scaled_sum", Float, nullable=False),
    Column("top_box", Integer, nullable=False),
    Index("ix_metric_visits_day", "day"),
)

# metric_dirty: people whose adoption_states rows were recomputed since the metrics were last
# brought up to date (adoption/compute.py adds them; adoption/aggregates.py takes them).
metric_dirty = Table(
    "metric_dirty",
    metadata,
    Column("hr_id", String(64), primary_key=True),
)

# The estimates' inputs kept between runs (adoption/raters.py `kept_counted_ratings`, v12):
# every counted, not deleted rating (observer, observed person, capability, visit day, scaled
# value) as one set of packed columns (raters `_Columns.pack`), in parts of at most a MiB (so
# that the run's process writes them a part at a time), with the inputs stamp
# (store/records.py) they were read at. The estimates process reads them and the ratings of
# the people marked in estimate_dirty since, instead of every rating; the run keeps what it
# read (pipeline/estimates.py).
estimate_ratings = Table(
    "estimate_ratings",
    metadata,
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("stamp", String(64), nullable=False),
    Column("columns", LargeBinary, nullable=False),
)

# estimate_dirty: people whose counted ratings may differ from the kept columns' (written by
# store/records.py `mark_dirty` for observation writes while columns are kept; emptied when
# the columns read since are kept). Its own table: the states pass empties adoption_dirty
# while the estimates process reads, beside it.
estimate_dirty = Table(
    "estimate_dirty",
    metadata,
    Column("hr_id", String(64), primary_key=True),
)

# Scratch rows for one ad-hoc computation (`adoptloop adoption --as-of ...`), removed after.
adoption_scratch = Table(
    "adoption_scratch",
    metadata,
    Column("computation", String(36), primary_key=True),
    *_rep_capability_columns(),
)

# Records that name a person no identity rule matches yet (a new hire's coaching report that
# arrives before the HR export): kept, not lost, and taken up once the person matches. The
# person is quarantined once (stream "users"), not each record.
parked = Table(
    "parked",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("record_key", String(512), nullable=False),
    Column("system", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("payload", Text, nullable=False),  # the domain record (store/parked.py codec)
    Column("parked_run", String(36), nullable=False),
    UniqueConstraint("source", "stream", "record_key", name="uq_parked_record"),
    Index("ix_parked_person", "source", "system", "external_id"),
)
