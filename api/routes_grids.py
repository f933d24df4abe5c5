"""``/api/v1/communities``: communities, their layer versions, grids (GeoJSON, WGS84) and
办理时限 (time limits per category)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from shapely.geometry import mapping

from api.access import User, ctx_of, current_user, require
from api.schemas import TimeLimitsIn
from api.summary import summarize_grids
from dispatch import AppRole, Category
from geo.errors import NotFound
from store import db
from store.grids import load_hierarchy
from store.versions import get_version, list_versions

router = APIRouter(prefix="/api/v1/communities", tags=["网格 grids"])

#: Who may set 办理时限: the community's dispatchers (the 总网格 that assigns) and admins.
require_limit_setters = require(AppRole.DISPATCHER, AppRole.ADMIN)


@router.get("", summary="社区列表 communities")
def communities(request: Request, _user: User = Depends(current_user)) -> dict:
    ctx = ctx_of(request)
    combined = ctx.grids.current_locator()
    rows = summarize_grids(combined.hierarchy)
    for r in rows:
        p = combined.by_community.get(r["community_code"])
        r["version"] = {"id": p.version_id, "number": p.version_number} if p else None
    return {"items": rows}


@router.get("/{code}/versions", summary="版本列表 layer versions")
def versions(code: str, request: Request, _user: User = Depends(current_user)) -> dict:
    ctx = ctx_of(request)
    with db.read(ctx.engine) as conn:
        found = list_versions(conn, code[:32])
    if not found:
        raise NotFound(f"社区不存在：{code[:32]}", f"no community {code[:32]}", field="code")
    return {"items": [v.to_dict() for v in found]}


@router.get("/{code}/grids", summary="网格 GeoJSON grids as GeoJSON")
def grids(
    code: str,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    level: Annotated[str | None, Query(pattern="^(community|general|micro)$")] = None,
    _user: User = Depends(current_user),
) -> dict[str, Any]:
    ctx = ctx_of(request)
    with db.read(ctx.engine) as conn:
        v = get_version(conn, code[:32], version)
        h = load_hierarchy(conn, v.id)
    feats = [
        {
            "type": "Feature",
            "geometry": mapping(g.geometry),
            "properties": {
                "code": g.code,
                "name": g.name,
                "level": g.level.value,
                "kind": g.kind,
                "parent_code": g.parent_code,
                "community_code": g.community_code,
                "households": g.households,
            },
        }
        for g in h
        if level is None or g.level.value == level
    ]
    return {"type": "FeatureCollection", "version": v.to_dict(), "features": feats}


@router.get("/{code}/time-limits", summary="办理时限 time limits per category")
def get_time_limits(code: str, request: Request, _user: User = Depends(current_user)) -> dict:
    """The limits in force for the community (hours per category, urgent cap), the ones it
    configured and the defaults. They set the deadline when an incident is 交办."""
    from api.incidents import limits_from_rows, time_limits_view
    from store.timelimits import load_time_limits

    ctx = ctx_of(request)
    code = code[:32]
    with db.read(ctx.engine) as conn:
        rows = load_time_limits(conn, code)
    return {"community_code": code, **time_limits_view(limits_from_rows(rows), rows)}


@router.put("/{code}/time-limits", summary="设置办理时限 set time limits")
def put_time_limits(
    code: str, body: TimeLimitsIn, request: Request, _user: User = Depends(require_limit_setters)
) -> dict:
    """Replace the community's configured limits (categories left out return to the defaults;
    an empty body restores them all). Applies to later 交办; deadlines already set stay."""
    from api.incidents import forget_time_limits, limits_from_rows, time_limits_view
    from store.timelimits import URGENT_KEY, set_time_limits

    ctx = ctx_of(request)
    code = code[:32]
    rows: dict[str, int] = {Category.parse(k).value: v for k, v in body.hours.items()}
    if body.urgent_hours is not None:
        rows[URGENT_KEY] = body.urgent_hours
    with db.write(ctx.engine) as conn:
        stored = set_time_limits(conn, code, rows)
    forget_time_limits(ctx, code)
    return {"community_code": code, **time_limits_view(limits_from_rows(stored), stored)}
