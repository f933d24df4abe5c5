"""Alembic environment for weiwang: configured in code by :func:`store.db.alembic_config`.

The caller passes an open connection in ``config.attributes["connection"]`` (so migrations run in
the caller's transaction on the caller's engine: SpatiaLite loaded, pragmas set). Without one, the
URL comes from :func:`store.db.make_engine` (``WEIWANG_DATABASE_URL`` or the default file).
GeoAlchemy2's helpers render and order spatial columns and indexes for autogenerate.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from store.db import include_object
from store.models import metadata

config = context.config


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        context.run_migrations()
        return
    from store.db import make_engine, write

    engine = make_engine()
    try:
        with write(engine) as conn:
            _configure(conn)
            context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("weiwang migrations run online only (weiwang db upgrade)")
run_migrations_online()
