"""v12 keeps the estimates' inputs between runs.

Revision 0012_estimate_inputs (schema version 12): estimate_ratings holds every counted rating
as packed columns (in parts), read at an inputs stamp, and estimate_dirty the people whose
ratings were written since; the estimates process reads those instead of every rating (issue
17, an incremental run's estimates). Both start empty: the first run after this reads every rating, as before,
and keeps them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_estimate_inputs"
down_revision = "0011_adoption_states_hr_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "estimate_ratings",
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stamp", sa.String(length=64), nullable=False),
        sa.Column("columns", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("part"),
    )
    op.create_table(
        "estimate_dirty",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("hr_id"),
    )
