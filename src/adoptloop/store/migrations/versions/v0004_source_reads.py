"""v4 keeps each source's latest read and marks the HR rows a snapshot export's absence wrote.

Revision 0004_source_reads (schema version 4): source_reads holds each source's latest read
(lines, used, quarantined, held back) and its last complete read, for honest run outcomes and
`status`; people.snapshot_closed marks the rows written because a snapshot no longer listed the
person, so that they can be undone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_source_reads"
down_revision = "0003_rating_scales"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_reads",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("read_at", sa.String(length=32), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("held_back", sa.Integer(), nullable=False),
        sa.Column("complete_run_id", sa.String(length=36), nullable=True),
        sa.Column("complete_at", sa.String(length=32), nullable=True),
        sa.Column("stopped_reason", sa.Text(), nullable=True),
        sa.Column("held_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )
    op.add_column(
        "people",
        sa.Column("snapshot_closed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
