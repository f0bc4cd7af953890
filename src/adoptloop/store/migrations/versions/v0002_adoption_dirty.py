"""v2 tracks which people's adoption inputs changed (incremental adoption states).

Revision 0002_adoption_dirty (schema version 2). A v1 store has no record of its last
computation, so the first run after this computes all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_adoption_dirty"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adoption_dirty",
        sa.Column("hr_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("hr_id"),
    )
