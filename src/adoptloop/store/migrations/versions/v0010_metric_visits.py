"""v10 keeps each person's counted visits, for the report's rater statistics.

Revision 0010_metric_visits (schema version 10): `metric_visits` (one row per counted, not
deleted visit, kept with the person observed: observer, day, days to submission, ratings), from
which the report's rater statistics are summed per observer over (D - 90 d, D] without reading
the visits and ratings of the period. It starts empty; the metrics' basis
(adoption/aggregates.py) changed with it, so the next run rebuilds every kept metric.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_metric_visits"
down_revision = "0009_metric_ratings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_visits",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=255), nullable=False),
        sa.Column("observer_hr_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("lag", sa.Integer(), nullable=True),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("scaled_sum", sa.Float(), nullable=False),
        sa.Column("top_box", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hr_id", "source", "record_id"),
    )
    op.create_index("ix_metric_visits_day", "metric_visits", ["day"])
