"""``/ogc``: OGC API – Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 CRS by reference).

Each route parses, makes one call into :mod:`api.ops.ogc` and serialises. The caller is optional:
a bearer token (or the map pages' cookie on reads) is checked when sent, and the operations decide
what needs one (incidents always; drafts always; everything unless ``ogc_public``). The query
parameters are declared (as text) for the API definition but read from the request, so the
operations check them — a bad or unknown one is a 400, as the standard asks — and keep them in the
paging links.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.http.deps import service_of, token_of
from api.ops import ogc
from api.ops.access import User, authenticate

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])

Text = Annotated[str | None, Query(max_length=200)]


async def optional_user(request: Request) -> User | None:
    """The caller when a token came with the request (401 if it is bad), else None."""
    token = token_of(request)
    return authenticate(service_of(request), token) if token else None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(body: Any, media_type: str = "application/json", headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type=media_type, headers=headers
    )


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
    return _features(ogc.item(service_of(request), user, _base(request), collectionId, featureId, params))
