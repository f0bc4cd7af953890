"""v6 keeps the HR team of a person's row, a column of its own.

Revision 0006_people_team (schema version 6): people.team is the team as the HR export names it
(independent of the manager); adoption_states.team and adoption_scratch.team carry the team of
the rep's HR row at window close, beside region and manager_hr_id, for `--by team`. Existing
rows have none (NULL: the manager's team, as before) until the HR source is read again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_people_team"
down_revision = "0005_suppressed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("people", "adoption_states", "adoption_scratch"):
        op.add_column(table, sa.Column("team", sa.Text(), nullable=True))
