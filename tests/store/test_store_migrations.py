"""Migrations create exactly the modelled schema, on both engines."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from store import db, models
from store.incidents import EVENT_COLUMNS


def test_upgrade_creates_every_table_at_head(engine) -> None:
    head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    assert db.current_revision(engine) == head
    tables = set(inspect(engine).get_table_names())
    assert set(models.metadata.tables) <= tables


def test_migrated_schema_matches_the_models(engine) -> None:
    with db.read(engine) as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": db.include_object, "compare_type": True}
        )
        diff = compare_metadata(ctx, models.metadata)
    assert diff == []


def test_upgrade_twice_is_a_no_op(engine) -> None:
    db.upgrade(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) is not None


def test_geometry_columns_are_srid_4326(engine) -> None:
    with db.read(engine) as conn:
        rows = conn.execute(text("SELECT f_table_name, srid FROM geometry_columns")).all()
    assert {(t.lower(), s) for t, s in rows} >= {("grids", 4326), ("elements", 4326), ("incidents", 4326)}


def test_downgrade_to_base_and_back(engine) -> None:
    from alembic import command

    with db.write(engine) as conn:
        command.downgrade(db.alembic_config(conn), "base")
    assert "grids" not in inspect(engine).get_table_names()
    db.upgrade(engine)
    assert "grids" in inspect(engine).get_table_names()


@pytest.mark.parametrize("bad", ["mysql://x/y", "http://example.org", "sqlite:///:memory:"])
def test_bad_urls_are_refused_with_a_chinese_message(bad: str) -> None:
    with pytest.raises(db.BadDatabaseURL) as err:
        db.make_engine(bad)
    assert err.value.zh and err.value.en


def test_postgres_scheme_is_rewritten_to_psycopg() -> None:
    assert db.resolve_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"


def test_the_intake_statement_inserts_every_event_column() -> None:
    """Migration 0008's function lists the events' columns (all but ``id``): the model's."""
    migration = importlib.import_module("store.migrations.versions.0008_store_reports_function")
    assert tuple(c.strip() for c in migration._EVENT_COLUMNS.split(",")) == EVENT_COLUMNS
