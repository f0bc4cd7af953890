"""${message}

Revision ${up_revision} (schema version ${up_revision.split("_", 1)[0].lstrip("0")}), after
${down_revision}. Created ${create_date}.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = "${up_revision}"
down_revision = "${down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
