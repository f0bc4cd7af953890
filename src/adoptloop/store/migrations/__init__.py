"""The store's schema migrations, run with Alembic.

`versions/` holds one revision per schema version, in a line: `0001_baseline` (the v1 schema)
up to the head. A revision id starts with its schema version number, which `env.py` mirrors
into `meta.schema_version` after each step (adoptloop before Alembic read only that row). The
whole upgrade runs on the connection store/db.py hands over, inside the transaction and schema
lock it holds: one atomic transaction however many revisions it applies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from adoptloop.store import schema

LOCATION = Path(__file__).parent


number = schema.revision_number  # the schema version a revision id stands for


def config(conn: Connection) -> Config:
    """Alembic's configuration for running revisions on `conn` (in its open transaction)."""
    cfg = Config(attributes={"connection": conn})
    cfg.set_main_option("script_location", str(LOCATION).replace("%", "%%"))
    return cfg


def scripts(conn: Connection) -> ScriptDirectory:
    return ScriptDirectory.from_config(config(conn))


def current_revision(conn: Connection) -> str | None:
    """The revision the store is at (its alembic_version row), or None (no row, no table)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection) -> None:
    """Apply every revision from the store's current one to the head."""
    command.upgrade(config(conn), "head")


def mirror_schema_version(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[str], run_args: Mapping[str, Any]
) -> None:
    """After each step (applied or stamped): meta.schema_version = the new head's number."""
    del step, run_args
    (head,) = heads
    for write in schema.mirror_writes(head):
        ctx.execute(write)
