"""Draft operations of planners: the undo log of redraw operations on a draft version, and the
household bands each community plans for.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "draft_operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("removed", sa.JSON(), nullable=True),
        sa.Column("added", sa.JSON(), nullable=True),
        sa.Column("before_grids", sa.JSON(), nullable=True),
        sa.Column("after_codes", sa.JSON(), nullable=True),
        sa.Column("before_elements", sa.JSON(), nullable=True),
        sa.Column("summary_zh", sa.Text(), server_default="", nullable=False),
        sa.Column("summary_en", sa.Text(), server_default="", nullable=False),
        sa.Column("author", sa.String(length=100), server_default="", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["layer_versions.id"],
            name=op.f("fk_draft_operations_version_id_layer_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_operations")),
        sa.UniqueConstraint("version_id", "seq", name=op.f("uq_draft_operations_version_id_seq")),
    )
    op.create_table(
        "household_bands",
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("lo", sa.Integer(), nullable=False),
        sa.Column("hi", sa.Integer(), nullable=False),
        sa.CheckConstraint("lo >= 0 AND hi >= lo", name=op.f("ck_household_bands_range")),
        sa.CheckConstraint("level IN ('general', 'micro')", name=op.f("ck_household_bands_level")),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["communities.code"],
            name=op.f("fk_household_bands_community_code_communities"),
        ),
        sa.PrimaryKeyConstraint("community_code", "level", name=op.f("pk_household_bands")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("household_bands")
    op.drop_table("draft_operations")
