"""Planners redraw drafts over HTTP: ``/api/v1/communities/{code}/drafts/{n}/…`` and the diff.

Each route parses its body and makes one call into :mod:`api.ops.drafts`; a refused operation is
``redraw_refused`` naming in ``detail.findings`` exactly what it would break. Reading a draft, the
diff and the impact need a planner too (drafts are not public).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import require, service_of
from api.ops import drafts as ops
from api.ops.access import Forbidden, User
from dispatch import AppRole

router = APIRouter(prefix="/api/v1/communities", tags=["草稿编辑 drafts"])
page_router = APIRouter(tags=["地图 maps"])
require_planner = require(AppRole.PLANNER, AppRole.ADMIN)
Code = Annotated[str, Path(max_length=32)]
Number = Annotated[int, Path(ge=1, le=1_000_000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    crs: str | None = Field(default=None, max_length=64, description="坐标系 (default wgs84)")


class NewDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=500)


class SplitIn(_Body):
    grid: str = Field(max_length=32)
    line: str = Field(max_length=200_000, description="WKT LINESTRING")


class MergeIn(_Body):
    grids: list[str] = Field(min_length=2, max_length=20)
    name: str | None = Field(default=None, max_length=200)


class MoveIn(_Body):
    grids: list[str] = Field(min_length=2, max_length=2)
    line: str = Field(max_length=200_000, description="WKT LINESTRING")


class ReparentIn(_Body):
    grid: str = Field(max_length=32)
    to: str = Field(max_length=32)


class AddIn(_Body):
    parent: str = Field(max_length=32)
    polygon: str = Field(max_length=200_000, description="WKT POLYGON")
    name: str = Field(max_length=200)


class GridIn(_Body):
    grid: str = Field(max_length=32)


class RenameIn(_Body):
    grid: str = Field(max_length=32)
    name: str = Field(max_length=200)


Households = Annotated[int, Field(ge=0, le=1_000_000)]


class BandsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    micro: tuple[Households, Households] | None = Field(default=None, description="微网格户数 [lo, hi]")
    general: tuple[Households, Households] | None = Field(default=None, description="一般网格户数 [lo, hi]")
    reset: bool = False


@router.get("/{code}/household-bands", summary="户数均衡范围 households bands")
def get_bands(code: Code, request: Request, _user: User = Depends(require_planner)) -> dict[str, Any]:
    return ops.bands(service_of(request), code)


@router.put("/{code}/household-bands", summary="设置户数均衡范围 set households bands")
def put_bands(code: Code, body: BandsIn, request: Request, _user: User = Depends(require_planner)) -> dict:
    return ops.bands(service_of(request), code, micro=body.micro, general=body.general, reset=body.reset)


@router.get("/{code}/drafts", summary="草稿列表 drafts")
def list_drafts(code: Code, request: Request, _user: User = Depends(require_planner)) -> list[dict[str, Any]]:
    return ops.list_drafts(service_of(request), code)


@router.post("/{code}/drafts/new", summary="由现行版本新建草稿 new draft from the published version")
def new_draft(
    code: Code, request: Request, body: NewDraft | None = None, user: User = Depends(require_planner)
) -> dict[str, Any]:
    return ops.new(service_of(request), code, author=user.username, note=(body.note if body else ""))


@router.get("/{code}/drafts/{n}", summary="查看草稿 a draft")
def show_draft(
    code: Code, n: Number, request: Request, _user: User = Depends(require_planner)
) -> dict[str, Any]:
    return ops.show(service_of(request), code, n)


def _apply(request: Request, code: str, n: int, operation: str, body: _Body, user: User) -> dict[str, Any]:
    params = body.model_dump(exclude={"crs"})
    return ops.apply(service_of(request), code, n, operation, params, crs=body.crs, author=user.username)


@router.post("/{code}/drafts/{n}/split", summary="分割微网格 split")
def split(
    code: Code, n: Number, body: SplitIn, request: Request, user: User = Depends(require_planner)
) -> dict:
    return _apply(request, code, n, "split", body, user)


@router.post("/{code}/drafts/{n}/merge", summary="合并微网格 merge")
def merge(
    code: Code, n: Number, body: MergeIn, request: Request, user: User = Depends(require_planner)
) -> dict:
    return _apply(request, code, n, "merge", body, user)


@router.post("/{code}/drafts/{n}/move-boundary", summary="移动共用边界 move a shared boundary")
def move_boundary(
    code: Code, n: Number, body: MoveIn, request: Request, user: User = Depends(require_planner)
) -> dict:
    return _apply(request, code, n, "move_boundary", body, user)


@router.post("/{code}/drafts/{n}/reparent", summary="调整上级 reparent")
def reparent(
    code: Code, n: Number, body: ReparentIn, request: Request, user: User = Depends(require_planner)
) -> dict:
    return _apply(request, code, n, "reparent", body, user)


@router.post("/{code}/drafts/{n}/add", summary="新增微网格 add")
def add(code: Code, n: Number, body: AddIn, request: Request, user: User = Depends(require_planner)) -> dict:
    return _apply(request, code, n, "add", body, user)


@router.post("/{code}/drafts/{n}/remove", summary="删除微网格 remove")
def remove(
    code: Code, n: Number, body: GridIn, request: Request, user: User = Depends(require_planner)
) -> dict:
    return _apply(request, code, n, "remove", body, user)


@router.post("/{code}/drafts/{n}/rename", summary="更名 rename")
def rename(
    code: Code, n: Number, body: RenameIn, request: Request, user: User = Depends(require_planner)
) -> dict:
    return _apply(request, code, n, "rename", body, user)


@router.post("/{code}/drafts/{n}/fix", summary="自动修复缝隙和碎片 fix gaps and slivers")
def fix(code: Code, n: Number, request: Request, user: User = Depends(require_planner)) -> dict:
    return _apply(request, code, n, "fix", _Body(), user)


@router.post("/{code}/drafts/{n}/undo", summary="撤销上一步 undo")
def undo(code: Code, n: Number, request: Request, _user: User = Depends(require_planner)) -> dict:
    return ops.undo(service_of(request), code, n)


@router.get("/{code}/drafts/{n}/impact", summary="发布影响预览 impact of publishing")
def impact(code: Code, n: Number, request: Request, _user: User = Depends(require_planner)) -> dict:
    return ops.impact(service_of(request), code, n)


@router.get("/{code}/diff", summary="版本对比 diff of two versions")
def diff(
    code: Code,
    request: Request,
    before: Annotated[int | None, Query(alias="from", ge=1, le=1_000_000)] = None,
    after: Annotated[int | None, Query(alias="to", ge=1, le=1_000_000)] = None,
    geometry: Annotated[bool, Query(description="附带易手范围 include the moved area")] = False,
    _user: User = Depends(require_planner),
) -> dict:
    return ops.diff(service_of(request), code, before, after, geometry=geometry)


@page_router.get("/maps/plan/{community}", response_class=HTMLResponse, summary="规划编辑页 planner's page")
def plan_page(
    community: Code,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """A logged-in planner's page; others are sent to the login page."""
    from api.http.routes_maps import user_page

    def build(user: User) -> tuple[str, tuple[str, ...]]:
        if user.role not in (AppRole.PLANNER, AppRole.ADMIN):
            raise Forbidden("规划编辑页仅限规划员", "the planner's page is for planners", field="role")
        return ops.plan_page(service_of(request), community, version, user)

    return user_page(request, build)
