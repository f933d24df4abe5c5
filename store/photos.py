"""Incident photos in the database (cleaned by :mod:`store.files.images` before they get here).

Photos belong to one event of one incident (``event_seq``); callers check the incident's visibility
first (:class:`store.incidents.Visibility`), so a photo is shown exactly to whoever sees its incident.
Functions never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from store.models import incident_photos

_META = [
    incident_photos.c[n]
    for n in ("id", "incident_id", "event_seq", "media_type", "width", "height", "size_bytes", "uploaded_by")
] + [incident_photos.c.created_at]


def add_photo(
    conn: Connection,
    *,
    incident_id: str,
    event_seq: int,
    media_type: str,
    data: bytes,
    thumb: bytes,
    width: int,
    height: int,
    uploaded_by: str,
    at: datetime,
) -> int:
    """Store one photo; returns its id."""
    result = conn.execute(
        insert(incident_photos).values(
            incident_id=incident_id,
            event_seq=event_seq,
            media_type=media_type,
            data=data,
            thumb=thumb,
            width=width,
            height=height,
            size_bytes=len(data),
            uploaded_by=uploaded_by,
            created_at=at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def count_photos(conn: Connection, incident_id: str, event_seq: int) -> int:
    q = select(func.count()).where(
        incident_photos.c.incident_id == incident_id, incident_photos.c.event_seq == event_seq
    )
    return int(conn.execute(q).scalar_one())


def list_photos(conn: Connection, incident_id: str) -> list[dict[str, Any]]:
    """The incident's photos (no bytes), by event then upload order."""
    q = (
        select(*_META)
        .where(incident_photos.c.incident_id == incident_id)
        .order_by(incident_photos.c.event_seq, incident_photos.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def photo_bytes(conn: Connection, photo_id: int, *, thumb: bool = False) -> dict[str, Any] | None:
    """``incident_id``, ``media_type`` and ``data`` (the thumbnail's when ``thumb``) of one photo."""
    col = incident_photos.c.thumb if thumb else incident_photos.c.data
    row = conn.execute(
        select(incident_photos.c.incident_id, incident_photos.c.media_type, col.label("data")).where(
            incident_photos.c.id == photo_id
        )
    ).first()
    if row is None:
        return None
    out = dict(row._mapping)
    if thumb:
        out["media_type"] = "image/jpeg"
    return out
