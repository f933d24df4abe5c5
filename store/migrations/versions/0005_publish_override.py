"""Publishing records who published a version and when, and — when blocking findings were
overridden — the reason given and the findings overridden.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("layer_versions") as batch:
        batch.add_column(sa.Column("published_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("override_findings", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("layer_versions") as batch:
        batch.drop_column("override_findings")
        batch.drop_column("override_reason")
        batch.drop_column("published_at")
        batch.drop_column("published_by")
