"""Incident operations behind the HTTP routes: intake, actions, listing, 督办, indicators.

Intake: convert the point to WGS84, locate it against the grid versions in force at
``reported_at``, route it (微网格员 → 微网格长 → 一般网格员 → 总网格长) and store the incident with
its first events in one transaction: 上报 by the reporter, then — when a handler was found —
受理 and 交办 by the system, which starts the deadline clock. A point outside every grid stays
已上报 in the community's 总网格 queue for 研判.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from fastapi.concurrency import run_in_threadpool
from shapely.geometry import Point

from api.access import Scope, User, actor_for, hidden
from api.context import Context
from dispatch import (
    Action,
    Actor,
    AppRole,
    Event,
    Incident,
    apply,
    from_record,
    indicators,
    report,
    route,
    supervision_list,
    to_record,
)
from dispatch.deadlines import DEFAULT_TIME_LIMITS, TimeLimits, overdue
from dispatch.errors import InvalidInput
from dispatch.incident import INCIDENT_FIELDS
from geo.crs import parse_crs, to_local_metric, to_wgs84, validate_lonlat
from geo.errors import InvalidCoordinates
from geo.hierarchy import Grid, Hierarchy
from geo.roles import Post, mask_phone
from store import db
from store.incidents import (
    append_event,
    get_incident,
    get_incident_or_none,
    insert_incident,
    list_events,
    list_events_of,
    list_incidents,
)
from store.timelimits import URGENT_KEY, load_time_limits

CST = timezone(timedelta(hours=8), "CST")
SYSTEM = Actor("system", AppRole.ADMIN)
#: How far in the future a report time may lie (clock skew of phones).
FUTURE_SLACK = timedelta(minutes=10)
#: A point outside every grid but this close to a community goes to that community's 研判 queue.
QUEUE_RADIUS_M = 2000.0


def new_incident_id(at: datetime) -> str:
    """``SJ`` + report date (Beijing) + 8 random hex digits: sortable by day, unguessable."""
    return f"SJ{at.astimezone(CST):%Y%m%d}{secrets.token_hex(4).upper()}"


def aware(at: datetime | None, now: datetime) -> datetime:
    """A report time: default now; a naive time is Beijing time."""
    if at is None:
        return now
    return at if at.tzinfo is not None else at.replace(tzinfo=CST)


def time_limits_for(ctx: Context, community_code: str | None) -> TimeLimits:
    """The community's configured limits (table ``time_limits``) over the defaults; cached like
    the roster (:attr:`Context.roster_ttl_s`)."""
    if community_code is None:
        return DEFAULT_TIME_LIMITS

    def load() -> TimeLimits:
        with db.read(ctx.engine) as conn:
            rows = load_time_limits(conn, community_code)
        return limits_from_rows(rows)

    return ctx.cached(_limits_key(community_code), load, ctx.roster_ttl_s)


def _limits_key(community_code: str) -> tuple[str, str]:
    return ("time_limits", community_code)


def forget_time_limits(ctx: Context, community_code: str) -> None:
    """After a change: this worker reads the limits anew; others within the cache's TTL."""
    ctx.forget(_limits_key(community_code))


def limits_from_rows(rows: dict[str, int]) -> TimeLimits:
    """:class:`TimeLimits` from a community's ``time_limits`` rows (see :mod:`store.timelimits`)."""
    if not rows:
        return DEFAULT_TIME_LIMITS
    hours = {k: v for k, v in rows.items() if k != URGENT_KEY}
    return TimeLimits.from_mapping(hours, rows.get(URGENT_KEY))


def time_limits_view(limits: TimeLimits, rows: dict[str, int]) -> dict[str, Any]:
    """What the API shows: the limits in force and which of them the community configured."""
    return {
        "hours": {c.value: limits.hours_for(c) for c in limits.hours},
        "urgent_hours": limits.urgent_hours,
        "configured": dict(sorted(rows.items())),
        "defaults": {c.value: DEFAULT_TIME_LIMITS.hours_for(c) for c in DEFAULT_TIME_LIMITS.hours},
        "default_urgent_hours": DEFAULT_TIME_LIMITS.urgent_hours,
    }


def _to_incident(row: dict[str, Any]) -> Incident:
    return from_record({k: row[k] for k in INCIDENT_FIELDS if k in row})


def locate_for_intake(
    ctx: Context, lon: float, lat: float, crs: str, at: datetime
) -> tuple[dict[str, Any], Hierarchy, float, float]:
    """Convert and locate a raw point against the versions in force at ``at``."""
    spec = parse_crs(crs)
    if spec.is_geographic:
        validate_lonlat(lon, lat)
    wlon, wlat = to_wgs84(lon, lat, spec)
    wlon, wlat = float(wlon), float(wlat)
    validate_lonlat(wlon, wlat)
    h, locator, versions = ctx.layer_at(at)
    if not versions:
        raise InvalidCoordinates(
            "上报时间早于首个网格版本，无法定位",
            "no grid version was in force at reported_at",
            field="reported_at",
        )
    loc = locator.locate_one(wlon, wlat).to_dict()
    comm = loc.get("community_code")
    v = versions.get(comm) if comm else None
    loc["version"] = {"community_code": comm, "number": v.number, "id": v.id} if v else None
    return loc, h, wlon, wlat


def nearest_community(h: Hierarchy, lon: float, lat: float) -> Grid | None:
    """The community nearest a point outside every grid, if within :data:`QUEUE_RADIUS_M`."""
    pt = to_local_metric(Point(lon, lat))
    best: tuple[float, Grid] | None = None
    for c in h.communities:
        d = float(to_local_metric(c.geometry).distance(pt))
        if d <= QUEUE_RADIUS_M and (best is None or d < best[0]):
            best = (d, c)
    return best[1] if best else None


#: How long a report retries on the event loop while another writer holds the SpatiaLite file
#: before it waits in a thread instead (a planner's large import may hold it for seconds).
RETRY_ON_LOOP_S = 2.0


@dataclass(frozen=True)
class Report:
    """A report converted, located and routed: the incident row and its first events, to store."""

    id: str
    record: dict[str, Any]
    events: tuple[dict[str, Any], ...]


def store_report(ctx: Context, report_: Report, *, wait: bool = True) -> dict[str, Any]:
    """Write the incident and its events in one transaction; returns the stored row.

    ``wait=False``: raise :class:`store.db.WriterBusy` at once, storing nothing, when another
    writer holds the SpatiaLite file."""
    with db.write(ctx.engine, wait=wait) as conn:
        insert_incident(conn, report_.record, *report_.events)
        return get_incident(conn, report_.id)


async def store_report_on_loop(ctx: Context, report_: Report) -> dict[str, Any]:
    """:func:`store_report` for a caller on the event loop, which must not block on another writer:
    while the SpatiaLite file is busy it yields to the loop and retries (after 0.5 ms, doubling
    to 20 ms), and after :data:`RETRY_ON_LOOP_S` it waits in a thread. On PostgreSQL writers do
    not queue and the first try stores it."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + RETRY_ON_LOOP_S
    delay = 0.0005
    while loop.time() < give_up:
        try:
            return store_report(ctx, report_, wait=False)
        except db.WriterBusy:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
    return await run_in_threadpool(store_report, ctx, report_)


def prepare_report(ctx: Context, user: User, body: dict[str, Any]) -> Report:
    """Check, convert, locate and route a report; raises the domain errors a bad report gets."""
    now = ctx.clock()
    at = aware(body.get("reported_at"), now)
    if at > now + FUTURE_SLACK:
        raise InvalidInput("上报时间不能晚于当前时间", "reported_at lies in the future", field="reported_at")
    loc, h, wlon, wlat = locate_for_intake(ctx, body["lon"], body["lat"], body.get("crs") or "wgs84", at)
    if loc.get("community_code") is None:
        near = nearest_community(h, wlon, wlat)
        if near is None:
            raise InvalidCoordinates(
                f"该点距任何社区（村）都超过 {QUEUE_RADIUS_M:.0f} 米，无法受理",
                f"the point lies more than {QUEUE_RADIUS_M:.0f} m from every community",
                field="lon",
            )
        loc["community_code"], loc["community_name"] = near.code, near.name
    reporter_in = body.get("reporter") or {}
    day = at.astimezone(CST).date()
    reporter = actor_for(ctx, user, day)
    resident_name = reporter_in.get("name")
    resident_phone = reporter_in.get("phone")
    incident_id = new_incident_id(at)
    inc, first = report(
        incident_id,
        body["category"],
        body["description"],
        reporter,
        at,
        community_code=loc["community_code"],
        general_code=loc.get("general_code"),
        micro_code=loc.get("micro_code"),
        lon=wlon,
        lat=wlat,
        address=body.get("address") or "",
        urgent=bool(body.get("urgent", False)),
    )
    events: list[Event] = []
    posts = ctx.posts()
    routed = route(loc.get("micro_code"), loc.get("general_code"), loc["community_code"], posts, day)
    if not routed.queue and routed.person_id is not None:
        limits = time_limits_for(ctx, inc.community_code)
        inc, ev = apply(inc, Action.ACCEPT, SYSTEM, at, note="自动受理：已定位到微网格")
        events.append(ev)
        inc, ev = apply(
            inc,
            Action.ASSIGN,
            SYSTEM,
            at,
            limits=limits,
            assignee_id=routed.person_id,
            assignee_role=routed.role.value,
            grid_code=routed.grid_code,
            note="按网格自动交办",
        )
        events.append(ev)
    record = to_record(inc) | {
        "raw_lon": float(body["lon"]),
        "raw_lat": float(body["lat"]),
        "raw_crs": parse_crs(body.get("crs") or "wgs84").name,
        "layer_version_id": (loc.get("version") or {}).get("id"),
        "on_boundary": bool(loc.get("on_boundary")),
        "snapped": bool(loc.get("snapped")),
        "distance_m": loc.get("distance_m"),
        "resident_name": resident_name,
        "resident_phone": resident_phone,
    }
    record["seq"] = first.seq + len(events)
    return Report(inc.id, record, (first.to_dict(), *(ev.to_dict() for ev in events)))


def act(
    ctx: Context, user: User, scope: Scope, incident_id: str, action: str, payload: dict[str, Any]
) -> dict:
    """Apply one action as ``user``; 404 if they may not see it, 409 if not allowed in this state."""
    now = ctx.clock()
    with db.write(ctx.engine) as conn:
        row = get_incident(conn, incident_id)
        if not scope.sees(row):
            raise hidden("事件", incident_id)
        inc = _to_incident(row)
        _check_references(ctx, conn, scope, inc, action, payload)
        actor = actor_for(ctx, user, now.astimezone(CST).date())
        at = max(now, inc.updated_at)
        limits = time_limits_for(ctx, inc.community_code) if action == "assign" else DEFAULT_TIME_LIMITS
        _new, ev = apply(inc, action, actor, at, limits=limits, **payload)
        append_event(conn, inc.id, ev.to_dict(), expected_seq=inc.seq)
        return get_incident(conn, inc.id)


def _check_references(
    ctx: Context, conn: Any, scope: Scope, inc: Incident, action: str, payload: dict[str, Any]
) -> None:
    """What the pure loop cannot know: the assignee is a person on the roster; a merge target
    exists, is visible, belongs to the same community and is not itself merged or void."""
    if action == "assign" and isinstance(payload.get("assignee_id"), str):
        known = {p.person_id for p in ctx.posts()}
        if payload["assignee_id"] not in known:
            raise InvalidInput(
                f"承办人不存在：{payload['assignee_id'][:64]}",
                "assignee_id is not a person on the roster",
                field="assignee_id",
            )
    if action == "merge" and isinstance(payload.get("into"), str):
        target = get_incident_or_none(conn, payload["into"][:64])
        if target is None or not scope.sees(target):
            raise InvalidInput(
                "合并目标事件不存在", "the incident to merge into does not exist", field="into"
            )
        if target["community_code"] != inc.community_code or target["state"] in ("已合并", "无效"):
            raise InvalidInput(
                "只能合并到同一社区、未合并且有效的事件",
                "merge only into a valid, unmerged incident of the same community",
                field="into",
            )


def names_of(ctx: Context) -> dict[str, str]:
    """Grid code → name over the published versions (rebuilt only when they change)."""
    published = ctx.published()
    key = ("grid_names", tuple(sorted(p.version_id for p in published.values())))

    def build() -> dict[str, str]:
        return {g.code: g.name for pub in published.values() for g in pub.hierarchy}

    return ctx.cached(key, build, float("inf"))


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
    inc = _to_incident(row)

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
        "overdue": overdue(inc, now),
        "seq": row.get("seq"),
    }


def visible_rows(ctx: Context, scope: Scope, **filters: Any) -> list[dict[str, Any]]:
    """Incidents matching ``filters`` that the scope may see."""
    limit = filters.pop("limit", 500)
    with db.read(ctx.engine) as conn:
        if scope.everything:
            return list_incidents(conn, limit=limit, **filters)
        rows = []
        if scope.grids:
            rows += list_incidents(conn, grid_codes=sorted(scope.grids), limit=limit, **filters)
        for c in sorted(scope.communities):
            f = dict(filters)
            if f.get("community_code") not in (None, c):
                continue
            f["community_code"] = c
            rows += list_incidents(conn, limit=limit, **f)
        if scope.person_id:
            rows += list_incidents(conn, assignee_id=scope.person_id, limit=limit, **filters)
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["id"], r)
    out = sorted(seen.values(), key=lambda r: (r["reported_at"], r["id"]), reverse=True)
    return out[:limit]


def events_of(ctx: Context, scope: Scope, incident_id: str) -> list[dict[str, Any]]:
    with db.read(ctx.engine) as conn:
        row = get_incident(conn, incident_id)
        if not scope.sees(row):
            raise hidden("事件", incident_id)
        evs = list_events(conn, incident_id)
    for e in evs:
        e["at"] = e["at"].isoformat() if isinstance(e["at"], datetime) else e["at"]
    return evs


def supervision(ctx: Context, scope: Scope, community: str | None, now: datetime) -> list[dict[str, Any]]:
    """The 督办清单: overdue open incidents, most overdue first, with the escalation target."""
    rows = visible_rows(ctx, scope, community_code=community, limit=100_000)
    incidents = [_to_incident(r) for r in rows]
    posts = ctx.posts()
    people = {p.person_id: p for p in posts}
    items = supervision_list(incidents, now.astimezone(CST), posts)
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
        out.append(d)
    return out


def stats(
    ctx: Context, scope: Scope, *, community: str | None, group_by: str, start: date, end: date, now: datetime
) -> list[dict[str, Any]]:
    """Indicators for ``[start, end)`` (Beijing dates) grouped by community/general/micro/handler."""
    rows = visible_rows(ctx, scope, community_code=community, limit=1_000_000)
    incidents = [_to_incident(r) for r in rows]
    with db.read(ctx.engine) as conn:
        events = [Event.from_dict(e) for e in list_events_of(conn, [r["id"] for r in rows])]
    ps = datetime.combine(start, datetime.min.time(), tzinfo=CST)
    pe = datetime.combine(end, datetime.min.time(), tzinfo=CST)
    result = indicators(incidents, events, ps, pe, now, group_by=group_by)
    return [r.to_dict() for r in result]
