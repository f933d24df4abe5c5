"""Alembic migrations of the weiwang schema (run by ``weiwang db upgrade`` / ``store.db.upgrade``)."""
