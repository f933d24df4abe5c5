"""Per-community time limits (办理时限) of the incident categories, in whole hours.

Table ``time_limits`` holds one row per configured category (its Chinese value, as stored on
incidents) and, under the key :data:`URGENT_KEY`, the cap for urgent incidents. Categories without
a row keep the defaults of :mod:`dispatch.deadlines`. A change applies to later 交办 only: a
deadline, once set, is part of the incident's history.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, delete, insert, select

from geo.errors import NotFound
from store.models import communities, time_limits

#: The row key of the urgent cap.
URGENT_KEY = "urgent"


def load_time_limits(conn: Connection, community_code: str) -> dict[str, int]:
    """The configured rows of a community: category value (or ``urgent``) → hours.

    Raises :class:`NotFound` for an unknown community."""
    _require_community(conn, community_code)
    return _rows(conn, community_code)


def set_time_limits(conn: Connection, community_code: str, hours: Mapping[str, int]) -> dict[str, int]:
    """Replace the community's configured rows with ``hours`` (category value or ``urgent`` → hours,
    already checked by the caller); an empty mapping restores every default. Returns the new rows.

    Raises :class:`NotFound` for an unknown community."""
    _require_community(conn, community_code)
    conn.execute(delete(time_limits).where(time_limits.c.community_code == community_code))
    if hours:
        conn.execute(
            insert(time_limits),
            [{"community_code": community_code, "category": k, "hours": int(v)} for k, v in hours.items()],
        )
    return _rows(conn, community_code)


def _require_community(conn: Connection, community_code: str) -> None:
    known = conn.execute(select(communities.c.code).where(communities.c.code == community_code)).first()
    if known is None:
        raise NotFound(
            f"社区不存在：{community_code}", f"no community {community_code}", field="community_code"
        )


def _rows(conn: Connection, community_code: str) -> dict[str, int]:
    rows = conn.execute(
        select(time_limits.c.category, time_limits.c.hours).where(
            time_limits.c.community_code == community_code
        )
    )
    return {r.category: int(r.hours) for r in rows}
