"""The planner's page over HTTP: its state after each operation, the boundary two neighbours share
(to drag), publishing from the page, and the before/after diff map ``/maps/plan/{community}/diff``.

Each route makes one call into :mod:`api.ops.plan`; all need a planner (drafts are not public).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import require, service_of
from api.ops import plan as ops
from api.ops.access import Forbidden, User
from dispatch import AppRole

router = APIRouter(prefix="/api/v1/communities", tags=["草稿编辑 drafts"])
page_router = APIRouter(tags=["地图 maps"])
require_planner = require(AppRole.PLANNER, AppRole.ADMIN)
Code = Annotated[str, Path(max_length=32)]
Number = Annotated[int, Path(ge=1, le=1_000_000)]
VersionNumber = Annotated[int | None, Query(ge=1, le=1_000_000)]


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    override: bool = Field(default=False, description="有阻断性问题仍发布 publish despite blocking findings")
    reason: str = Field(default="", max_length=500, description="强制发布的理由 the override's reason")


@router.get("/{code}/drafts/{n}/plan", summary="规划编辑页状态 the planner's page state of a draft")
def plan_state(
    code: Code,
    n: Number,
    request: Request,
    impact: Annotated[bool, Query(description="附带发布影响 include the impact of publishing")] = False,
    _user: User = Depends(require_planner),
) -> dict[str, Any]:
    return ops.state(service_of(request), code, n, impact=impact)


@router.get("/{code}/drafts/{n}/shared-boundary", summary="两个微网格的共用边界 shared boundary")
def shared_boundary(
    code: Code,
    n: Number,
    request: Request,
    grids: Annotated[str, Query(max_length=80, description="A,B")],
    _user: User = Depends(require_planner),
) -> dict[str, Any]:
    codes = [c.strip() for c in grids.split(",") if c.strip()]
    return ops.shared_boundary(service_of(request), code, n, codes)


@router.post(
    "/{code}/drafts/{n}/publish", summary="由规划编辑页发布草稿 publish a draft from the planner's page"
)
def publish(
    code: Code,
    n: Number,
    request: Request,
    body: PublishIn | None = None,
    user: User = Depends(require_planner),
) -> dict[str, Any]:
    b = body or PublishIn()
    return ops.publish(
        service_of(request), code, n, override=b.override, reason=b.reason, author=user.username
    )


@page_router.get(
    "/maps/plan/{community}/diff", response_class=HTMLResponse, summary="版本对比地图 before/after diff map"
)
def diff_page(
    community: Code,
    request: Request,
    before: Annotated[int | None, Query(alias="from", ge=1, le=1_000_000)] = None,
    after: Annotated[int | None, Query(alias="to", ge=1, le=1_000_000)] = None,
) -> Response:
    """Two versions on one map, changed grids highlighted; planners only (others log in first)."""
    from api.http.routes_maps import html_page, login_redirect, page_user

    user = page_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in (AppRole.PLANNER, AppRole.ADMIN):
        raise Forbidden("版本对比页仅限规划员", "the diff map is for planners", field="role")
    return html_page(ops.diff_page(service_of(request), community, before, after, user))
