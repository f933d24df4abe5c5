"""In-app notices: a 督办 reaches its target as a row here; the target lists and marks them read.

Recipients are actor ids (a person id, or ``user:NAME`` for an account without a person), the same
ids events record. Functions never commit; the caller's transaction holds them (a 督办 and its
notice are written together).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from store.models import notices

_COLUMNS = [notices.c[n] for n in ("id", "recipient_id", "incident_id", "kind", "actor_id", "message")] + [
    notices.c.created_at,
    notices.c.read_at,
]


def add_notice(
    conn: Connection,
    *,
    recipient_id: str,
    incident_id: str,
    kind: str,
    actor_id: str,
    message: str,
    at: datetime,
) -> int:
    """Store one unread notice; returns its id."""
    result = conn.execute(
        insert(notices).values(
            recipient_id=recipient_id,
            incident_id=incident_id,
            kind=kind,
            actor_id=actor_id,
            message=message,
            created_at=at,
        )
    )
    return int(result.inserted_primary_key[0])


def list_notices(
    conn: Connection, recipient_ids: Sequence[str], *, unread_only: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """A recipient's notices, newest first."""
    q = select(*_COLUMNS).where(notices.c.recipient_id.in_(list(recipient_ids)))
    if unread_only:
        q = q.where(notices.c.read_at.is_(None))
    q = q.order_by(notices.c.created_at.desc(), notices.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(q)]


def count_unread(conn: Connection, recipient_ids: Sequence[str]) -> int:
    q = select(func.count()).where(
        notices.c.recipient_id.in_(list(recipient_ids)), notices.c.read_at.is_(None)
    )
    return int(conn.execute(q).scalar_one())


def mark_read(
    conn: Connection, recipient_ids: Sequence[str], notice_ids: Sequence[int] | None, at: datetime
) -> int:
    """Mark the recipient's notices read (``notice_ids`` None: all of them); returns how many changed.
    Another recipient's notice is never touched."""
    q = update(notices).where(notices.c.recipient_id.in_(list(recipient_ids)), notices.c.read_at.is_(None))
    if notice_ids is not None:
        q = q.where(notices.c.id.in_(list(notice_ids)))
    return int(conn.execute(q.values(read_at=at)).rowcount)
