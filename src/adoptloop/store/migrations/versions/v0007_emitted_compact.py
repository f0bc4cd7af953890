"""v7 keeps the translate stage's bookkeeping in one b-tree: `emitted` keyed by (record_ref, key).

Revision 0007_emitted_compact (schema version 7): `emitted` was keyed by its 512-character
`key` with indexes on `record_ref` and `hr_id`, so every statement made wrote four b-trees
besides the outbox's. Its primary key is now (record_ref, key), which is how the translate
stage reads it (a batch's records) and updates it (a record's key); on SQLite the table is
WITHOUT ROWID, its rows stored in that key's order. The `hr_id` indexes of `emitted` and
`outbox` are dropped: only an erasure reads by hr_id, and it reads the whole outbox anyway to
find the person's pseudonym in payloads. Every row is kept as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_emitted_compact"
down_revision = "0006_people_team"
branch_labels = None
depends_on = None

_COLUMNS = "key, record_ref, hr_id, statement_id, revision, digest, voided"


def upgrade() -> None:
    op.drop_index("ix_outbox_hr_id", table_name="outbox")
    op.drop_index("ix_emitted_hr_id", table_name="emitted")
    op.drop_index("ix_emitted_record_ref", table_name="emitted")
    if op.get_bind().dialect.name == "sqlite":
        # WITHOUT ROWID cannot be switched on in place: copy into a new table (same transaction)
        op.create_table(
            "emitted_v7",
            sa.Column("key", sa.String(length=512), nullable=False),
            sa.Column("record_ref", sa.String(length=512), nullable=False),
            sa.Column("hr_id", sa.String(length=64), nullable=False),
            sa.Column("statement_id", sa.String(length=36), nullable=False),
            sa.Column("revision", sa.Integer(), nullable=False),
            sa.Column("digest", sa.String(length=32), nullable=False),
            sa.Column("voided", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("record_ref", "key"),
            sqlite_with_rowid=False,
        )
        op.execute(
            f"INSERT INTO emitted_v7 ({_COLUMNS}) "
            f"SELECT {_COLUMNS} FROM emitted ORDER BY record_ref, key"
        )
        op.drop_table("emitted")
        op.rename_table("emitted_v7", "emitted")
    else:
        op.drop_constraint("emitted_pkey", "emitted", type_="primary")
        op.create_primary_key("emitted_pkey", "emitted", ["record_ref", "key"])
