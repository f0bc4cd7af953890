"""v8 keeps the adoption metrics between runs: per-person contributions and their sums.

Revision 0008_metric_aggregates (schema version 8): `metric_reps` (a trained rep x capability's
contribution and its group in each grouping), `metric_people` (a person's coaching-coverage
contribution and the as-of date until which it holds), `metric_cells` (the sums per grouping,
group and capability), `metric_km` (Kaplan-Meier's per-day counts) and `metric_dirty` (people
recomputed by the states pass since the metrics were last updated). All start empty: the next
run computes them in full (adoption/aggregates.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_metric_aggregates"
down_revision = "0007_emitted_compact"
branch_labels = None
depends_on = None

_COUNTS = (
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


def upgrade() -> None:
    op.create_table(
        "metric_reps",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("team", sa.Text(), nullable=False),
        sa.Column("manager", sa.Text(), nullable=False),
        sa.Column("module", sa.Text(), nullable=False),
        sa.Column("trained_at", sa.Date(), nullable=False),
        sa.Column("in_cohort", sa.Boolean(), nullable=False),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("proficient", sa.Boolean(), nullable=False),
        sa.Column("sustained", sa.Boolean(), nullable=False),
        sa.Column("regressed", sa.Boolean(), nullable=False),
        sa.Column("days_to_proficient", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("hr_id", "capability_id"),
    )
    op.create_table(
        "metric_people",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("team", sa.Text(), nullable=True),
        sa.Column("manager", sa.Text(), nullable=True),
        sa.Column("visited", sa.Boolean(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("hr_id"),
    )
    op.create_index("ix_metric_people_valid_until", "metric_people", ["valid_until"])
    op.create_table(
        "metric_cells",
        sa.Column("grouping", sa.String(length=16), nullable=False),
        sa.Column("grp", sa.Text(), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS],
        sa.PrimaryKeyConstraint("grouping", "grp", "capability_id"),
    )
    op.create_table(
        "metric_km",
        sa.Column("grouping", sa.String(length=16), nullable=False),
        sa.Column("grp", sa.Text(), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grouping", "grp", "capability_id", "kind", "day"),
    )
    op.create_table(
        "metric_dirty",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("hr_id"),
    )
