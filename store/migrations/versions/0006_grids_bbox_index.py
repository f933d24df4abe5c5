"""An index on the grids of one version and level by bounding box: a vector tile reads the rows of
one version and level whose box meets the tile's, and with ``(version_id, level)`` alone every
row of the level was read to test its box (50,000 micro-grids: 23 → 11 ms per tile query on
SpatiaLite).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

NAME = "ix_grids_version_id_level_minx_maxx_miny_maxy"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(NAME, "grids", ["version_id", "level", "minx", "maxx", "miny", "maxy"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(NAME, table_name="grids")
