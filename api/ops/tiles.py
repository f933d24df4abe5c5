"""Vector tiles (``GET /tiles/{layer}/{z}/{x}/{y}.mvt``): which data, for whom, and how it is cached.

Layers — one MVT layer per tile layer, named like it (one layer per grid level rather than one
grid layer with a level attribute: a page draws and styles each level on its own, and at low
zooms it asks only for the coarse levels):

======================  ==========  =====================================================
layer                   zooms       features and attributes
======================  ==========  =====================================================
``community``           8–22        总网格: code, name, level, kind, households, …
``general``             10–22       一般网格 / 专属网格: the same plus ``parent_code``
``micro``               13–22       微网格: the same
``elements``            14–22       治理要素: element_id, type, name, households, micro_code, …
``incidents``           12–22       事件 the caller may see: id, category, state, urgent,
                                    overdue, address (as the privacy policy shows it), …
======================  ==========  =====================================================

Which version: the published version of every community (:class:`store.inforce.LayersInForce`),
or with ``community=C`` that community's, and with ``version=N`` its version ``N`` in any state.
Every tile needs a caller (the one authentication path of the API and the pages). Who sees what:

* grids and elements — every caller alike, as ``/api/v1/communities/{c}/grids`` and the OGC
  collections give every caller every community's grids and elements (drafts included); the
  grid workers' limit to their own communities applies to the pages that show people (the map
  pages, and :func:`grid_card` here), not to the grids;
* incidents — exactly what the same caller may see through the incidents API: its visibility rule
  (:func:`api.ops.access.scope_of` → ``store.incidents.Visibility``, so a grid worker gets their
  grids' incidents and those assigned to them) and its privacy policy
  (:func:`api.ops.incidents.present_rows` → :mod:`api.ops.privacy`: the address as the role sees
  it; no resident name or phone at all).

Caching: a tile of a version in force never changes, so its ETag is known before it is built —
layer, the version ids, ``z/x/y`` — and a matching ``If-None-Match`` is answered 304 without
touching the grids. Built tiles are kept per process in a byte-bounded LRU keyed the same way. A
publish changes the version ids, hence the key and the ETag: nothing stale can be served (each
worker sees the new version within ``version_poll_s``). Drafts (their grids can be redrawn) and
incidents (they change all the time, and differ by caller) are built on every request and never
enter the shared cache; their ETag is a digest of the caller's scope and role and of the tile's
bytes, so an unchanged tile is still a 304 and one caller's ETag never revalidates another
caller's different tile. Every answer is ``Cache-Control: private`` with ``Vary: Cookie,
Authorization`` (no shared proxy keeps it).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.ops.access import Forbidden, User, scope_of
from api.ops.incidents import present_rows
from api.ops.ogc import grid_properties
from api.ops.service import Service
from dispatch import AppRole
from geo.errors import NotFound
from geo.tiles import InvalidTile, TileCoord, parse_tile
from store import db
from store.inforce import LayerView
from store.models import PUBLISHED, RETIRED
from store.tiles import element_tile, grid_tile, incident_rows, point_tile

#: layer → (min zoom, max zoom).
ZOOMS: dict[str, tuple[int, int]] = {
    "community": (8, 22),
    "general": (10, 22),
    "micro": (13, 22),
    "elements": (14, 22),
    "incidents": (12, 22),
}
GRID_LEVELS = ("community", "general", "micro")
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Bytes of built tiles kept per process.
CACHE_BYTES = 64 * 2**20
#: Incident attributes a tile carries (no resident name or phone: the popup asks the API).
INCIDENT_ATTRS = (
    "id",
    "category",
    "state",
    "urgent",
    "overdue",
    "address",
    "community_code",
    "micro_code",
    "assignee_name",
    "reported_at",
    "deadline",
)


@dataclass(frozen=True)
class Tile:
    """A tile answer: the MVT bytes, its ETag (quoted) and whether the caller's copy is current."""

    body: bytes
    etag: str
    not_modified: bool = False
    cache_control: str = "private, no-cache"


class TileCache:
    """Built tiles by key, least recently used dropped first beyond ``max_bytes`` (thread-safe)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self.size -= len(old) if old is not None else 0
            self._items[key] = body
            self.size += len(body)
            while self.size > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)


def cache_of(service: Service) -> TileCache:
    """The process's tile cache (kept with the service's other caches)."""
    return service.cached(("tiles-cache",), TileCache, float("inf"))


def parse_layer(layer: str) -> str:
    if layer not in ZOOMS:
        raise NotFound(
            f"没有该瓦片图层：{layer[:40]}（可用：{'、'.join(ZOOMS)}）",
            f"no tile layer {layer[:40]!r}; use one of {', '.join(ZOOMS)}",
            field="layer",
        )
    return layer


def _versions(service: Service, community: str | None, version: int | None) -> tuple[tuple[int, ...], bool]:
    """The version ids the tile draws, and whether they are all in force (so never change)."""
    if version is not None and community is None:
        raise InvalidTile("version 需与 community 一同使用", "version needs community", field="version")
    if community is not None:
        view = service.layers.version(community, version)
    else:
        try:
            view = service.layers.current()
        except NotFound:
            return (), True
    chosen = sorted(view.versions.values(), key=lambda v: v.id)
    frozen = all(v.state in (PUBLISHED, RETIRED) for v in chosen)
    return tuple(v.id for v in chosen), frozen


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak or strong, or ``*``)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def tile(
    service: Service,
    user: User,
    layer: str,
    z: object,
    x: object,
    y: object,
    *,
    community: str | None = None,
    version: int | None = None,
    if_none_match: str | None = None,
) -> Tile:
    """Tile ``z/x/y`` of ``layer`` as ``user`` may see it (see the module doc)."""
    layer = parse_layer(layer)
    lo, hi = ZOOMS[layer]
    t = parse_tile(z, x, y, min_zoom=lo, max_zoom=hi)
    if layer == "incidents":
        return _incident_tile(service, user, t, community, if_none_match)
    ids, frozen = _versions(service, community, version)
    key = (layer, ids, t.z, t.x, t.y)
    if frozen:
        etag = _etag(*key)
        if matches(if_none_match, etag):
            return Tile(b"", etag, not_modified=True)
        cache = cache_of(service)
        body = cache.get(key)
        if body is None:
            body = _build(service, layer, ids, t)
            cache.put(key, body)
        return Tile(body, etag)
    body = _build(service, layer, ids, t)
    etag = _etag(key, hashlib.sha256(body).hexdigest())
    return Tile(body, etag, matches(if_none_match, etag))


def _build(service: Service, layer: str, ids: tuple[int, ...], t: TileCoord) -> bytes:
    with db.read(service.engine) as conn:
        if layer in GRID_LEVELS:
            return grid_tile(conn, ids, layer, t)
        return element_tile(conn, ids, t)


def _incident_tile(
    service: Service, user: User, t: TileCoord, community: str | None, if_none_match: str | None
) -> Tile:
    scope = scope_of(service, user)
    with db.read(service.engine) as conn:
        rows = incident_rows(conn, t, scope, community=community)
        shown = present_rows(service, user, rows)
        points = [(r["lon"], r["lat"], incident_attributes(s)) for r, s in zip(rows, shown, strict=True)]
        body = point_tile(conn, "incidents", points, t)
    etag = _etag(
        "incidents", user.role.value, _scope_key(scope), community, t, hashlib.sha256(body).hexdigest()
    )
    return Tile(body, etag, matches(if_none_match, etag))


def _scope_key(scope: Any) -> tuple[Any, ...]:
    """The visibility rule as a value every worker writes alike (sets sorted: string hashing, and so
    set order, differs between processes)."""
    return (scope.everything, sorted(scope.communities), sorted(scope.grids), scope.person_id)


def incident_attributes(shown: Mapping[str, Any]) -> dict[str, Any]:
    """The tile attributes of an incident as :func:`api.ops.incidents.present_rows` shows it to
    the caller (address already masked or left out by the privacy policy)."""
    grid = shown.get("grid") or {}
    assignee = shown.get("assignee") or {}
    values = {
        "id": shown["id"],
        "category": shown["category"],
        "state": shown["state"],
        "urgent": bool(shown["urgent"]),
        "overdue": bool(shown["overdue"]),
        "address": shown.get("address") or None,
        "community_code": grid.get("community_code"),
        "micro_code": grid.get("micro_code"),
        "assignee_name": assignee.get("name"),
        "reported_at": shown.get("reported_at"),
        "deadline": shown.get("deadline"),
    }
    return {
        k: (str(v) if v is not None and not isinstance(v, bool | int | float | str) else v)
        for k, v in values.items()
    }


def grid_card(service: Service, user: User, code: str) -> dict[str, Any]:
    """What a click on a tiled grid shows: the grid of the published version and the people holding
    its posts today (phones as the privacy policy shows handlers' phones to ``user``), with the
    version that answered. NotFound for a code no published version has; :class:`Forbidden` for a
    grid worker asking about another community's grid (the map pages showing who holds the posts
    are their own communities' only, :func:`api.ops.maps.check_community`; the grid itself is
    theirs to see in the tiles and the GeoJSON like every caller's)."""
    from api.ops import privacy
    from api.ops.workspace import own_communities
    from dispatch.routing import posts_on

    code = code[:32]
    try:
        view = service.layers.current()
    except NotFound:
        view = None
    if view is None or code not in view.hierarchy:
        raise NotFound(
            f"现行版本中没有该网格：{code}", f"no grid {code} in the published versions", field="code"
        )
    g = view.hierarchy.get(code)
    community = g.community_code or code
    if user.role is AppRole.GRID_WORKER and community not in own_communities(service, user):
        raise Forbidden(
            "只能查看本社区网格的在岗人员", "grid workers see who holds the posts of their own community only"
        )
    people = [
        {
            "person_id": p.person_id,
            "name": p.name,
            "role": p.role.value,
            "phone": privacy.shown(user.role, "handler_phone", p.phone),
        }
        for p in sorted(posts_on(service.posts(community), service.today()), key=lambda p: p.person_id)
        if p.grid_code == code
    ]
    return {**grid_properties(g), "people": people, "version": view.source(community)}


# -- the map pages' tile options ------------------------------------------------------------------

TILES_URL = "/tiles"


def _zooms() -> dict[str, list[int]]:
    return {k: list(v) for k, v in ZOOMS.items()}


def _bounds(geoms: list[Any]) -> list[list[float]]:
    import shapely

    x1, y1, x2, y2 = shapely.total_bounds(geoms)
    return [[float(y1), float(x1)], [float(y2), float(x2)]]


def page_tiles(
    service: Service, view: LayerView, community: str, *, force: bool = False
) -> dict[str, Any] | None:
    """The ``tiles`` options of a community's map page when it has more micro-grids than the
    setting ``map_tiles_above`` (or ``force``), else None (the page embeds its grids)."""
    from layers.palette import general_colors

    h = view.hierarchy
    micro = sum(1 for g in h.subset(community).grids if g.level.value == "micro")
    if not force and micro <= service.settings.map_tiles_above:
        return None
    v = view.versions.get(community)
    return {
        "url": TILES_URL,
        "community": community,
        "version": v.number if v is not None and v.state not in (PUBLISHED, RETIRED) else None,
        "zooms": _zooms(),
        "colors": general_colors(h, community),
        "bounds": _bounds([h.get(community).geometry]),
        "micro": micro,
    }


def city(service: Service, user: User) -> tuple[str, tuple[str, ...]]:
    """The city overview page (``/maps/city``): every community with a published version, drawn
    from tiles whatever the number of grids. Returns ``(html, tile_hosts)`` like :mod:`api.ops.maps`."""
    from api.ops.maps import API_BASE, STATIC_BASE, communities, tile_hosts, user_info
    from layers.citymap import city_page
    from layers.offline import basemap

    rows = communities(service)
    try:
        view = service.layers.current()
    except NotFound:
        view = None
    if view is None or not rows:
        raise NotFound("尚无已发布的网格", "no grid version is published yet", field="version")
    h = view.hierarchy
    key = ("tiles-city", view.version_ids)

    def colors() -> dict[str, str]:
        from layers.palette import general_colors

        out: dict[str, str] = {}
        for code in view.versions:
            out |= general_colors(h, code)
        return out

    base = basemap(service.settings.basemap, tianditu_key=service.settings.tianditu_key)
    if base.overlay_crs != "wgs84":  # tiles are WGS84 / Web Mercator: no shifted basemap under them
        base = basemap("none")
    tiles = {
        "url": TILES_URL,
        "community": None,
        "zooms": _zooms(),
        "colors": service.cached(key, colors, float("inf")),
        "bounds": _bounds([h.get(c).geometry for c in view.versions if c in h]),
    }
    page = city_page(
        rows,
        tiles=tiles,
        base=base,
        api_base=API_BASE,
        static_base=STATIC_BASE,
        user=user_info(service, user),
    )
    return page, tile_hosts(service) if base.name != "none" else ()
