"""v3 keeps each rating's scale (min, max) as it was scaled at pull.

Revision 0003_rating_scales (schema version 3). A v2 store's ratings get theirs from the
capability map at the next run: the meta row written here asks for it
(records.fill_rating_scales).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adoptloop.store.records import RATING_SCALES_PENDING

revision = "0003_rating_scales"
down_revision = "0002_adoption_dirty"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ratings", sa.Column("scale_min", sa.Float(), nullable=True))
    op.add_column("ratings", sa.Column("scale_max", sa.Float(), nullable=True))
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(meta, [{"key": RATING_SCALES_PENDING, "value": "v2->v3"}])
