"""Incident workspace: supervision notices, photos.

Owned by the incident workspace (issue 11) work; empty until that work adds its tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
