"""``/maps/…``: the web map pages (dispatcher, coverage, assignment), their login page and static files.

Routes authenticate through the same path as the API (:func:`api.http.deps.token_of` and
:func:`api.ops.access.authenticate`), make one call into :mod:`api.ops.maps` and add the headers.
Without a valid login the browser is sent to ``/maps/login?next=…``. Static files:
``/static/leaflet`` (xstatic-leaflet) and ``/static/weiwang`` (``layers/static``), so no page asset
comes from anywhere else. Every page carries a Content-Security-Policy allowing only this origin
(plus the configured basemap's tile host).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.types import Scope

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


def user_page(request: Request, build: Callable[[User], tuple[str, tuple[str, ...]]]) -> Response:
    """The page ``build`` makes for the logged-in caller (:func:`html_page`), or the redirect to the
    login page when nobody is logged in."""
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return html_page(build(user))


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
    return user_page(request, lambda user: maps.index(service_of(request), user))


@router.get("/maps/dispatch/{community}", response_class=HTMLResponse, summary="事件调度地图 dispatcher map")
def maps_dispatch(community: CommunityCode, request: Request) -> Response:
    return user_page(request, lambda user: maps.dispatch(service_of(request), user, community))


@router.get("/maps/coverage/{community}", response_class=HTMLResponse, summary="覆盖核查地图 coverage map")
def maps_coverage(
    community: CommunityCode,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    return user_page(request, lambda user: maps.coverage(service_of(request), community, version, user))


@router.get("/maps/assignment/{community}", response_class=HTMLResponse, summary="交办态势 assignment map")
def maps_assignment(community: CommunityCode, request: Request) -> Response:
    return user_page(request, lambda user: maps.assignment(service_of(request), community, user))


class MemoryStaticFiles(StaticFiles):
    """:class:`StaticFiles` answering from memory once a file has been read, with a content-hash
    ``ETag`` and ``Cache-Control: no-cache`` (a browser revalidates and gets ``304``, no body).

    Starlette's own path read each file in 64 KB chunks, one worker-thread hop per chunk after one
    for the lookup; with the machine busy the five files of a map page (Leaflet ~150 KB) took
    ~300 ms after the HTML had arrived. Here a known file costs one ``os.stat`` on the event loop
    (a file changed on disk is read again); unknown paths, directories and errors go through
    :class:`StaticFiles` as before. The files are the app's own (Leaflet and ``layers/static``,
    ~1 MB together).
    """

    def __init__(self, *, directory: os.PathLike[str] | str) -> None:
        super().__init__(directory=directory)
        #: request path → (full path, mtime_ns, size, body, ETag, media type)
        self._memory: dict[str, tuple[str, int, int, bytes, str, str]] = {}

    async def get_response(self, path: str, scope: Scope) -> Response:
        hit = self._memory.get(path)
        if hit is not None and scope["method"] in ("GET", "HEAD"):
            try:
                st = os.stat(hit[0])
            except OSError:
                st = None
            if st is not None and (st.st_mtime_ns, st.st_size) == (hit[1], hit[2]):
                return self._answer(hit, scope)
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: os.PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        if status_code != 200:
            return super().file_response(full_path, stat_result, scope, status_code)
        with open(full_path, "rb") as f:
            body = f.read()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        media = mimetypes.guess_type(str(full_path))[0] or "text/plain"
        hit = (str(full_path), stat_result.st_mtime_ns, len(body), body, etag, media)
        if len(body) == stat_result.st_size:  # not caught half-written
            self._memory[self.get_path(scope)] = hit
        return self._answer(hit, scope)

    @staticmethod
    def _answer(hit: tuple[str, int, int, bytes, str, str], scope: Scope) -> Response:
        _, _, _, body, etag, media = hit
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        match = Headers(scope=scope).get("if-none-match")
        if match and etag in [t.strip().removeprefix("W/") for t in match.split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media, headers=headers)


def install(app: FastAPI) -> None:
    """Add the map routes and their static mounts."""
    app.include_router(router)
    app.mount("/static/leaflet", MemoryStaticFiles(directory=LEAFLET_DIR), name="static-leaflet")
    app.mount("/static/weiwang", MemoryStaticFiles(directory=STATIC_DIR), name="static-weiwang")
