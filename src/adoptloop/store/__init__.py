"""The state store: SQLAlchemy Core on SQLite (default) or PostgreSQL."""
