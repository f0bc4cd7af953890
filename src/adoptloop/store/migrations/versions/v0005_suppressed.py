"""v5 keeps the suppression list of erased people's identifiers (keyed digests).

Revision 0005_suppressed (schema version 5): `suppressed` holds one keyed digest per identifier
of an erased person (HR id, email, employee number, external ids), consulted at every pull so
that re-read exports never bring the person back. The HR-id digest of each earlier erasure is
its subject digest (the same keyed digest), so an erasure made before v5 keeps its person out
as before; their other identifiers were never kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_suppressed"
down_revision = "0004_source_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("erasure_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.execute(
        sa.text(
            "INSERT INTO suppressed (digest, erasure_id) "
            "SELECT subject_digest, erasure_id FROM erasures"
        )
    )
