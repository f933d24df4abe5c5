"""``/api/v1/communities``: communities, their layer versions and grids (GeoJSON, WGS84)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from shapely.geometry import mapping

from api.access import User, ctx_of, current_user
from api.summary import summarize_grids
from geo.errors import NotFound
from store import db
from store.grids import load_hierarchy
from store.versions import get_version, list_versions

router = APIRouter(prefix="/api/v1/communities", tags=["网格 grids"])


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
