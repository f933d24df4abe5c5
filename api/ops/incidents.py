"""Incident operations after intake: one incident and its history, the list, actions, the
督办清单 and the indicators — each a plain function of (service, user, …) returning JSON-ready
values, called alike by the HTTP routes, the CLI, the map pages and notebooks.

Visibility is :class:`store.incidents.Visibility` (built by :func:`api.ops.access.scope_of`), applied
inside every query: an incident a caller may not see is "not found".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from api.ops import notices, privacy
from api.ops.access import Forbidden, Scope, User, actor_for, hidden, scope_of
from api.ops.service import Service
from api.ops.timelimits import time_limits_for
from dispatch import (
    AppRole,
    Category,
    Event,
    Incident,
    State,
    apply,
    available_actions,
    from_record,
    indicators,
    supervision_list,
)
from dispatch.deadlines import DEFAULT_TIME_LIMITS, overdue
from dispatch.errors import InvalidInput
from dispatch.incident import INCIDENT_FIELDS
from dispatch.states import SYSTEM_ACTIONS, Action, allowed_actions
from geo.errors import NotFound
from geo.roles import Post, mask_phone
from geo.times import CST, beijing_date, beijing_midnight
from store import db
from store.incidents import (
    append_event,
    get_incident,
    get_incident_or_none,
    list_events,
    list_events_of,
    list_incidents,
)

#: States after which an incident needs nothing more.
FINAL_STATES = (State.CLOSED.value, State.MERGED.value, State.VOID.value)


def to_incident(row: dict[str, Any]) -> Incident:
    return from_record({k: row[k] for k in INCIDENT_FIELDS if k in row})


def parse_states(value: str | Sequence[str] | None) -> list[str] | None:
    """States from Chinese values or English keys (comma-separated text or a list)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for v in items:
        try:
            out.append(State(v).value)
        except ValueError:
            match = [s for s in State if s.key == v]
            if not match:
                raise InvalidInput(f"状态无效：{v}", f"unknown state {v!r}", field="state") from None
            out.append(match[0].value)
    return out


def parse_categories(value: str | Sequence[str] | None) -> list[str] | None:
    """Categories from Chinese values or English keys (comma-separated text or a list)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [Category.parse(v).value for v in items]


def names_of(service: Service) -> dict[str, str]:
    """Grid code → name over the published versions (rebuilt only when they change); none before
    the first publish, so a new site's lists are empty rather than "not found"."""
    try:
        view = service.layers.current()
    except NotFound:
        return {}
    key = ("grid_names", view.version_ids)
    return service.cached(key, lambda: {g.code: g.name for g in view.hierarchy}, float("inf"))


def people_of(posts: Sequence[Post]) -> dict[str, Post]:
    """Person id → one of their posts (for names and phones)."""
    return {p.person_id: p for p in posts}


def present(
    row: dict[str, Any], *, people: dict[str, Post], names: dict[str, str], mask: bool, now: datetime
) -> dict[str, Any]:
    """The incident as the API shows it (phones masked for viewers)."""
    assignee = None
    if row.get("assignee_id"):
        p = people.get(row["assignee_id"])
        phone = p.phone if p else None
        assignee = {
            "person_id": row["assignee_id"],
            "name": p.name if p else None,
            "role": row.get("assignee_role"),
            "phone": mask_phone(phone) if mask else phone,
        }

    def iso(v: Any) -> str | None:
        return v.isoformat() if isinstance(v, datetime) else v

    resident = None
    if row.get("resident_name") or row.get("resident_phone"):
        ph = row.get("resident_phone")
        resident = {"name": row.get("resident_name"), "phone": mask_phone(ph) if mask else ph}
    return {
        "id": row["id"],
        "community_code": row.get("community_code"),
        "category": row["category"],
        "description": row["description"],
        "state": row["state"],
        "urgent": bool(row.get("urgent")),
        "lon": row.get("lon"),
        "lat": row.get("lat"),
        "address": row.get("address") or "",
        "raw": {"lon": row.get("raw_lon"), "lat": row.get("raw_lat"), "crs": row.get("raw_crs")},
        "grid": {
            "micro_code": row.get("micro_code"),
            "micro_name": names.get(row.get("micro_code") or ""),
            "general_code": row.get("general_code"),
            "general_name": names.get(row.get("general_code") or ""),
            "community_code": row.get("community_code"),
            "community_name": names.get(row.get("community_code") or ""),
            "on_boundary": bool(row.get("on_boundary")),
            "snapped": bool(row.get("snapped")),
            "distance_m": row.get("distance_m"),
            "version_id": row.get("layer_version_id"),
        },
        "reporter_id": row.get("reporter_id"),
        "resident": resident,
        "assignee": assignee,
        "assigned_grid_code": row.get("assigned_grid_code"),
        "reported_at": iso(row.get("reported_at")),
        "assigned_at": iso(row.get("assigned_at")),
        "deadline": iso(row.get("deadline")),
        "closed_at": iso(row.get("closed_at")),
        "updated_at": iso(row.get("updated_at")),
        "feedback_note": row.get("feedback_note") or "",
        "rework_count": row.get("rework_count") or 0,
        "merged_into": row.get("merged_into"),
        "void_reason": row.get("void_reason") or "",
        "defer_reason": row.get("defer_reason") or "",
        "overdue": _overdue(row, now),
        "seq": row.get("seq"),
    }


def _overdue(row: dict[str, Any], now: datetime) -> bool:
    """:func:`dispatch.deadlines.overdue` of the row's incident. A row without a deadline, or whose
    deadline has not passed, is never overdue whatever its state: the incident is built (every field
    parsed, ~40 µs of an intake's answer) only for a deadline already past."""
    deadline = row.get("deadline")
    if deadline is None or (isinstance(deadline, datetime) and now <= deadline):
        return False
    return overdue(to_incident(row), now)


def present_rows(service: Service, user: User, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as the caller is shown them (:func:`present`)."""
    people = people_of(service.posts())
    names = names_of(service)
    now = service.clock()
    # The privacy policy (api.ops.privacy.POLICY) decides what of residents and handlers is shown.
    return [
        privacy.apply(user.role, present(r, people=people, names=names, mask=False, now=now)) for r in rows
    ]


def visible_rows(service: Service, scope: Scope, **filters: Any) -> list[dict[str, Any]]:
    """Incidents matching ``filters`` that ``scope`` lets through (one query), newest first."""
    limit = filters.pop("limit", 500)
    with db.read(service.engine) as conn:
        return list_incidents(conn, visible=scope, limit=limit, **filters)


def list_for(
    service: Service,
    user: User,
    *,
    community: str | None = None,
    states: str | Sequence[str] | None = None,
    categories: str | Sequence[str] | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """The incidents ``user`` may see, filtered, as shown to them."""
    rows = visible_rows(
        service,
        scope_of(service, user),
        community_code=community,
        states=parse_states(states),
        categories=parse_categories(categories),
        limit=limit,
    )
    return {"items": present_rows(service, user, rows), "total": len(rows)}


def incident_key(incident_id: str) -> str:
    """An incident id from a path, bounded; one with control characters (``%00``) is simply not
    found — before any query, as PostgreSQL refuses NUL in text and SQLite would cut at it."""
    if not incident_id.isprintable():
        raise hidden("事件", incident_id[:64].encode("unicode_escape").decode("ascii"))
    return incident_id[:64]


def get_one(service: Service, user: User, incident_id: str) -> dict[str, Any]:
    """One incident as shown to ``user``, with the actions its state allows."""
    incident_id = incident_key(incident_id)
    with db.read(service.engine) as conn:
        row = get_incident_or_none(conn, incident_id[:64], scope_of(service, user))
    if row is None:
        raise hidden("事件", incident_id[:64])
    out = present_rows(service, user, [row])[0]
    out["allowed_actions"] = [
        a.value for a in allowed_actions(State(row["state"])) if a not in SYSTEM_ACTIONS
    ]
    out["my_actions"] = my_actions(service, user, row)
    return out


def my_actions(service: Service, user: User, row: dict[str, Any]) -> list[str]:
    """The actions ``user`` may take on the incident now (state and permission): the buttons.
    开始处置 is not offered again once work is under way (处置中: 反馈 follows directly)."""
    if user.role in (AppRole.VIEWER, AppRole.PLANNER):
        return []
    inc = to_incident(row)
    actor = actor_for(service, user, service.today())
    acts = available_actions(inc, actor)
    return [a.value for a in acts if not (a is Action.START and inc.state is State.IN_PROGRESS)]


def events_of(service: Service, user: User, incident_id: str) -> list[dict[str, Any]]:
    """The incident's history (oldest first), if ``user`` may see the incident."""
    incident_id = incident_key(incident_id)
    with db.read(service.engine) as conn:
        if get_incident_or_none(conn, incident_id[:64], scope_of(service, user)) is None:
            raise hidden("事件", incident_id[:64])
        evs = list_events(conn, incident_id[:64])
    for e in evs:
        e["at"] = e["at"].isoformat() if isinstance(e["at"], datetime) else e["at"]
    return evs


def act(service: Service, user: User, incident_id: str, action: str, payload: dict[str, Any]) -> dict:
    """Apply one action as ``user`` and return the incident as shown to them: not found if they
    may not see it, :class:`Forbidden` for read-only roles, 409 if the state does not allow it."""
    if user.role in (AppRole.VIEWER, AppRole.PLANNER):
        raise Forbidden("只读账号不能办理事件", "read-only accounts cannot act on incidents")
    name = Action.parse(action).value
    if Action(name) in SYSTEM_ACTIONS:
        raise Forbidden(
            f"「{Action(name).zh}」只由系统在发布新网格图时执行",
            f"{name} is taken only by the system at a publish",
        )
    incident_id = incident_key(incident_id)
    scope = scope_of(service, user)
    now = service.clock()
    with db.write(service.engine) as conn:
        row = get_incident_or_none(conn, incident_id[:64], scope)
        if row is None:
            raise hidden("事件", incident_id[:64])
        inc = to_incident(row)
        _check_references(service, conn, scope, inc, name, payload)
        actor = actor_for(service, user, beijing_date(now))
        at = max(now, inc.updated_at)
        limits = time_limits_for(service, inc.community_code) if name == "assign" else DEFAULT_TIME_LIMITS
        if name == "supervise":
            payload = notices.supervise_payload(service, inc, payload, at)
        _new, ev = apply(inc, name, actor, at, limits=limits, **payload)
        append_event(conn, inc.id, ev.to_dict(), expected_seq=inc.seq)
        if name == "supervise":
            notices.notify_supervised(conn, inc, ev.to_dict(), user)
        stored = get_incident(conn, inc.id)
    return present_rows(service, user, [stored])[0]


def _check_references(
    service: Service, conn: Any, scope: Scope, inc: Incident, action: str, payload: dict[str, Any]
) -> None:
    """What the pure loop cannot know: the assignee is a person on the roster; a merge target
    exists, is visible, belongs to the same community and is not itself merged or void."""
    if action == "assign" and isinstance(payload.get("assignee_id"), str):
        known = {p.person_id for p in service.posts()}
        if payload["assignee_id"] not in known:
            raise InvalidInput(
                f"承办人不存在：{payload['assignee_id'][:64]}",
                "assignee_id is not a person on the roster",
                field="assignee_id",
            )
    if action == "merge" and isinstance(payload.get("into"), str):
        target = get_incident_or_none(conn, payload["into"][:64], scope)
        if target is None:
            raise InvalidInput(
                "合并目标事件不存在", "the incident to merge into does not exist", field="into"
            )
        if target["community_code"] != inc.community_code or target["state"] in (
            State.MERGED.value,
            State.VOID.value,
        ):
            raise InvalidInput(
                "只能合并到同一社区、未合并且有效的事件",
                "merge only into a valid, unmerged incident of the same community",
                field="into",
            )


def supervision(service: Service, user: User, community: str | None = None) -> dict[str, Any]:
    """The 督办清单: overdue open incidents the caller may see, most overdue first, each with the
    escalation target and the incident as shown to the caller."""
    now = service.clock()
    rows = visible_rows(service, scope_of(service, user), community_code=community, limit=100_000)
    by_id = {r["id"]: r for r in rows}
    posts = service.posts()
    people = people_of(posts)
    items = supervision_list([to_incident(r) for r in rows], now.astimezone(CST), posts)
    shown = {p["id"]: p for p in present_rows(service, user, [by_id[it.incident_id] for it in items])}
    out = []
    for it in items:
        d = it.to_dict()
        target = people.get(it.escalate_person_id or "")
        d["escalate_to"] = {
            "role": it.escalate_role.value,
            "person_id": it.escalate_person_id,
            "name": target.name if target else None,
            "grid_code": it.escalate_grid_code,
        }
        d["incident"] = shown.get(it.incident_id)
        out.append(d)
    return {"items": out, "now": now.isoformat()}


def stats_rows(
    service: Service,
    scope: Scope,
    *,
    community: str | None,
    group_by: str,
    start: date,
    end: date,
) -> list[dict[str, Any]]:
    """Indicators for ``[start, end)`` (Beijing dates) grouped by community/general/micro/handler."""
    now = service.clock()
    rows = visible_rows(service, scope, community_code=community, limit=1_000_000)
    incidents = [to_incident(r) for r in rows]
    with db.read(service.engine) as conn:
        events = [Event.from_dict(e) for e in list_events_of(conn, [r["id"] for r in rows])]
    result = indicators(
        incidents, events, beijing_midnight(start), beijing_midnight(end), now, group_by=group_by
    )
    return [r.to_dict() for r in result]


def stats(
    service: Service,
    user: User,
    *,
    community: str | None = None,
    group_by: str = "community",
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """结案率, 按期结案率, 返工, median handling time, open and overdue counts for ``[start, end)``
    (Beijing dates, years 2000–2100; default the 30 days up to today)."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and not 2000 <= value.year <= 2100:
            raise InvalidInput(
                f"日期超出范围（2000–2100 年）：{value.isoformat()}",
                f"{name} must lie in the years 2000–2100",
                field=name,
            )
    end = end or service.today() + timedelta(days=1)
    start = start or end - timedelta(days=30)
    if start >= end:
        raise InvalidInput("起始日期须早于截止日期", "from must be before to", field="from")
    rows = stats_rows(
        service, scope_of(service, user), community=community, group_by=group_by, start=start, end=end
    )
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by, "items": rows}
