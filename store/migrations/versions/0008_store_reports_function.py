"""PostgreSQL: ``weiwang_store_reports``, intake's group commit as one statement.

A batch of new reports is stored by one call in autocommit (one round trip, the commit included):
the shared layer-switch lock, a check that the committed table of published and retired versions
is the one the caller checked its reports against (``batch -> 'versions'``; else SQLSTATE ``WW409``
and nothing is written), then the incidents and their events. See :mod:`store.groupwrite`;
SpatiaLite has no such function (its writer is in-process).

``batch -> 'incidents'`` carries every column of ``incidents`` (read as the table's row type, the
point as EWKT: a column added to the table is read by name, the writer sends every column of the
model); ``batch -> 'events'`` the columns of ``incident_events`` listed here (all but ``id``): a
column added to that table needs a migration replacing this function.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_EVENT_COLUMNS = (
    "incident_id, seq, action, actor_id, actor_role, at, from_state, to_state, payload, before, after"
)

_FUNCTION = """
CREATE FUNCTION weiwang_store_reports(lock_key bigint, batch json) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(lock_key);
    -- each statement below takes its snapshot after the lock is held (READ COMMITTED)
    IF EXISTS (
        SELECT FROM (
            SELECT id, state, valid_from, valid_to FROM layer_versions
            WHERE state IN ('published', 'retired') AND valid_from IS NOT NULL
        ) AS committed
        FULL JOIN json_to_recordset(batch -> 'versions')
            AS checked(id integer, state text, valid_from timestamptz, valid_to timestamptz) USING (id)
        WHERE committed.state IS DISTINCT FROM checked.state
           OR committed.valid_from IS DISTINCT FROM checked.valid_from
           OR committed.valid_to IS DISTINCT FROM checked.valid_to
    ) THEN
        RAISE EXCEPTION 'layer versions changed since the reports were checked'
            USING ERRCODE = 'WW409';
    END IF;
    INSERT INTO incidents SELECT * FROM json_populate_recordset(NULL::incidents, batch -> 'incidents');
    INSERT INTO incident_events (EVENT_COLUMNS)
        SELECT EVENT_COLUMNS FROM json_populate_recordset(NULL::incident_events, batch -> 'events');
END $$
""".replace("EVENT_COLUMNS", _EVENT_COLUMNS)


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION weiwang_store_reports(bigint, json)")
