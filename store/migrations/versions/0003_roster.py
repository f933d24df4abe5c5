"""Roster history and audit of changes to people and posts.

Owned by the roster and accounts (issue 14) work; empty until that work adds its tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
