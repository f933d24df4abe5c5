"""``/api/v1/locate``: which micro-grid holds a point (one, or a batch), on the published grids.
Every answer names the layer version that answered (``version``)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request

from api.http.deps import current_user, service_of
from api.http.schemas import LocateBatch
from api.ops.access import User
from api.ops.locating import locate_batch as locate_many
from api.ops.locating import locate_point

router = APIRouter(prefix="/api/v1", tags=["定位 locate"])


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
    return locate_point(service_of(request), lon, lat, crs)


@router.post("/locate", summary="批量定位 locate a batch")
def locate_batch(body: LocateBatch, request: Request, _user: User = Depends(current_user)) -> dict:
    lon = np.array([p.lon for p in body.points])
    lat = np.array([p.lat for p in body.points])
    items = locate_many(service_of(request), lon, lat, body.crs, ids=[p.id for p in body.points])
    return {"items": items, "count": len(items)}
