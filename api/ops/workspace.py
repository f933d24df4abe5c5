"""The incident workspace: the queue page, the phone page, the role-aware home and 我的待办.

Each function takes (service, user, …) and returns a page ``(html, tile_hosts)``, a path, or
JSON-ready values; the HTTP face adds headers. Grid workers see only their own community's pages
and, through :class:`store.incidents.Visibility`, only their grids' incidents.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

from api.ops.access import Forbidden, User, scope_of
from api.ops.incidents import present_rows, to_incident, visible_rows
from api.ops.maps import API_BASE, STATIC_BASE, basemap_options, tile_hosts, user_info
from api.ops.service import Service
from dispatch import PERMISSIONS, Action, AppRole, State
from dispatch.routing import posts_on
from geo.errors import NotFound
from geo.roles import Post
from store import db
from store.incidents import last_event_id

#: States in which an incident still waits for its handler (我的待办).
TODO_STATES = (State.ASSIGNED.value, State.IN_PROGRESS.value, State.FED_BACK.value, State.DEFERRED.value)


def can_report(user: User) -> bool:
    """Whether ``user``'s role may 上报 (the loop's own permission table decides)."""
    return user.role in PERMISSIONS[Action.REPORT]


def click_to_report(user: User) -> bool:
    """Whether a map page offers the dispatcher's "click anywhere to report" form: to roles that
    may report, except grid workers, who report where they stand (``/m/``, the phone's position)
    and never see that hint."""
    return can_report(user) and user.role is not AppRole.GRID_WORKER


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
    of the first community, planners its planner's page, everyone else (leaders, viewers) the
    index of maps (also where every role lands before anything is published)."""
    if user.role is AppRole.GRID_WORKER:
        return "/m/"
    page = {AppRole.DISPATCHER: "incidents", AppRole.ADMIN: "incidents", AppRole.PLANNER: "plan"}
    if user.role in page:
        try:
            codes = sorted(service.layers.current().versions)
        except NotFound:
            codes = []
        if codes:
            return f"/maps/{page[user.role]}/{codes[0]}"
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
        can_report=click_to_report(user),
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


def roster_tag(service: Service) -> str:
    """A digest of the roster this process shows (names, phones, posts), computed once per roster
    reload: remembered with the list :meth:`Service.posts` hands out, recomputed when it hands out
    another."""
    posts = service.posts()

    def digest() -> tuple[list[Post], str]:
        text = repr(sorted(repr(p) for p in posts))
        return posts, hashlib.sha256(text.encode()).hexdigest()[:16]

    held = service.cached("feed_roster_tag", digest, float("inf"))
    if held[0] is not posts:
        held = service.cached("feed_roster_tag", digest, 0.0)
    return held[1]


def feed_version(service: Service, user: User, community: str | None) -> str:
    """What the feed's answer depends on, as a short digest, without reading any incident: the
    newest incident event (every report and change appends one), the published versions (grid
    names), the roster, the caller (visibility and privacy), the community and today's date. Two
    worker processes on one database compute the same value."""
    with db.read(service.engine) as conn:
        last = last_event_id(conn)
    try:
        versions = service.layers.current().version_ids
    except NotFound:
        versions = ()
    who = (user.username, user.role.value, user.person_id)
    key = (last, versions, roster_tag(service), who, community, service.today().isoformat())
    return hashlib.sha256(repr(key).encode()).hexdigest()[:24]


def _next_flip(rows: list[dict[str, Any]], now: datetime) -> int:
    """The Unix second (rounded down) until which no listed incident can turn overdue by the clock
    alone: the earliest deadline not yet passed of those whose clock runs; 0 when there is none."""
    upcoming = [
        inc.deadline
        for inc in (to_incident(r) for r in rows)
        if inc.state.clock_running and inc.deadline is not None and inc.deadline >= now
    ]
    return int(min(upcoming).timestamp()) if upcoming else 0


def feed_unchanged(service: Service, user: User, community: str | None, if_none_match: str) -> str | None:
    """The ETag to answer ``304`` with when the caller's ``If-None-Match`` still holds, else None —
    decided from :func:`feed_version` and the clock alone, before any incident is read.

    An ETag is ``"VERSION.FLIP"``: it holds while the version is the same and the clock has not
    passed FLIP (the next deadline that would turn a listed incident overdue)."""
    version = feed_version(service, user, community)
    now = int(service.clock().timestamp())
    for tag in if_none_match.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        v, _, flip = tag.partition(".")
        if v == version and flip.isdigit() and (int(flip) == 0 or now <= int(flip)):
            return f'"{tag}"'
    return None


def feed(service: Service, user: User, community: str | None) -> tuple[dict[str, Any], str]:
    """The community's incidents as the caller sees them, and their ETag (:func:`feed_unchanged`),
    so that pages can poll every second and get ``304`` while nothing changed. The version is read
    before the incidents: a change in between gives a newer list under an older tag, which the
    next poll replaces. Any worker process answers the same, so it holds across ``--workers 2``."""
    version = feed_version(service, user, community)
    rows = visible_rows(service, scope_of(service, user), community_code=community, limit=5000)
    body = {"items": present_rows(service, user, rows), "total": len(rows)}
    return body, f'"{version}.{_next_flip(rows, service.clock())}"'
