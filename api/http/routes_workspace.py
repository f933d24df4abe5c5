"""The incident workspace over HTTP: the queue page, the phone page ``/m/``, the role-aware home,
logout, notices and 我的待办. Each route parses, makes one call into :mod:`api.ops`, serialises;
pages carry the same headers (CSP: this origin only) as the other map pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import Field

from api.http.deps import CommunityCode, current_user, service_of
from api.http.routes_maps import _html, _login_redirect, _viewer
from api.http.schemas import Strict
from api.ops import notices, workspace
from api.ops.access import TOKEN_COOKIE, User

router = APIRouter(tags=["办理工作台 workspace"])


class NoticesRead(Strict):
    """Notices to mark read; ``ids`` left out marks all of the caller's notices."""

    ids: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, max_length=1000)


@router.get("/home", include_in_schema=False)
def home(request: Request) -> Response:
    """Each role lands where its work is (grid workers: /m/; dispatchers: the queue)."""
    user = _viewer(request)
    if user is None:
        return _login_redirect(request)
    return RedirectResponse(workspace.home_path(service_of(request), user), status_code=303)


@router.get(
    "/maps/incidents/{community}", response_class=HTMLResponse, summary="事件办理 incident queue page"
)
def maps_incidents(community: CommunityCode, request: Request) -> Response:
    user = _viewer(request)
    if user is None:
        return _login_redirect(request)
    return _html(workspace.queue(service_of(request), user, community))


@router.get("/m/", response_class=HTMLResponse, summary="网格员手机页 grid worker's phone page")
def mobile(request: Request) -> Response:
    user = _viewer(request)
    if user is None:
        return _login_redirect(request)
    return _html((workspace.mobile(service_of(request), user), ()))


@router.get("/maps/logout", response_class=HTMLResponse, summary="退出登录 log out")
def logout() -> Response:
    response = _html((workspace.logout(), ()))
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


@router.get("/api/v1/notices", summary="我的通知 my notices")
def list_notices(
    request: Request, unread: Annotated[bool, Query()] = False, user: User = Depends(current_user)
) -> dict:
    """The caller's notices (督办 sent to them), newest first, and the unread count (the badge)."""
    return notices.notices_for(service_of(request), user, unread_only=unread)


@router.post("/api/v1/notices/read", summary="标记已读 mark notices read")
def read_notices(body: NoticesRead, request: Request, user: User = Depends(current_user)) -> dict:
    return notices.read_notices(service_of(request), user, body.ids)


@router.get("/api/v1/feed/incidents", summary="事件动态 incidents with ETag (live updates)")
def feed(
    request: Request,
    community: Annotated[str | None, Query(max_length=32)] = None,
    user: User = Depends(current_user),
) -> Response:
    """The incidents of ``/incidents?community=…`` with an ``ETag``; ``If-None-Match`` with the
    same tag answers ``304`` with no body, so pages poll every second cheaply."""
    body, etag = workspace.feed(service_of(request), user, community)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


@router.get("/api/v1/my/todo", summary="我的待办 my open incidents")
def my_todo(request: Request, user: User = Depends(current_user)) -> dict:
    """Open incidents assigned to the caller, overdue first, then by deadline."""
    return workspace.my_todo(service_of(request), user)
