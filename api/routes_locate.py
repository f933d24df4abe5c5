"""``/api/v1/locate``: which micro-grid holds a point (one, or a batch), on the published grids."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request

from api.access import User, ctx_of, current_user
from api.gridcache import Published
from api.locating import locate_frame, point_answer
from api.schemas import LocateBatch

router = APIRouter(prefix="/api/v1", tags=["定位 locate"])


def _version(published: dict[str, Published], community: str | None) -> dict[str, Any] | None:
    p = published.get(community or "")
    return {"community_code": p.community_code, "number": p.version_number, "id": p.version_id} if p else None


@router.get("/locate", summary="单点定位 locate one point")
def locate_one(
    request: Request,
    lon: Annotated[float, Query(allow_inf_nan=False, description="经度 longitude")],
    lat: Annotated[float, Query(allow_inf_nan=False, description="纬度 latitude")],
    crs: Annotated[str, Query(max_length=64)] = "wgs84",
    _user: User = Depends(current_user),
) -> dict:
    """Convert from ``crs`` to WGS84 and locate: codes and names at each level, boundary and snap
    flags, distance, and the layer version used."""
    ctx = ctx_of(request)
    cache = ctx.grids
    loc = cache.current_locator()
    ans = point_answer(loc.locator, lon, lat, crs)
    ans["version"] = _version(cache.current(), ans.get("community_code"))
    return ans


@router.post("/locate", summary="批量定位 locate a batch")
def locate_batch(body: LocateBatch, request: Request, _user: User = Depends(current_user)) -> dict:
    ctx = ctx_of(request)
    cache = ctx.grids
    combined = cache.current_locator()
    lon = np.array([p.lon for p in body.points])
    lat = np.array([p.lat for p in body.points])
    frame = locate_frame(combined.locator, combined.hierarchy, lon, lat, body.crs)
    published = cache.current()
    items = []
    for p, rec in zip(body.points, frame.to_dict("records"), strict=True):
        rec = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
        rec["id"] = p.id
        rec["version"] = _version(published, rec.get("community_code"))
        items.append(rec)
    return {"items": items, "count": len(items)}
