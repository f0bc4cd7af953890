"""The store's Alembic revisions, one per schema version (loaded by Alembic, not imported)."""
