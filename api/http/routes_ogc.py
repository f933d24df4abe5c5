"""``/ogc``: OGC API – Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 CRS by reference; Part 4
create, replace, update, delete on drafts, :mod:`api.ops.ogc_edit`).

Each route parses, makes one call into :mod:`api.ops.ogc` and serialises. The caller is optional:
a bearer token (or the map pages' cookie on reads) is checked when sent, and the operations decide
what needs one (incidents always; drafts always; everything unless ``ogc_public``). The query
parameters are declared (as text) for the API definition but read from the request, so the
operations check them — a bad or unknown one is a 400, as the standard asks — and keep them in the
paging links.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.http.deps import service_of, token_of
from api.http.errors import error_body
from api.ops import ogc, ogc_edit
from api.ops.access import User, authenticate
from dispatch.errors import InvalidInput
from geo.errors import WeiwangError

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])

Text = Annotated[str | None, Query(max_length=200)]


async def optional_user(request: Request) -> User | None:
    """The caller when a token came with the request (401 if it is bad), else None."""
    token = token_of(request)
    return authenticate(service_of(request), token) if token else None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(body: Any, media_type: str = "application/json", headers: dict[str, str] | None = None) -> Response:
    """UTF-8 JSON by orjson (a page of 1,000 features in a few ms, FastAPI's encoder takes ~100)."""
    return Response(orjson.dumps(body), media_type=media_type, headers=headers)


def _features(answer: ogc.Features) -> Response:
    return _json(answer.body, "application/geo+json", {"Content-Crs": answer.content_crs, **answer.headers})


@router.get("", summary="OGC 着陆页 landing page")
@router.get("/", include_in_schema=False)
def landing(request: Request, user: User | None = Depends(optional_user)) -> Response:
    return _json(ogc.landing(service_of(request), user, _base(request)))


@router.get("/api", summary="API 定义（OpenAPI 3.0） the API definition")
def api_definition(request: Request, user: User | None = Depends(optional_user)) -> Response:
    return _json(ogc.api_definition(service_of(request), user, request.app.openapi()), ogc.OPENAPI_30)


@router.get("/conformance", summary="符合性声明 conformance")
def conformance(request: Request, user: User | None = Depends(optional_user)) -> Response:
    return _json(ogc.conformance(service_of(request), user))


@router.get("/collections", summary="要素集合 collections")
def collections(request: Request, user: User | None = Depends(optional_user)) -> Response:
    return _json(ogc.collections(service_of(request), user, _base(request)))


@router.get("/collections/{collectionId}", summary="要素集合说明 collection")
def collection(collectionId: str, request: Request, user: User | None = Depends(optional_user)) -> Response:
    return _json(ogc.collection(service_of(request), user, _base(request), collectionId))


@router.get("/collections/{collectionId}/queryables", summary="可查询属性 queryables (JSON Schema)")
def queryables(collectionId: str, request: Request, user: User | None = Depends(optional_user)) -> Response:
    """The query parameters a grid collection's items take (OGC API – Features Part 3 Queryables)."""
    body = ogc.queryables(service_of(request), user, _base(request), collectionId)
    return _json(body, ogc.SCHEMA_JSON)


@router.get("/collections/{collectionId}/items", summary="要素 items (GeoJSON)")
def items(
    collectionId: str,
    request: Request,
    user: User | None = Depends(optional_user),
    limit: Annotated[str | None, Query(max_length=20, description="每页要素数 1–10000，默认 10")] = None,
    offset: Annotated[str | None, Query(max_length=20, description="跳过的要素数")] = None,
    bbox: Annotated[
        str | None, Query(max_length=200, description="minx,miny,maxx,maxy（bbox-crs 轴序）")
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
    crs: Annotated[str | None, Query(max_length=200, description="输出坐标系，默认 CRS84")] = None,
    datetime: Annotated[
        str | None, Query(max_length=100, description="网格：当时生效的版本；事件：上报时间区间")
    ] = None,
    version: Annotated[str | None, Query(max_length=20, description="版本号（默认现行版本）")] = None,
    code: Text = None,
    level: Text = None,
    parent: Text = None,
) -> Response:
    params = dict(request.query_params)
    return _features(ogc.items(service_of(request), user, _base(request), collectionId, params))


@router.get("/collections/{collectionId}/items/{featureId}", summary="单个要素 one feature")
def item(
    collectionId: str,
    featureId: str,
    request: Request,
    user: User | None = Depends(optional_user),
    crs: Text = None,
    datetime: Text = None,
    version: Text = None,
) -> Response:
    params = dict(request.query_params)
    return _features(
        ogc_edit.read_item(service_of(request), user, _base(request), collectionId, featureId, params)
    )


# -- Part 4: create, replace, update, delete on drafts -------------------------------------------


async def _body(request: Request, accepted: tuple[str, ...]) -> Any:
    ogc_edit.check_content_type(request.headers.get("content-type"), accepted)
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("请求体不是有效的 JSON", "the body is not valid JSON", field="body") from None


@router.options("/collections/{collectionId}/items", include_in_schema=False)
def items_options(collectionId: str, request: Request) -> Response:
    """The methods the items endpoint allows as addressed (POST on a draft's micro-grids)."""
    params = dict(request.query_params)
    return Response(headers=ogc_edit.options(service_of(request), collectionId, params, feature=False))


@router.options("/collections/{collectionId}/items/{featureId}", include_in_schema=False)
def item_options(collectionId: str, featureId: str, request: Request) -> Response:
    """The methods one item allows as addressed (PUT, PATCH, DELETE on a draft)."""
    params = dict(request.query_params)
    return Response(headers=ogc_edit.options(service_of(request), collectionId, params, feature=True))


async def _edit(call: Callable[[], Any]) -> Any:
    """Run a draft write off the event loop; Part 4's own refusals get their status (405/412/428)."""
    try:
        return await asyncio.to_thread(call)
    except WeiwangError as err:
        status = ogc_edit.STATUS.get(err.code)
        if status is None:
            raise
        extra: dict[str, Any] = {"field": err.field} if err.field else {}
        if err.detail:
            extra["detail"] = err.detail
        headers = {"Allow": "GET"} if status == 405 else None
        return JSONResponse(
            error_body(err.code, err.zh, err.en, **extra), status_code=status, headers=headers
        )


@router.post(
    "/collections/{collectionId}/items", status_code=201, summary="新增要素（草稿） create a feature"
)
async def create_item(
    collectionId: str, request: Request, user: User | None = Depends(optional_user)
) -> Response:
    """A micro-grid added to the draft ``?version=N`` (the draft operation *add*)."""
    body = await _body(request, ogc_edit.POST_TYPES)
    service, base, params = service_of(request), _base(request), dict(request.query_params)
    crs = request.headers.get("content-crs")
    out = await _edit(lambda: ogc_edit.create(service, user, base, collectionId, params, body, crs))
    if isinstance(out, Response):
        return out
    response = _features(out)
    response.status_code = 201
    return response


@router.put("/collections/{collectionId}/items/{featureId}", summary="替换要素（草稿） replace a feature")
@router.patch("/collections/{collectionId}/items/{featureId}", summary="修改要素（草稿） update a feature")
async def change_item(
    collectionId: str, featureId: str, request: Request, user: User | None = Depends(optional_user)
) -> Response:
    """Rename, reparent or reshape a grid of the draft ``?version=N``; needs ``If-Match``."""
    replace = request.method == "PUT"
    body = await _body(request, ogc_edit.POST_TYPES if replace else ogc_edit.PATCH_TYPES)
    service, base, params = service_of(request), _base(request), dict(request.query_params)
    if_match, crs = request.headers.get("if-match"), request.headers.get("content-crs")
    out = await _edit(
        lambda: ogc_edit.change(
            service,
            user,
            base,
            collectionId,
            featureId,
            params,
            body,
            if_match,
            replace=replace,
            content_crs=crs,
        )
    )
    return out if isinstance(out, Response) else _features(out)


@router.delete(
    "/collections/{collectionId}/items/{featureId}", status_code=204, summary="删除要素（草稿） delete"
)
async def delete_item(
    collectionId: str, featureId: str, request: Request, user: User | None = Depends(optional_user)
) -> Response:
    """Remove a micro-grid of the draft ``?version=N`` (its area goes to a neighbour); needs ``If-Match``."""
    service, base, params = service_of(request), _base(request), dict(request.query_params)
    if_match = request.headers.get("if-match")
    out = await _edit(lambda: ogc_edit.delete(service, user, base, collectionId, featureId, params, if_match))
    return out if isinstance(out, Response) else Response(status_code=204)
