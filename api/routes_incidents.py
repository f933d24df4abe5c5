"""``/api/v1/incidents``, ``/supervision``, ``/stats``: the 上报 + 反馈 loop over HTTP."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api import incidents as ops
from api.access import Forbidden, Scope, User, ctx_of, current_user, hidden, require, scope_for
from api.context import Context
from api.schemas import ActionIn, IncidentIn
from dispatch import AppRole, Category, State
from dispatch.errors import InvalidInput
from dispatch.states import Action, allowed_actions
from geo.hierarchy import Hierarchy

router = APIRouter(prefix="/api/v1", tags=["事件 incidents"])

REPORTERS = (AppRole.GRID_WORKER, AppRole.DISPATCHER, AppRole.ADMIN)
require_reporter = require(*REPORTERS)


def _scope(ctx: Context, user: User) -> Scope:
    combined = ctx.grids.current_locator()
    h: Hierarchy = combined.hierarchy
    return scope_for(user, ctx.posts(), h, ctx.clock().astimezone(ops.CST).date())


def _present(ctx: Context, user: User, rows: list[dict]) -> list[dict]:
    people = ops.people_of(ctx.posts())
    names = ops.names_of(ctx)
    now = ctx.clock()
    return [ops.present(r, people=people, names=names, mask=user.masks_phones, now=now) for r in rows]


def _parse_state(value: str | None) -> list[str] | None:
    if value is None:
        return None
    out = []
    for v in value.split(","):
        try:
            out.append(State(v).value)
        except ValueError:
            match = [s for s in State if s.key == v]
            if not match:
                raise InvalidInput(f"状态无效：{v}", f"unknown state {v!r}", field="state") from None
            out.append(match[0].value)
    return out


def _parse_category(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [Category.parse(v).value for v in value.split(",")]


@router.post("/incidents", status_code=201, summary="上报事件 report an incident")
async def create_incident(
    body: IncidentIn, request: Request, response: Response, user: User = Depends(require_reporter)
) -> dict:
    """Convert, locate (grid version in force at ``reported_at``), route to the micro-grid's
    微网格员 (falling back up the roles) and store, with every step as an event."""
    # Runs on the event loop, not in the thread pool: a report is ~1 ms of CPU and one short write
    # transaction, and the hop to a thread plus the GIL handovers it brings cost more than that —
    # at 200 reports/s they put p99 at 66–89 ms instead of 7–11 ms (bench/bench_api.py). The
    # write never blocks the loop on another writer (see ops.store_report_on_loop). What may
    # still block it is rare: the first report against an old grid version builds that
    # version's locator (~0.1 s).
    ctx = ctx_of(request)
    Category.parse(body.category)
    row = await ops.store_report_on_loop(ctx, ops.prepare_report(ctx, user, body.model_dump()))
    response.headers["Location"] = f"/api/v1/incidents/{row['id']}"
    return _present(ctx, user, [row])[0]


@router.get("/incidents", summary="事件列表 list incidents")
def list_incidents(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[str | None, Query(max_length=200, description="已上报,处置中 … or keys")] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    user: User = Depends(current_user),
) -> dict:
    ctx = ctx_of(request)
    rows = ops.visible_rows(
        ctx,
        _scope(ctx, user),
        community_code=community,
        states=_parse_state(state),
        categories=_parse_category(category),
        limit=limit,
    )
    return {"items": _present(ctx, user, rows), "total": len(rows)}


@router.get("/incidents/{incident_id}", summary="事件详情 one incident")
def get_incident(incident_id: str, request: Request, user: User = Depends(current_user)) -> dict:
    ctx = ctx_of(request)
    scope = _scope(ctx, user)
    from store import db
    from store.incidents import get_incident_or_none

    with db.read(ctx.engine) as conn:
        row = get_incident_or_none(conn, incident_id[:64])
    if row is None or not scope.sees(row):
        raise hidden("事件", incident_id)
    out = _present(ctx, user, [row])[0]
    out["allowed_actions"] = [a.value for a in allowed_actions(State(row["state"]))]
    return out


@router.get("/incidents/{incident_id}/events", summary="事件过程 the incident's events")
def incident_events(incident_id: str, request: Request, user: User = Depends(current_user)) -> dict:
    ctx = ctx_of(request)
    return {"items": ops.events_of(ctx, _scope(ctx, user), incident_id[:64])}


@router.post("/incidents/{incident_id}/actions", summary="办理 act on an incident")
def act(incident_id: str, body: ActionIn, request: Request, user: User = Depends(current_user)) -> dict:
    """Actions: accept, reclassify, merge, void, assign, start, feedback, verify_pass, verify_fail,
    defer, resume. An action not allowed in the incident's state answers 409 naming the allowed ones."""
    ctx = ctx_of(request)
    if user.role is AppRole.VIEWER or user.role is AppRole.PLANNER:
        raise Forbidden("只读账号不能办理事件", "read-only accounts cannot act on incidents")
    action = Action.parse(body.action)
    row = ops.act(ctx, user, _scope(ctx, user), incident_id[:64], action.value, body.params())
    return _present(ctx, user, [row])[0]


@router.get("/supervision", summary="督办清单 overdue incidents")
def supervision(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    user: User = Depends(current_user),
) -> dict:
    ctx = ctx_of(request)
    now = ctx.clock()
    items = ops.supervision(ctx, _scope(ctx, user), community, now)
    if items:
        ids = [it["incident_id"] for it in items]
        rows = {r["id"]: r for r in ops.visible_rows(ctx, Scope(True), limit=100_000) if r["id"] in set(ids)}
        presented = {p["id"]: p for p in _present(ctx, user, list(rows.values()))}
        for it in items:
            it["incident"] = presented.get(it["incident_id"])
    return {"items": items, "now": now.isoformat()}


@router.get("/stats", summary="考核指标 indicators")
def stats(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    group_by: Annotated[str, Query(pattern="^(community|general|micro|handler)$")] = "community",
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    user: User = Depends(current_user),
) -> dict:
    """结案率 = 结案数 / (应结案数 − 缓办数); 按期结案率 = 按期结案数 / (应结案数 − 缓办数); 返工,
    median handling time, open and overdue counts — for ``[from, to)`` (Beijing dates; default the
    last 30 days)."""
    ctx = ctx_of(request)
    now = ctx.clock()
    today = now.astimezone(ops.CST).date()
    end = end or today + timedelta(days=1)
    start = start or end - timedelta(days=30)
    rows = ops.stats(
        ctx, _scope(ctx, user), community=community, group_by=group_by, start=start, end=end, now=now
    )
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by, "items": rows}
