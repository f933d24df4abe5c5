"""In-app notices (督办 reaches its target) and what a 督办 needs that the pure loop cannot know:
the default target one level up the escalation ladder, and the notice written with the event.

A caller sees only their own notices (recipient = their actor id: the person, else ``user:NAME``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.ops.access import User
from api.ops.service import Service
from dispatch import Incident
from dispatch.deadlines import escalation_target, periods_overdue
from dispatch.errors import InvalidInput
from geo.times import CST
from store import db
from store.notices import add_notice, count_unread, list_notices, mark_read

#: Notices listed at most per call.
MAX_NOTICES = 200


def supervise_payload(
    service: Service, inc: Incident, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The 督办 payload with its target filled in: the one given (a person on the roster), else the
    escalation target — one level above the handler per started overdue period, at least one."""
    out = dict(payload)
    posts = service.posts()
    if out.get("target_id") is None:
        levels = max(1, periods_overdue(inc, now))
        role, person, grid = escalation_target(inc, levels, posts, now.astimezone(CST))
        if person is None:
            raise InvalidInput(
                "找不到上一级督办对象，请指定督办对象",
                "no escalation target found; name target_id",
                field="target_id",
            )
        out.update(target_id=person, target_role=role.value, target_grid=grid)
        return out
    target = out["target_id"]
    if not isinstance(target, str) or target not in {p.person_id for p in posts}:
        raise InvalidInput(
            f"督办对象不存在：{str(target)[:64]}",
            "target_id is not a person on the roster",
            field="target_id",
        )
    if out.get("target_role") is None:
        held = sorted(p.role.value for p in posts if p.person_id == target)
        out["target_role"] = held[0] if held else None
    return out


def supervise_message(inc: Incident, payload: dict[str, Any], actor_name: str) -> str:
    """The notice text (zh): which incident, by whom, and whether it was handed over."""
    text = f"{actor_name} 督办事件 {inc.id}（{inc.category.value}，{inc.state.value}）"
    if payload.get("reassign"):
        text += "，已改派给您办理"
    if payload.get("note"):
        text += f"：{payload['note']}"
    return text


def notify_supervised(conn: Any, inc: Incident, event: dict[str, Any], user: User) -> int:
    """Write the notice of a stored 督办 event (same transaction)."""
    p = event["payload"]
    return add_notice(
        conn,
        recipient_id=p["target_id"],
        incident_id=inc.id,
        kind="supervise",
        actor_id=event["actor_id"],
        message=supervise_message(inc, p, user.username),
        at=datetime.fromisoformat(event["at"]) if isinstance(event["at"], str) else event["at"],
    )


def _present(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "incident_id": row["incident_id"],
        "kind": row["kind"],
        "actor_id": row["actor_id"],
        "message": row["message"],
        "created_at": row["created_at"].isoformat(),
        "read": row["read_at"] is not None,
    }


def notices_for(service: Service, user: User, *, unread_only: bool = False) -> dict[str, Any]:
    """The caller's notices, newest first, and how many are unread (the badge)."""
    with db.read(service.engine) as conn:
        rows = list_notices(conn, [user.actor_id], unread_only=unread_only, limit=MAX_NOTICES)
        unread = count_unread(conn, [user.actor_id])
    return {"items": [_present(r) for r in rows], "unread": unread}


def read_notices(service: Service, user: User, ids: list[int] | None) -> dict[str, Any]:
    """Mark the caller's notices read (all when ``ids`` is None); others' notices are untouched."""
    with db.write(service.engine) as conn:
        changed = mark_read(conn, [user.actor_id], ids, service.clock())
        unread = count_unread(conn, [user.actor_id])
    return {"marked": changed, "unread": unread}
