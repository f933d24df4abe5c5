"""Photos of 上报 and 反馈: up to three per event, cleaned (type from the bytes, EXIF gone but the
orientation, a thumbnail), stored with the incident and shown under its visibility rule.

A photo belongs to the caller's latest event on the incident (their report, their feedback), so
only someone who took part can add one; read-only accounts never can.
"""

from __future__ import annotations

from typing import Any

from api.ops import privacy
from api.ops.access import Forbidden, User, hidden, scope_of
from api.ops.service import Service
from dispatch import AppRole
from dispatch.errors import InvalidInput
from store import db
from store.files.images import clean_photo
from store.incidents import get_incident_or_none, list_events
from store.photos import add_photo, count_photos, list_photos, photo_bytes

#: Photos per event.
MAX_PHOTOS = 3


def _key(incident_id: str) -> str:
    """A path's incident id, bounded; with control characters (``%00``) it is simply not found."""
    if not incident_id.isprintable():
        raise hidden("事件", incident_id[:64].encode("unicode_escape").decode("ascii"))
    return incident_id[:64]


def _present(row: dict[str, Any]) -> dict[str, Any]:
    pid = row["id"]
    return {
        "id": pid,
        "incident_id": row["incident_id"],
        "event_seq": row["event_seq"],
        "media_type": row["media_type"],
        "width": row["width"],
        "height": row["height"],
        "size_bytes": row["size_bytes"],
        "uploaded_by": row["uploaded_by"],
        "created_at": row["created_at"].isoformat(),
        "url": f"/api/v1/photos/{pid}",
        "thumb_url": f"/api/v1/photos/{pid}/thumb",
    }


def add_photos(service: Service, user: User, incident_id: str, files: list[bytes]) -> dict[str, Any]:
    """Clean and store ``files`` with the caller's latest event on the incident."""
    if user.role in (AppRole.VIEWER, AppRole.PLANNER):
        raise Forbidden("只读账号不能上传照片", "read-only accounts cannot upload photos")
    if not 1 <= len(files) <= MAX_PHOTOS:
        raise InvalidInput(
            f"每次上报或反馈可附 1 至 {MAX_PHOTOS} 张照片（收到 {len(files)} 张）",
            f"attach 1 to {MAX_PHOTOS} photos per report or feedback (got {len(files)})",
            field="files",
        )
    incident_id = _key(incident_id)
    cleaned = [clean_photo(f, field="files") for f in files]
    with db.write(service.engine) as conn:
        row = get_incident_or_none(conn, incident_id[:64], scope_of(service, user))
        if row is None:
            raise hidden("事件", incident_id[:64])
        mine = [e["seq"] for e in list_events(conn, row["id"]) if e["actor_id"] == user.actor_id]
        if not mine:
            raise Forbidden(
                "只有上报人或办理人可以为事件添加照片", "only someone who reported or acted may add photos"
            )
        seq = max(mine)
        if count_photos(conn, row["id"], seq) + len(cleaned) > MAX_PHOTOS:
            raise InvalidInput(
                f"同一步骤最多 {MAX_PHOTOS} 张照片", f"at most {MAX_PHOTOS} photos per step", field="files"
            )
        now = service.clock()
        for p in cleaned:
            add_photo(
                conn,
                incident_id=row["id"],
                event_seq=seq,
                media_type=p.media_type,
                data=p.data,
                thumb=p.thumb,
                width=p.width,
                height=p.height,
                uploaded_by=user.actor_id,
                at=now,
            )
        rows = list_photos(conn, row["id"])
    return {"items": [_present(r) for r in rows if r["event_seq"] == seq], "event_seq": seq}


def photos_of(service: Service, user: User, incident_id: str) -> dict[str, Any]:
    """The incident's photos (metadata and URLs), if the caller may see the incident."""
    incident_id = _key(incident_id)
    with db.read(service.engine) as conn:
        if get_incident_or_none(conn, incident_id[:64], scope_of(service, user)) is None:
            raise hidden("事件", incident_id[:64])
        if not privacy.sees_photos(user.role):
            return {"items": []}
        return {"items": [_present(r) for r in list_photos(conn, incident_id[:64])]}


def photo(service: Service, user: User, photo_id: int, *, thumb: bool = False) -> tuple[bytes, str]:
    """A photo's bytes and media type, if the caller may see its incident and photos at all
    (:mod:`api.ops.privacy`; else "not found")."""
    if not privacy.sees_photos(user.role):
        raise hidden("照片", str(photo_id))
    with db.read(service.engine) as conn:
        row = photo_bytes(conn, photo_id, thumb=thumb)
        if row is None or get_incident_or_none(conn, row["incident_id"], scope_of(service, user)) is None:
            raise hidden("照片", str(photo_id))
    return bytes(row["data"]), row["media_type"]
