"""The incident workspace: the queue page, the phone page, the role-aware home and 我的待办.

Each function takes (service, user, …) and returns a page ``(html, tile_hosts)``, a path, or
JSON-ready values; the HTTP face adds headers. Grid workers see only their own community's pages
and, through :class:`store.incidents.Visibility`, only their grids' incidents.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

from api.ops.access import Forbidden, User, scope_of
from api.ops.incidents import list_for, present_rows, visible_rows
from api.ops.maps import API_BASE, STATIC_BASE, basemap_options, tile_hosts, user_info
from api.ops.service import Service
from dispatch import PERMISSIONS, Action, AppRole, State
from dispatch.routing import posts_on
from geo.errors import NotFound

#: States in which an incident still waits for its handler (我的待办).
TODO_STATES = (State.ASSIGNED.value, State.IN_PROGRESS.value, State.FED_BACK.value, State.DEFERRED.value)


def can_report(user: User) -> bool:
    """Whether ``user``'s role may 上报 (the loop's own permission table decides)."""
    return user.role in PERMISSIONS[Action.REPORT]


def own_communities(service: Service, user: User) -> list[str]:
    """The communities a grid worker holds a post in today (by the published grids)."""
    h = service.layers.current().hierarchy
    out: set[str] = set()
    for p in posts_on(service.posts(), service.today()):
        if p.person_id != user.person_id or p.grid_code not in h:
            continue
        c = h.community_of(p.grid_code)
        if c is not None:
            out.add(c.code)
    return sorted(out)


def home_path(service: Service, user: User) -> str:
    """Where each role's work is: grid workers their phone page, dispatchers and admins the queue
    of the first community, everyone else (leaders, planners, viewers) the index of maps."""
    if user.role is AppRole.GRID_WORKER:
        return "/m/"
    if user.role in (AppRole.DISPATCHER, AppRole.ADMIN):
        try:
            codes = sorted(service.layers.current().versions)
        except NotFound:
            codes = []
        if codes:
            return f"/maps/incidents/{codes[0]}"
    return "/maps/"


def queue(service: Service, user: User, community: str) -> tuple[str, tuple[str, ...]]:
    """The 事件办理 page of ``community`` (published grids, today's roster)."""
    from layers.workspace import queue_page

    if user.role is AppRole.GRID_WORKER and community not in own_communities(service, user):
        raise Forbidden("只能查看本社区的地图", "grid workers see only their own community's maps")
    view = service.layers.current(community)
    page = queue_page(
        view.hierarchy,
        community,
        user=user_info(service, user),
        people=posts_on(service.posts(community), service.today()),
        can_report=can_report(user),
        mask_phones=user.masks_phones,
        api_base=API_BASE,
        static_base=STATIC_BASE,
        poll_ms=1000,
        **basemap_options(service),
    )
    return page, tile_hosts(service)


def stats_page(
    service: Service, user: User, community: str, start: date | None = None, end: date | None = None
) -> tuple[str, tuple[str, ...]]:
    """The leaders' dashboard of ``community`` for ``[start, end)`` (default: the 30 days up to today)."""
    from layers.workspace import stats_page as render

    if user.role is AppRole.GRID_WORKER and community not in own_communities(service, user):
        raise Forbidden("只能查看本社区的地图", "grid workers see only their own community's maps")
    view = service.layers.current(community)
    end = end or service.today() + timedelta(days=1)
    start = start or end - timedelta(days=30)
    page = render(
        view.hierarchy,
        community,
        user=user_info(service, user),
        people=service.posts(community),
        start=start.isoformat(),
        end=end.isoformat(),
        api_base=API_BASE,
        static_base=STATIC_BASE,
        **basemap_options(service),
    )
    return page, tile_hosts(service)


def mobile(service: Service, user: User) -> str:
    """The phone page ``/m/``."""
    from layers.workspace import mobile_page

    return mobile_page(
        user=user_info(service, user), can_report=can_report(user), api_base=API_BASE, static_base=STATIC_BASE
    )


def logout() -> str:
    from layers.workspace import logout_page

    return logout_page(STATIC_BASE)


def my_todo(service: Service, user: User) -> dict[str, Any]:
    """The caller's open incidents (assigned to them), overdue first, then by deadline."""
    if user.person_id is None:
        return {"items": [], "total": 0}
    rows = visible_rows(
        service, scope_of(service, user), states=list(TODO_STATES), assignee_id=user.person_id, limit=5000
    )
    items = present_rows(service, user, rows)
    far = datetime.max.isoformat()
    items.sort(key=lambda i: (not i["overdue"], i["deadline"] or far, i["id"]))
    return {"items": items, "total": len(items)}


def feed(service: Service, user: User, community: str | None) -> tuple[dict[str, Any], str]:
    """The community's incidents as the caller sees them, and their ETag (a digest of exactly what
    is sent), so that pages can poll every second and get ``304`` while nothing changed. Any worker
    process answers the same for the same rows, so it holds across ``--workers 2``."""
    body = list_for(service, user, community=community, limit=5000)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return body, f'"{digest}"'
