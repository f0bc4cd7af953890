"""Alembic's environment for the store: the revisions run on the connection store/db.py hands
over (config.attributes["connection"]), inside the transaction and schema lock it already holds,
so a whole upgrade is one atomic transaction other processes wait for; DDL is transactional on
SQLite too (db.py began it with BEGIN IMMEDIATE)."""

from __future__ import annotations

from alembic import context

from adoptloop.store import schema
from adoptloop.store.migrations import mirror_schema_version

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit(
        "adoptloop migrates its store itself when it opens it (adoptloop run, check, status); "
        "the alembic command line is only for writing revisions (alembic revision, history)"
    )
context.configure(
    connection=connection,
    target_metadata=schema.metadata,
    transactional_ddl=True,
    transaction_per_migration=False,
    on_version_apply=mirror_schema_version,
)
with context.begin_transaction():
    context.run_migrations()
