"""``/api/v1/locate``: which micro-grid holds a point (one, or a batch), on the published grids.
Every answer names the layer version that answered (``version``).

``GET /api/v1/locate`` is the hot path (phones and dispatch consoles call it on every tap), so it is
lean: an ``async`` endpoint on the event loop (no thread-pool hop), the query read straight from
the raw query string (plain decimal numbers take a fast path; anything else is validated by the
same pydantic rules FastAPI would apply, so errors keep their bodies), the token verified once per
expiry (:func:`api.ops.locating.locate_caller`) and the answer serialised by orjson. The OpenAPI
description of its parameters is declared by hand (:data:`_PARAMETERS`).

Plain requests (the bulk of the traffic) do not even reach this route: :mod:`api.http.lean` answers
them before the middleware stack, with the same bytes; the route answers, and refuses, the rest.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from urllib.parse import unquote_plus

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import Field, TypeAdapter, ValidationError
from starlette.routing import Route

from api.http.deps import current_user, service_of, token_of
from api.http.schemas import LocateBatch
from api.ops.access import User
from api.ops.locating import locate_batch as locate_many
from api.ops.locating import locate_caller, locate_point
from api.ops.service import Service

router = APIRouter(prefix="/api/v1", tags=["定位 locate"])

_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,20})?")
_CRS_MAX = 64
_FINITE = TypeAdapter(Annotated[float, Field(allow_inf_nan=False)])
_CRS = TypeAdapter(Annotated[str, Field(max_length=_CRS_MAX)])

_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "lon",
        "in": "query",
        "required": True,
        "schema": {"type": "number", "title": "Lon", "description": "经度 longitude"},
        "description": "经度 longitude",
    },
    {
        "name": "lat",
        "in": "query",
        "required": True,
        "schema": {"type": "number", "title": "Lat", "description": "纬度 latitude"},
        "description": "纬度 latitude",
    },
    {
        "name": "crs",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": _CRS_MAX, "default": "wgs84", "title": "Crs"},
    },
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "定位结果 the answer",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    422: {"description": "参数无效 invalid input (coordinates, CRS)"},
}


def _number(name: str, raw: str | None, errors: list[dict[str, Any]]) -> float:
    if raw is None:
        errors.append({"type": "missing", "loc": ("query", name), "msg": "Field required", "input": None})
        return 0.0
    if _PLAIN_NUMBER.fullmatch(raw):
        return float(raw)
    try:
        return _FINITE.validate_python(raw)
    except ValidationError as exc:
        errors.extend({**e, "loc": ("query", name)} for e in exc.errors(include_url=False))
        return 0.0


def _query_params(qs: str) -> dict[str, str]:
    """``dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))`` (as Starlette reads a query),
    unquoting only the pairs that need it."""
    out: dict[str, str] = {}
    for pair in qs.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name), unquote_plus(value)
        out[name] = value
    return out


def locate_query(query_string: bytes) -> tuple[float, float, str]:
    """``lon``, ``lat`` and ``crs`` of a raw query string, with FastAPI's rules (last value wins,
    finite numbers, crs at most 64 characters); :class:`RequestValidationError` otherwise."""
    params = _query_params(query_string.decode("latin-1"))
    errors: list[dict[str, Any]] = []
    lon = _number("lon", params.get("lon"), errors)
    lat = _number("lat", params.get("lat"), errors)
    crs = params.get("crs", "wgs84")
    if len(crs) > _CRS_MAX:
        try:
            _CRS.validate_python(crs)
        except ValidationError as exc:
            errors.extend({**e, "loc": ("query", "crs")} for e in exc.errors(include_url=False))
    if errors:
        raise RequestValidationError(errors)
    return lon, lat, crs


async def locate_one(request: Request) -> Response:
    """Convert from ``crs`` to WGS84 and locate: codes and names at each level, boundary and snap
    flags, distance, and the layer version used."""
    service = service_of(request)
    locate_caller(service, token_of(request))
    lon, lat, crs = locate_query(request.scope["query_string"])
    if service.layers.is_built_for(None, None):
        answer = locate_point(service, lon, lat, crs)
    else:  # just published (or first use): build the locator off the event loop
        answer = await asyncio.to_thread(_locate_prepared, service, lon, lat, crs)
    body = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json")


def _locate_prepared(service: Service, lon: float, lat: float, crs: str) -> dict:
    """Build and prepare the published locator, then locate (in a thread)."""
    service.layers.current().locator.prepare()
    return locate_point(service, lon, lat, crs)


#: The GET as a plain Starlette route, which :func:`api.http.app.create_app` puts first in the app's
#: routes: one path match, no dependency solving, no response model, no encoder on the hot path.
#: The FastAPI route below describes it in the OpenAPI document (and answers alike if reached).
LEAN_ROUTE = Route(f"{router.prefix}/locate", locate_one, methods=["GET"], include_in_schema=False)


@router.get(
    "/locate",
    summary="单点定位 locate one point",
    openapi_extra={"parameters": _PARAMETERS},
    responses=_RESPONSES,
    response_class=Response,
)
async def locate_one_described(request: Request) -> Response:
    """Convert from ``crs`` to WGS84 and locate: codes and names at each level, boundary and snap
    flags, distance, and the layer version used. ``lon``/``lat`` in ``crs`` (default WGS84:
    ``wgs84`` | ``cgcs2000`` | ``gcj02`` | ``bd09`` | ``EPSG:n``)."""
    return await locate_one(request)


@router.post("/locate", summary="批量定位 locate a batch")
def locate_batch(body: LocateBatch, request: Request, _user: User = Depends(current_user)) -> dict:
    lon = np.array([p.lon for p in body.points])
    lat = np.array([p.lat for p in body.points])
    items = locate_many(service_of(request), lon, lat, body.crs, ids=[p.id for p in body.points])
    return {"items": items, "count": len(items)}
