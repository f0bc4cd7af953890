"""Opening the store: schema creation, version checks, driver and connection errors."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, select

from adoptloop.errors import ConfigError, StoreVersionError
from adoptloop.store import schema
from adoptloop.store.db import StoreUnavailable, create_store_engine, migrate, open_store


def test_a_fresh_store_gets_every_table_at_the_current_version(engine: Engine) -> None:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        version = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
        ).scalar_one()

    assert set(schema.metadata.tables) <= tables
    assert int(version) == schema.SCHEMA_VERSION


def test_opening_an_existing_store_again_changes_nothing(engine: Engine, store_url: str) -> None:
    again = create_store_engine(store_url)
    try:
        assert migrate(again) == schema.SCHEMA_VERSION
    finally:
        again.dispose()


def test_a_store_from_a_newer_adoptloop_is_refused(engine: Engine, store_url: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            schema.meta.update()
            .where(schema.meta.c.key == "schema_version")
            .values(value=str(schema.SCHEMA_VERSION + 1))
        )

    with pytest.raises(StoreVersionError, match="upgrade adoptloop"):
        open_store(store_url)


def test_a_version_1_store_is_migrated_keeping_its_data(engine: Engine, store_url: str) -> None:
    """v1 -> v2 adds adoption_dirty; the store's rows stay (SQLite and PostgreSQL)."""
    with engine.begin() as conn:
        schema.adoption_dirty.drop(conn)
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="1")
        )
        conn.execute(schema.meta.insert().values(key="kept", value="yes"))

    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 1
        with again.connect() as conn:
            assert inspect(conn).has_table("adoption_dirty")
            meta = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
        assert meta["schema_version"] == str(schema.SCHEMA_VERSION)
        assert meta["kept"] == "yes"
    finally:
        again.dispose()


def test_an_unreachable_postgresql_store_is_a_temporary_failure_without_the_password() -> None:
    url = "postgresql+psycopg://adoptloop:s3cret-pw@127.0.0.1:1/adoptloop"

    with pytest.raises(StoreUnavailable) as caught:
        open_store(url)

    assert caught.value.exit_code == 75
    assert "s3cret-pw" not in str(caught.value)
    assert "cannot be reached" in str(caught.value)


def test_a_missing_database_driver_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="driver is not installed"):
        create_store_engine("postgresql+nosuchdriver://db.internal/adoptloop")
