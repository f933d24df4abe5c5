"""``/maps/…``: the web map pages (dispatcher, coverage, assignment), their login page and static files.

Routes authenticate through the same path as the API (:func:`api.http.deps.token_of` and
:func:`api.ops.access.authenticate`), make one call into :mod:`api.ops.maps` and add the headers.
Without a valid login the browser is sent to ``/maps/login?next=…``. Static files:
``/static/leaflet`` (xstatic-leaflet) and ``/static/weiwang`` (``layers/static``), so no page asset
comes from anywhere else. Every page carries a Content-Security-Policy allowing only this origin
(plus the configured basemap's tile host).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.http.deps import CommunityCode, service_of, token_of
from api.ops import maps
from api.ops.access import User, authenticate
from api.ops.tokens import Unauthorized
from layers.offline import LEAFLET_DIR, STATIC_DIR

router = APIRouter(tags=["地图 maps"])


def csp(tile_hosts: tuple[str, ...] = ()) -> str:
    """The pages' Content-Security-Policy: this origin only, plus the basemap's tile hosts."""
    img = " ".join(["'self'", "data:", *(f"https://{h}" for h in tile_hosts)])
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'self'; form-action 'self'"
    )


def html_page(page: tuple[str, tuple[str, ...]]) -> HTMLResponse:
    body, hosts = page
    return HTMLResponse(
        body,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": csp(hosts),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/maps/login?next={quote(target, safe='/')}", status_code=303)


def page_user(request: Request) -> User | None:
    """The logged-in caller, or None (the page then redirects to the login)."""
    try:
        return authenticate(service_of(request), token_of(request))
    except Unauthorized:
        return None


@router.get("/maps/login", response_class=HTMLResponse, summary="地图登录页 map login page")
def maps_login(next: Annotated[str, Query(max_length=500)] = "/home") -> Response:
    return html_page((maps.login(next), ()))


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """Each role lands where its work is (``/home`` decides)."""
    return RedirectResponse("/home", status_code=307)


@router.get("/maps/", response_class=HTMLResponse, summary="地图首页 map index")
def maps_index(request: Request) -> Response:
    """Every community with a published grid version, linking its three maps and printable sheets."""
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return html_page(maps.index(service_of(request), user))


@router.get("/maps/dispatch/{community}", response_class=HTMLResponse, summary="事件调度地图 dispatcher map")
def maps_dispatch(community: CommunityCode, request: Request) -> Response:
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return html_page(maps.dispatch(service_of(request), user, community))


@router.get("/maps/coverage/{community}", response_class=HTMLResponse, summary="覆盖核查地图 coverage map")
def maps_coverage(
    community: CommunityCode,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return html_page(maps.coverage(service_of(request), community, version, user))


@router.get("/maps/assignment/{community}", response_class=HTMLResponse, summary="交办态势 assignment map")
def maps_assignment(community: CommunityCode, request: Request) -> Response:
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return html_page(maps.assignment(service_of(request), community, user))


def install(app: FastAPI) -> None:
    """Add the map routes and their static mounts."""
    app.include_router(router)
    app.mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR), name="static-leaflet")
    app.mount("/static/weiwang", StaticFiles(directory=STATIC_DIR), name="static-weiwang")
