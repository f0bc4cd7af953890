"""The v1 schema, as adoptloop created it before it migrated with Alembic.

Revision 0001_baseline (schema version 1). A new store is created from store/schema.py and
stamped at the head; this revision is the root the upgrades of existing stores start from (a
store at meta.schema_version 1 written before Alembic is stamped here), and what the tests
build a v1 store with. Frozen: never edit it, add a revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adoption_scratch",
        sa.Column("computation", sa.String(length=36), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("trained_at", sa.Date(), nullable=True),
        sa.Column("trained_module", sa.String(length=255), nullable=True),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("in_cohort", sa.Boolean(), nullable=False),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("proficient", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_since", sa.Date(), nullable=True),
        sa.Column("ever_adopted", sa.Boolean(), nullable=False),
        sa.Column("days_to_proficient", sa.Integer(), nullable=True),
        sa.Column("censored_days", sa.Integer(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("manager_hr_id", sa.String(length=64), nullable=True),
        sa.Column("transitions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("computation", "hr_id", "capability_id"),
    )
    op.create_table(
        "adoption_states",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("trained_at", sa.Date(), nullable=True),
        sa.Column("trained_module", sa.String(length=255), nullable=True),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("in_cohort", sa.Boolean(), nullable=False),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("proficient", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_since", sa.Date(), nullable=True),
        sa.Column("ever_adopted", sa.Boolean(), nullable=False),
        sa.Column("days_to_proficient", sa.Integer(), nullable=True),
        sa.Column("censored_days", sa.Integer(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("manager_hr_id", sa.String(length=64), nullable=True),
        sa.Column("transitions", sa.Text(), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("translated_digest", sa.String(length=32), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id"),
    )
    op.create_table(
        "completions",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("module_id", sa.String(length=255), nullable=False),
        sa.Column("module_title", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_at", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("translated_digest", sa.String(length=32), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id"),
    )
    op.create_index("ix_completions_hr_module", "completions", ["hr_id", "module_id"], unique=False)
    op.create_table(
        "cursors",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("source", "stream"),
    )
    op.create_table(
        "development_actions",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("agreed_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("observation_record_id", sa.String(length=255), nullable=True),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("translated_digest", sa.String(length=32), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id"),
    )
    op.create_table(
        "emitted",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("record_ref", sa.String(length=512), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_emitted_hr_id", "emitted", ["hr_id"], unique=False)
    op.create_index("ix_emitted_record_ref", "emitted", ["record_ref"], unique=False)
    op.create_table(
        "erasures",
        sa.Column("erasure_id", sa.String(length=36), nullable=False),
        sa.Column("erased_at", sa.String(length=32), nullable=False),
        sa.Column("subject_digest", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("erasure_id"),
        sa.UniqueConstraint("subject_digest"),
    )
    op.create_table(
        "identities",
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("matched_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("system", "external_id"),
    )
    op.create_index("ix_identities_hr_id", "identities", ["hr_id"], unique=False)
    op.create_table(
        "interactions",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("manager_hr_id", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("translated_digest", sa.String(length=32), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id"),
    )
    op.create_index("ix_interactions_hr_date", "interactions", ["hr_id", "date"], unique=False)
    op.create_table(
        "locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.String(length=32), nullable=False),
        sa.Column("lease_until", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "observations",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("observer_hr_id", sa.String(length=64), nullable=False),
        sa.Column("observed_hr_id", sa.String(length=64), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.String(length=32), nullable=True),
        sa.Column("modified_at", sa.String(length=32), nullable=True),
        sa.Column("has_next_step", sa.Boolean(), nullable=False),
        sa.Column("names_capability", sa.Boolean(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("translated_digest", sa.String(length=32), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id"),
    )
    op.create_index(
        "ix_observations_observed", "observations", ["observed_hr_id", "visit_date"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_run", sa.String(length=36), nullable=False),
        sa.Column("delivered_at", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("statement_id"),
    )
    op.create_index("ix_outbox_hr_id", "outbox", ["hr_id"], unique=False)
    op.create_index("ix_outbox_state_seq", "outbox", ["state", "seq"], unique=False)
    op.create_table(
        "parked",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=512), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("parked_run", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "stream", "record_key", name="uq_parked_record"),
    )
    op.create_index("ix_parked_person", "parked", ["source", "system", "external_id"], unique=False)
    op.create_table(
        "people",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("employee_number", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("manager_hr_id", sa.String(length=64), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("territory", sa.Text(), nullable=True),
        sa.Column("business_unit", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("termination_date", sa.Date(), nullable=True),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("hr_id", "valid_from"),
    )
    op.create_index("ix_people_email", "people", ["email"], unique=False)
    op.create_index("ix_people_employee_number", "people", ["employee_number"], unique=False)
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=512), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen_run", sa.String(length=36), nullable=False),
        sa.Column("last_seen_run", sa.String(length=36), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "stream", "record_key", name="uq_quarantine_record"),
    )
    op.create_table(
        "ratings",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("item", sa.String(length=255), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.Float(), nullable=False),
        sa.Column("scaled", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id", "item"),
    )
    op.create_index("ix_ratings_capability", "ratings", ["capability_id"], unique=False)
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("pipeline", sa.String(length=64), nullable=False),
        sa.Column("scheduled_for", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
        sa.UniqueConstraint("pipeline", "scheduled_for", name="uq_runs_schedule"),
    )
    op.create_table(
        "writebacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connector", "key", name="uq_writebacks_key"),
    )
