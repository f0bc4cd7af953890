"""v9 keeps each person's ratings per capability and day, for the report's reinforcement.

Revision 0009_metric_ratings (schema version 9): `metric_ratings` (a person's ratings on the
counted visits they were observed on, per capability and visit day), whose sums sit in
`metric_km` under grouping "rated". It starts empty; the metrics' basis (adoption/aggregates.py)
changed with it, so the next run rebuilds every kept metric.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_metric_ratings"
down_revision = "0008_metric_aggregates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_ratings",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.Column("capability_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hr_id", "capability_id", "day"),
    )
