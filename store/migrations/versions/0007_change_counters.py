"""Change counters: one row per kind of reference data (the roster, time limits, accounts), bumped
by triggers on every write to its tables, so a running service polls one tiny row to learn whether
to reload instead of reloading on a timer (the roster's reload every 0.5 s per worker held the GIL
for 13–65 ms under load: the tail of intake's latency). See :mod:`store.changes`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

#: Counter name (store.changes.ROSTER, TIME_LIMITS, USERS) → the tables whose writes bump it.
WATCHED: dict[str, tuple[str, ...]] = {
    "roster": ("people", "role_assignments"),
    "time_limits": ("time_limits",),
    "users": ("users",),
}
_OPS = ("insert", "update", "delete")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "change_counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.bulk_insert(
        sa.table("change_counters", sa.column("name", sa.String), sa.column("n", sa.BigInteger)),
        [{"name": name, "n": 0} for name in WATCHED],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION weiwang_bump_counter() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE change_counters SET n = n + 1 WHERE name = TG_ARGV[0]; RETURN NULL; END $$"
        )
        for name, tables in WATCHED.items():
            for table in tables:
                op.execute(
                    f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                    f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION weiwang_bump_counter('{name}')"
                )
        return
    for name, tables in WATCHED.items():
        for table in tables:
            for kind in _OPS:
                op.execute(
                    f"CREATE TRIGGER {table}_{kind}_changed AFTER {kind.upper()} ON {table} "  # noqa: S608 (constants)
                    f"BEGIN UPDATE change_counters SET n = n + 1 WHERE name = '{name}'; END"
                )


def downgrade() -> None:
    """Downgrade schema."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for tables in WATCHED.values():
        for table in tables:
            if postgres:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
            else:
                for kind in _OPS:
                    op.execute(f"DROP TRIGGER IF EXISTS {table}_{kind}_changed")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS weiwang_bump_counter()")
    op.drop_table("change_counters")
