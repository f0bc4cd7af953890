"""v11 indexes adoption_states by person.

Revision 0011_adoption_states_hr_id (schema version 11): an index on adoption_states (source, hr_id). The
kept adoption metrics read the rows of 500 people at a time (store/metrics.py trained_rows),
and without it each such read scanned every row of the table: at 50,000 reps a full rebuild
ran ~115 scans of ~300,000 rows, and an incremental run scanned the whole table for the few
people it redoes. Nothing else changes; the kept metrics are not rebuilt.
"""

from __future__ import annotations

from alembic import op

revision = "0011_adoption_states_hr_id"
down_revision = "0010_metric_visits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_adoption_states_source_hr_id", "adoption_states", ["source", "hr_id"])
