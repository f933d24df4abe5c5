"""The audit log: who changed people, posts or accounts, when, and the values before and after.

Append-only; functions take a connection inside the transaction that makes the change, so a change
and its record commit together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from store.models import audit_log


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> None:
    """Append one entry (``before``/``after``: JSON-able values, dates as ISO strings)."""
    conn.execute(
        insert(audit_log).values(
            at=at or datetime.now(UTC),
            actor=actor[:64],
            action=action[:32],
            entity=entity[:16],
            entity_id=entity_id[:128],
            before=_jsonable(before),
            after=_jsonable(after),
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def entries(
    conn: Connection, *, entity: str | None = None, entity_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """The newest entries first, optionally of one entity kind / id."""
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if entity is not None:
        q = q.where(audit_log.c.entity == entity)
    if entity_id is not None:
        q = q.where(audit_log.c.entity_id == entity_id)
    return [dict(r._mapping) for r in conn.execute(q)]
