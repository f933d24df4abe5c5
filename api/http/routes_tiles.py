"""``/tiles/{layer}/{z}/{x}/{y}.mvt``: Mapbox Vector Tiles of the grids, elements and incidents.

Parses, makes one call into :mod:`api.ops.tiles` and adds the headers: the caller is the API's
(:func:`api.http.deps.current_user`: bearer token, or the pages' cookie on a GET); ``ETag`` and
``Cache-Control: private, no-cache``, so the browser keeps the tile and revalidates it with
``If-None-Match`` (a 304 without a body while the version has not changed). A bad ``z/x/y`` or a
zoom outside the layer's range is a 400 naming the part (error code ``invalid_tile``).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.http.deps import CommunityCode, current_user, service_of
from api.http.routes_maps import html_page, login_redirect, page_user
from api.ops import tiles
from api.ops.access import User

router = APIRouter(tags=["瓦片 tiles"])


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    summary="矢量瓦片 vector tile (MVT)",
    response_class=Response,
    responses={200: {"content": {tiles.MEDIA_TYPE: {}}}, 304: {"description": "未修改 not modified"}},
)
def tile(
    layer: Annotated[str, "community | general | micro | elements | incidents"],
    z: str,
    x: str,
    y: str,
    request: Request,
    user: User = Depends(current_user),
    community: Annotated[str | None, Query(max_length=32, description="只取该社区 one community")] = None,
    version: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="该社区的第 N 版（默认现行版本）")
    ] = None,
) -> Response:
    answer = tiles.tile(
        service_of(request),
        user,
        layer,
        z,
        x,
        y,
        community=community,
        version=version,
        if_none_match=request.headers.get("if-none-match"),
    )
    headers = {"ETag": answer.etag, "Cache-Control": answer.cache_control, "Vary": "Cookie, Authorization"}
    if answer.not_modified:
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type=tiles.MEDIA_TYPE, headers=headers)


@router.get("/api/v1/grids/{code}", summary="网格及其人员（点击瓦片网格） a grid and who holds its posts")
def grid_card(code: CommunityCode, request: Request, user: User = Depends(current_user)) -> Response:
    return Response(
        orjson.dumps(tiles.grid_card(service_of(request), user, code)), media_type="application/json"
    )


@router.get("/maps/city", response_class=HTMLResponse, summary="全市网格总览（瓦片） city overview map")
def maps_city(request: Request) -> Response:
    """Every community's grids, drawn from ``/tiles`` (login first, like every map page)."""
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return html_page(tiles.city(service_of(request), user))
