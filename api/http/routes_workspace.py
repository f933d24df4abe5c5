"""The incident workspace over HTTP: the queue page, the phone page ``/m/``, the role-aware home,
logout, notices and 我的待办. Each route parses, makes one call into :mod:`api.ops`, serialises;
pages carry the same headers (CSP: this origin only) as the other map pages."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import Field

from api.http.deps import CommunityCode, current_user, service_of
from api.http.routes_maps import html_page, login_redirect, page_user, user_page
from api.http.schemas import Strict
from api.ops import notices, photos, workspace
from api.ops.access import TOKEN_COOKIE, User
from store.files.images import MAX_PHOTO_BYTES

router = APIRouter(tags=["办理工作台 workspace"])


class NoticesRead(Strict):
    """Notices to mark read; ``ids`` left out marks all of the caller's notices."""

    ids: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(default=None, max_length=1000)


@router.get("/home", include_in_schema=False)
def home(request: Request) -> Response:
    """Each role lands where its work is (grid workers: /m/; dispatchers: the queue)."""
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    return RedirectResponse(workspace.home_path(service_of(request), user), status_code=303)


@router.get(
    "/maps/incidents/{community}", response_class=HTMLResponse, summary="事件办理 incident queue page"
)
def maps_incidents(community: CommunityCode, request: Request) -> Response:
    return user_page(request, lambda user: workspace.queue(service_of(request), user, community))


@router.get("/maps/stats/{community}", response_class=HTMLResponse, summary="考核看板 leaders' dashboard")
def maps_stats(
    community: CommunityCode,
    request: Request,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    return user_page(
        request, lambda user: workspace.stats_page(service_of(request), user, community, start, end)
    )


@router.get("/m/", response_class=HTMLResponse, summary="网格员手机页 grid worker's phone page")
def mobile(request: Request) -> Response:
    return user_page(request, lambda user: (workspace.mobile(service_of(request), user), ()))


@router.get("/maps/logout", response_class=HTMLResponse, summary="退出登录 log out")
def logout() -> Response:
    response = html_page((workspace.logout(), ()))
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
    community: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z_-]+$")] = None,
    user: User = Depends(current_user),
) -> Response:
    """The incidents of ``/incidents?community=…`` with an ``ETag``; ``If-None-Match`` with a tag
    that still holds answers ``304`` with no body — decided before any incident is read, so pages
    poll every second cheaply."""
    service = service_of(request)
    held = request.headers.get("if-none-match", "")
    etag = workspace.feed_unchanged(service, user, community, held[:1000]) if held else None
    if etag is not None:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    body, etag = workspace.feed(service, user, community)
    return JSONResponse(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/api/v1/my/todo", summary="我的待办 my open incidents")
def my_todo(request: Request, user: User = Depends(current_user)) -> dict:
    """Open incidents assigned to the caller, overdue first, then by deadline."""
    return workspace.my_todo(service_of(request), user)


IncidentId = Annotated[str, Path(max_length=64)]
PhotoId = Annotated[int, Path(ge=1, le=2**62)]


@router.post("/api/v1/incidents/{incident_id}/photos", status_code=201, summary="上传照片 add photos")
async def add_photos(
    incident_id: IncidentId,
    request: Request,
    files: Annotated[list[UploadFile], File(description="1–3 张 JPEG/PNG/WebP，每张 ≤ 5 MB")],
    user: User = Depends(current_user),
) -> dict:
    """Photos of the caller's latest step on the incident (their 上报 or 反馈): the type is read from
    the bytes, EXIF is removed except the orientation, a thumbnail is made."""
    data = [await f.read(MAX_PHOTO_BYTES + 1) for f in files[:4]]
    return photos.add_photos(service_of(request), user, incident_id, data)


@router.get("/api/v1/incidents/{incident_id}/photos", summary="事件照片 the incident's photos")
def list_photos(incident_id: IncidentId, request: Request, user: User = Depends(current_user)) -> dict:
    return photos.photos_of(service_of(request), user, incident_id)


def _image(content: bytes, media_type: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/api/v1/photos/{photo_id}", summary="照片 one photo")
def get_photo(photo_id: PhotoId, request: Request, user: User = Depends(current_user)) -> Response:
    return _image(*photos.photo(service_of(request), user, photo_id))


@router.get("/api/v1/photos/{photo_id}/thumb", summary="缩略图 a photo's thumbnail")
def get_thumb(photo_id: PhotoId, request: Request, user: User = Depends(current_user)) -> Response:
    return _image(*photos.photo(service_of(request), user, photo_id, thumb=True))
