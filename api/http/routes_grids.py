"""``/api/v1/communities``: communities, their layer versions, grids (GeoJSON, WGS84) and
办理时限 (time limits per category)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.http.deps import current_user, require, service_of
from api.http.schemas import TimeLimitsIn
from api.ops import layers as ops
from api.ops import party as party_ops
from api.ops import timelimits
from api.ops.access import User
from dispatch import AppRole

router = APIRouter(prefix="/api/v1/communities", tags=["网格 grids"])

#: Who may set 办理时限: the community's dispatchers (the 总网格 that assigns) and admins.
require_limit_setters = require(AppRole.DISPATCHER, AppRole.ADMIN)


@router.get("", summary="社区列表 communities")
def communities(request: Request, _user: User = Depends(current_user)) -> dict:
    return {"items": ops.communities(service_of(request))}


@router.get("/{code}/versions", summary="版本列表 layer versions")
def versions(code: str, request: Request, _user: User = Depends(current_user)) -> dict:
    return {"items": [v.to_dict() for v in ops.versions(service_of(request), code[:32])]}


@router.get("/{code}/grids", summary="网格 GeoJSON grids as GeoJSON")
def grids(
    code: str,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    level: Annotated[str | None, Query(pattern="^(community|general|micro)$")] = None,
    _user: User = Depends(current_user),
) -> dict[str, Any]:
    return ops.grids_geojson(service_of(request), code[:32], version, level)


@router.get("/{code}/party", summary="党组织 GeoJSON party organisations (两网融合)")
def party(
    code: str,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    at: Annotated[
        str | None,
        Query(
            max_length=40,
            description="该时刻生效的版本 the version in force then (ISO 8601; no zone = Beijing)",
        ),
    ] = None,
    _user: User = Depends(current_user),
) -> dict[str, Any]:
    """The community's party organisations (党支部, 党小组, 企业党组织 …), each drawn as the union of
    the grids it covers in the published version, ``version=N``, or the version in force ``at``."""
    return party_ops.party_geojson(service_of(request), code[:32], version, at)


@router.get("/{code}/time-limits", summary="办理时限 time limits per category")
def get_time_limits(code: str, request: Request, _user: User = Depends(current_user)) -> dict:
    """The limits in force for the community (hours per category, urgent cap), the ones it
    configured and the defaults. They set the deadline when an incident is 交办."""
    return timelimits.get_time_limits(service_of(request), code[:32])


@router.put("/{code}/time-limits", summary="设置办理时限 set time limits")
def put_time_limits(
    code: str, body: TimeLimitsIn, request: Request, _user: User = Depends(require_limit_setters)
) -> dict:
    """Replace the community's configured limits (categories left out return to the defaults;
    an empty body restores them all). Applies to later 交办; deadlines already set stay."""
    return timelimits.set_limits(service_of(request), code[:32], body.hours, body.urgent_hours)
