"""``/open311/v2``: Open311 GeoReport v2 in JSON and XML (the path's extension picks the format).

Each route parses, makes one call into :mod:`api.ops.open311` and renders its list; a domain error
becomes GeoReport's error list in the same format (bad input is 400, as GeoReport clients expect).
``api_key`` (query or form) or an ``Authorization: Bearer`` header carries the native API's token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.http.deps import service_of, token_of
from api.http.errors import status_for
from api.ops import open311 as ops
from geo.errors import WeiwangError

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

Fmt = Annotated[str, Path(max_length=4, description="json | xml")]


def _answer(fmt: str, kind: str, build: Callable[[], list[dict[str, Any]]], status: int = 200) -> Response:
    """Render ``build()`` as ``fmt``, or its domain error as GeoReport's error list."""
    shown = fmt if fmt in ("json", "xml") else "json"
    try:
        ops.parse_format(fmt)
        body, media = ops.render(build(), kind, fmt)
    except WeiwangError as err:
        code = status_for(err)
        code = 400 if code == 422 else code
        body, media = ops.render(ops.error_items(err, code), "errors", shown)
        return Response(body, status_code=code, media_type=media)
    return Response(body, status_code=status, media_type=media)


@router.get("/services.{fmt}", summary="服务类型（五类事件） services")
def services(fmt: Fmt) -> Response:
    return _answer(fmt, "services", ops.services)


@router.get("/requests.{fmt}", summary="服务请求列表 service requests")
def list_requests(fmt: Fmt, request: Request) -> Response:
    params = dict(request.query_params)
    service = service_of(request)

    def build() -> list[dict[str, Any]]:
        user = ops.caller(service, params.get("api_key"), token_of(request))
        return ops.list_requests(service, user, params)

    return _answer(fmt, "requests", build)


@router.get("/requests/{request_id}.{fmt}", summary="单个服务请求 one service request")
def get_request(
    request_id: Annotated[str, Path(max_length=64)], fmt: Fmt, request: Request, api_key: str | None = None
) -> Response:
    service = service_of(request)

    def build() -> list[dict[str, Any]]:
        user = ops.caller(service, api_key, token_of(request))
        return ops.get_request(service, user, request_id)

    return _answer(fmt, "requests", build)


@router.post("/requests.{fmt}", summary="提交服务请求（上报事件） create a service request")
async def create_request(fmt: Fmt, request: Request) -> Response:
    """Form-encoded as GeoReport specifies (a JSON object is accepted too): api_key, service_code,
    lat, long (WGS84), description, address_string, first_name, last_name, phone."""
    service = service_of(request)
    form: dict[str, str] = {}
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = await request.json()
            form = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        else:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    except (ValueError, json.JSONDecodeError):
        form = {}
    bearer = token_of(request)

    def build() -> list[dict[str, Any]]:
        user = ops.caller(service, form.get("api_key") or request.query_params.get("api_key"), bearer)
        return ops.create_request(service, user, form)

    # intake writes (and may wait for the SpatiaLite writer): off the event loop
    return await asyncio.to_thread(_answer, fmt, "requests", build, 201)
