"""Draft operations of planners (undo log).

Owned by the planner redraw (issue 12) work; empty until that work adds its tables.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
