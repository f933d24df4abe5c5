"""``/api/v1/incidents``, ``/supervision``, ``/stats``: the 上报 + 反馈 loop over HTTP.

Each route parses, makes one call into :mod:`api.ops`, and returns what it got."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.http.deps import current_user, require, service_of
from api.http.schemas import ActionIn, IncidentIn
from api.ops import incidents as ops
from api.ops import intake
from api.ops.access import User
from api.ops.intake_batch import store_report_batched
from dispatch import AppRole

router = APIRouter(prefix="/api/v1", tags=["事件 incidents"])

REPORTERS = (AppRole.GRID_WORKER, AppRole.DISPATCHER, AppRole.ADMIN)
require_reporter = require(*REPORTERS)


@router.post("/incidents", status_code=201, summary="上报事件 report an incident")
async def create_incident(
    body: IncidentIn, request: Request, response: Response, user: User = Depends(require_reporter)
) -> dict:
    """Convert, locate (grid version in force at ``reported_at``), route to the micro-grid's
    微网格员 (falling back up the roles) and store, with every step as an event."""
    # On the event loop, not in the thread pool: a report is ~1 ms of CPU and one short write
    # transaction, and the hop to a thread plus the GIL handovers cost more than that (see
    # bench/README.md). Building layers goes to a thread (prepare_report_on_loop); the write
    # never blocks the loop on another writer (store_report_on_loop).
    service = service_of(request)
    report_ = await intake.prepare_report_on_loop(service, user, body.model_dump())
    if service.settings.intake_batch:  # group commit: answered once its batch has committed
        row = await store_report_batched(service, report_)
    else:
        row = await intake.store_report_on_loop(service, report_)
    response.headers["Location"] = f"/api/v1/incidents/{row['id']}"
    return ops.present_rows(service, user, [row])[0]


@router.get("/incidents", summary="事件列表 list incidents")
def list_incidents(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[str | None, Query(max_length=200, description="已上报,处置中 … or keys")] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    user: User = Depends(current_user),
) -> dict:
    return ops.list_for(
        service_of(request), user, community=community, states=state, categories=category, limit=limit
    )


@router.get("/incidents/{incident_id}", summary="事件详情 one incident")
def get_incident(incident_id: str, request: Request, user: User = Depends(current_user)) -> dict:
    return ops.get_one(service_of(request), user, incident_id)


@router.get("/incidents/{incident_id}/events", summary="事件过程 the incident's events")
def incident_events(incident_id: str, request: Request, user: User = Depends(current_user)) -> dict:
    return {"items": ops.events_of(service_of(request), user, incident_id)}


@router.post("/incidents/{incident_id}/actions", summary="办理 act on an incident")
def act(incident_id: str, body: ActionIn, request: Request, user: User = Depends(current_user)) -> dict:
    """Actions: accept, reclassify, merge, void, assign, start, feedback, verify_pass, verify_fail,
    defer, resume. An action not allowed in the incident's state answers 409 naming the allowed ones."""
    return ops.act(service_of(request), user, incident_id, body.action, body.params())


@router.get("/supervision", summary="督办清单 overdue incidents")
def supervision(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    user: User = Depends(current_user),
) -> dict:
    return ops.supervision(service_of(request), user, community)


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
    return ops.stats(service_of(request), user, community=community, group_by=group_by, start=start, end=end)
