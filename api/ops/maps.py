"""The web map pages (dispatcher, coverage, assignment, index, login) as finished HTML.

Each function gathers the page's data — the grids from :class:`~store.inforce.LayersInForce`, the
roster in force today, incidents and indicators through :mod:`api.ops.incidents` — and renders it
with :mod:`layers.webmap`. It returns ``(html, tile_hosts)``: the HTTP face adds the headers (the
Content-Security-Policy names the basemap's tile hosts).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, TypedDict

from api.ops.access import Forbidden, Scope, User
from api.ops.incidents import FINAL_STATES, stats_rows, to_incident, visible_rows
from api.ops.service import Service
from api.ops.summary import summarize_grids
from dispatch import AppRole
from dispatch.deadlines import overdue
from dispatch.routing import posts_on
from geo.errors import NotFound
from geo.roles import Role
from geo.validate import Finding
from layers.offline import basemap
from store.models import DRAFT

API_BASE = "/api/v1"
STATIC_BASE = "/static"
#: The label of open incidents that wait in the community's 研判 queue (no handler yet).
QUEUE_LABEL = "研判队列（未交办）"


def tile_hosts(service: Service) -> tuple[str, ...]:
    return basemap(service.settings.basemap, tianditu_key=service.settings.tianditu_key).hosts


class _Basemap(TypedDict):
    basemap: str
    tianditu_key: str


def basemap_options(service: Service) -> _Basemap:
    return {"basemap": service.settings.basemap, "tianditu_key": service.settings.tianditu_key}


def user_info(service: Service, user: User) -> dict[str, Any]:
    """Who is logged in, as every page shows it (:func:`layers.header.user_bar`): username, role
    and the person's name (from the roster) when the account is a person's."""
    name = None
    if user.person_id:
        name = next((p.name for p in service.posts() if p.person_id == user.person_id), None)
    return {"username": user.username, "role": user.role.value, "name": name or user.username}


def login(next_url: str) -> str:
    """The login page; ``next_url`` is kept only when it is a same-site path."""
    from layers.webmap import login_page

    ok = next_url.startswith("/") and not next_url.startswith("//") and "\\" not in next_url
    return login_page(api_base=API_BASE, static_base=STATIC_BASE, next_url=next_url if ok else "/maps/")


def communities(service: Service) -> list[dict[str, Any]]:
    """Communities with a published version: code, name, counts and the version number."""
    try:
        view = service.layers.current()
    except NotFound:
        return []
    out = []
    for code, v in sorted(view.versions.items()):
        for row in summarize_grids(view.hierarchy.subset(code)):
            out.append(
                {
                    "code": row["community_code"],
                    "name": row["community_name"],
                    "general": row["general"],
                    "general_kind": row["general_kind"],
                    "micro": row["micro"],
                    "version": v.number,
                }
            )
    return out


def index(service: Service, user: User | None = None) -> tuple[str, tuple[str, ...]]:
    from layers.webmap import index_page

    who = user_info(service, user) if user is not None else None
    return index_page(communities(service), static_base=STATIC_BASE, user=who), ()


def _tiles(service: Service, view: Any, community: str) -> dict[str, Any] | None:
    """Tile options when the community is too large to embed (:func:`api.ops.tiles.page_tiles`);
    None with a shifted (GCJ-02) basemap, which the WGS84 tiles could not follow."""
    from api.ops.tiles import page_tiles

    if basemap(service.settings.basemap, tianditu_key=service.settings.tianditu_key).overlay_crs != "wgs84":
        return None
    return page_tiles(service, view, community)


def check_community(service: Service, user: User, community: str) -> None:
    """Grid workers see only the maps of communities they hold a post in today."""
    from api.ops.workspace import own_communities

    if user.role is AppRole.GRID_WORKER and community not in own_communities(service, user):
        raise Forbidden("只能查看本社区的地图", "grid workers see only their own community's maps")


def dispatch(service: Service, user: User, community: str) -> tuple[str, tuple[str, ...]]:
    """The dispatcher's map of the published version (the report form only for roles that may
    report)."""
    from api.ops.workspace import click_to_report
    from layers.webmap import dispatch_page

    check_community(service, user, community)
    view = service.layers.current(community)
    page = dispatch_page(
        view.hierarchy,
        community,
        posts=posts_on(service.posts(community), service.today()),
        mask_phones=user.masks_phones,
        api_base=API_BASE,
        static_base=STATIC_BASE,
        can_report=click_to_report(user),
        user=user_info(service, user),
        tiles=_tiles(service, view, community),
        **basemap_options(service),
    )
    return page, tile_hosts(service)


def findings(service: Service, community: str, version: int | None = None) -> list[Finding]:
    """Validation findings of a version (draft or published), with today's staffing."""
    from geo.validate import validate

    view = service.layers.version(community, version)
    staffed = frozenset(
        p.grid_code
        for p in posts_on(service.posts(community), service.today())
        if p.role is Role.MICRO_WORKER
    )

    def check() -> list[Finding]:
        return validate(view.hierarchy, elements=view.elements, staffed_micro=set(staffed))

    if view.state == DRAFT:  # a draft's grids and elements change under the same version id
        return check()
    # A published or retired version never changes: its findings depend only on the staffing. They
    # are remembered per version (validate took ~15–60 ms of CPU, loading the elements ~30 ms, and
    # the first reprojection in a worker thread ~170 ms more to build that thread's transformer).
    key = ("findings", community, view.version_ids)
    held = service.kept(key, lambda h: h[0] == staffed, lambda: (staffed, tuple(check())))
    return list(held[1])


def coverage(
    service: Service, community: str, version: int | None = None, user: User | None = None
) -> tuple[str, tuple[str, ...]]:
    """The coverage check map of a version (the published one by default)."""
    from layers.webmap import coverage_page

    if user is not None:
        check_community(service, user, community)
    from api.ops.party import party_layer

    view = service.layers.version(community, version)
    page = coverage_page(
        view.hierarchy,
        community,
        findings(service, community, version),
        version_label=view.label,
        static_base=STATIC_BASE,
        user=user_info(service, user) if user is not None else None,
        party=party_layer(service, view, community),
        tiles=_tiles(service, view, community),
        api_base=API_BASE,
        **basemap_options(service),
    )
    return page, tile_hosts(service)


def assignment_data(service: Service, community: str) -> dict[str, Any]:
    """The 交办态势 figures (:func:`_assignment_data`), remembered in this process while nothing
    they depend on has moved: the newest incident event (every report and change appends one,
    :func:`store.incidents.last_event_id`), the published versions, the roster, the date, and the
    clock not yet past the next deadline of a listed incident (where an incident turns overdue or
    due). Reading and replaying every incident and event of the community took ~100–300 ms of CPU
    at 1,000 incidents, on every load of the page."""
    from api.ops.workspace import roster_tag
    from store import db
    from store.incidents import last_event_id

    now = service.clock()
    with db.read(service.engine) as conn:
        last = last_event_id(conn)
    versions = service.layers.current().version_ids
    stamp = (last, versions, roster_tag(service), service.today())

    def still(h: tuple[Any, datetime, datetime | None, dict[str, Any]]) -> bool:
        held_stamp, since, until, _ = h
        return bool(held_stamp == stamp and since <= now and (until is None or now < until))

    def load() -> tuple[Any, datetime, datetime | None, dict[str, Any]]:
        data, until = _assignment_data(service, community, now)
        return stamp, now, until, data

    return dict(service.kept(("assignment_data", community), still, load)[3])


def _assignment_data(
    service: Service, community: str, now: datetime
) -> tuple[dict[str, Any], datetime | None]:
    """The 交办态势 figures at ``now``, all from one set of open incidents so that they add up: open
    per micro-grid, the total, the workload per handler (queued incidents as one row), and the
    30-day 按期结案率 per general grid; and the next deadline after ``now`` of any listed incident
    (None when there is none): until then the clock alone changes none of them."""
    everything = Scope(True)
    rows = visible_rows(service, everything, community_code=community, limit=1_000_000)
    open_rows = [r for r in rows if r["state"] not in FINAL_STATES]
    open_by_micro = dict(Counter(r["micro_code"] for r in open_rows if r.get("micro_code")))
    people = {p.person_id: p for p in service.posts()}
    load: dict[str, dict[str, Any]] = {}
    for r in open_rows:
        key = r.get("assignee_id") or ""
        p = people.get(key)
        w = load.setdefault(
            key,
            {
                "person_id": key or None,
                "name": (p.name if p else key) or QUEUE_LABEL,
                "role": p.role.value if p else "",
                "grid_code": (p.grid_code if p else r.get("assigned_grid_code")) or "",
                "open": 0,
                "overdue": 0,
            },
        )
        w["open"] += 1
        w["overdue"] += int(overdue(to_incident(r), now))
    workload = sorted(load.values(), key=lambda w: (-w["overdue"], -w["open"], w["person_id"] or ""))
    today = service.today()
    ontime = {
        s["key"]: s["on_time_rate"]
        for s in stats_rows(
            service,
            everything,
            community=community,
            group_by="general",
            start=today - timedelta(days=30),
            end=today + timedelta(days=1),
        )
        if s.get("key")
    }
    deadlines = [d for d in (to_incident(r).deadline for r in rows) if d is not None and d > now]
    data = {
        "open_by_micro": open_by_micro,
        "total_open": len(open_rows),
        "workload": workload,
        "ontime_by_general": ontime,
    }
    return data, min(deadlines, default=None)


def assignment(service: Service, community: str, user: User | None = None) -> tuple[str, tuple[str, ...]]:
    """The 交办态势 map of the published version."""
    from layers.webmap import assignment_page

    if user is not None:
        check_community(service, user, community)
    view = service.layers.current(community)
    page = assignment_page(
        view.hierarchy,
        community,
        static_base=STATIC_BASE,
        user=user_info(service, user) if user is not None else None,
        tiles=_tiles(service, view, community),
        api_base=API_BASE,
        **assignment_data(service, community),
        **basemap_options(service),
    )
    return page, tile_hosts(service)
