"""OGC API – Features (Part 1 Core + GeoJSON + OpenAPI 3.0, Part 2 CRS by reference) over the
grid layers, governance elements, party organisations and incidents — framework-free: every
function returns JSON-ready dicts (and the ``Content-Crs`` of a feature answer); the HTTP face
(:mod:`api.http.routes_ogc`) only parses and serialises.

Collections, per community ``{code}``: ``{code}-micro``, ``{code}-general``, ``{code}-community``
(grids of one level), ``{code}-elements``, ``{code}-party`` and ``{code}-incidents``. Which
version answers is :class:`store.inforce.LayersInForce`'s rule: the published version, ``version=N``
for any other, ``datetime=t`` for the version in force at ``t``. Incidents need a caller and follow
exactly the native API's visibility (:func:`api.ops.access.scope_of`) and phone masking
(:func:`api.ops.incidents.present_rows`); grid collections are public reads while the setting
``ogc_public`` holds (GIS clients such as GDAL's OAPIF driver cannot easily send a token), except
drafts, which need a caller.

Like pygeoapi and tipg: items are paged by ``limit``/``offset`` with ``next``/``prev`` links that
keep every other parameter, ``numberMatched``/``numberReturned``/``timeStamp``, features in a
stable order (by code), an unknown query parameter is a 400 naming it, and coordinates follow the
requested CRS's axis order (CRS84 lon/lat; EPSG:4326 and EPSG:4490 lat/lon; EPSG:4544 northing,
easting), announced in ``Content-Crs``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import orjson
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from api.ops.access import User, scope_of
from api.ops.incidents import parse_categories, parse_states, present_rows, visible_rows
from api.ops.service import Service
from api.ops.tokens import Unauthorized
from geo.crs import from_wgs84, reproject_geometry, to_wgs84
from geo.errors import NotFound, WeiwangError
from geo.hierarchy import Grid, Level
from geo.times import as_instant
from store import db
from store.incidents import count_incidents, get_incident_or_none, list_incidents
from store.inforce import LayerView, in_force
from store.models import PUBLISHED, RETIRED
from store.versions import Version

#: The classes we claim, as the standards name them (Part 1: 17-069r4 §7–9; Part 2: 18-058r1; Part 4:
#: draft 20-002, "Conformance class URIs"; Part 3: 19-079r2). Not claimed: Part 1 html and gmlsf*,
#: Part 3 filter / features-filter (CQL2), Part 4 optimistic-locking-timestamps and handling.
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # Part 3, only its queryables (no filter, no CQL2): the grid collections' code, level, parent
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    # Part 4 (draft standard), on draft grid versions only (?version=N): api.ops.ogc_edit
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"

#: Collection kinds after ``{code}-``, with their Chinese titles.
KINDS: dict[str, str] = {
    "micro": "微网格",
    "general": "一般网格",
    "community": "总网格",
    "elements": "治理要素",
    "party": "党组织",
    "incidents": "事件",
}
GRID_KINDS = ("micro", "general", "community")

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000

#: Query parameters of ``/items`` (anything else is a 400, /req/core/query-param-unknown).
ITEM_PARAMS = frozenset(
    {"f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "version", "code", "level", "parent"}
)
INCIDENT_PARAMS = ITEM_PARAMS | {"state", "category"}
ONE_ITEM_PARAMS = frozenset({"f", "crs", "datetime", "version"})


class InvalidParameter(WeiwangError):
    """A query parameter OGC API clients sent wrong: 400 (the status the standard asks for)."""

    code = "invalid_parameter"


# -- CRS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OgcCrs:
    """A CRS of Part 2: its URI, the name :mod:`geo.crs` transforms with, and whether coordinates
    are written in authority axis order (first axis north)."""

    uri: str
    geo_name: str
    swap: bool


SUPPORTED_CRS: dict[str, OgcCrs] = {
    CRS84: OgcCrs(CRS84, "wgs84", False),
    EPSG_URI.format(4326): OgcCrs(EPSG_URI.format(4326), "wgs84", True),
    EPSG_URI.format(4490): OgcCrs(EPSG_URI.format(4490), "cgcs2000", True),
    EPSG_URI.format(4544): OgcCrs(EPSG_URI.format(4544), "EPSG:4544", True),
}
CRS_LIST = list(SUPPORTED_CRS)

_EPSG_SHORT = re.compile(r"^\[?(?:epsg:{1,2}|urn:ogc:def:crs:epsg:[\d.]*:)(\d+)\]?$")


def parse_ogc_crs(value: str | None, field_name: str = "crs") -> OgcCrs:
    """A supported CRS from its URI (or ``EPSG:n``, ``[EPSG:n]``, ``urn:ogc:def:crs:EPSG::n``,
    ``CRS84``); CRS84 when absent; :class:`InvalidParameter` otherwise."""
    if value is None or value == "":
        return SUPPORTED_CRS[CRS84]
    text = value  # exactly as given: surrounding spaces are refused below, never trimmed
    low = text.lower()
    if low in ("crs84", "ogc:crs84", "[ogc:crs84]", "urn:ogc:def:crs:ogc:1.3:crs84", CRS84.lower()):
        return SUPPORTED_CRS[CRS84]
    m = _EPSG_SHORT.match(low)
    if m:
        text = EPSG_URI.format(int(m.group(1)))
    text = text.replace("https://", "http://")
    found = SUPPORTED_CRS.get(text)
    if found is None:
        raise InvalidParameter(
            f"不支持的坐标系：{value[:100]}（可用：{'、'.join(CRS_LIST)}）",
            f"unsupported CRS {value[:100]!r}; use one of {', '.join(CRS_LIST)}",
            field=field_name,
        )
    return found


def _swap_xy(coords: np.ndarray) -> np.ndarray:
    return coords[:, ::-1]


def to_output(geometry: BaseGeometry, crs: OgcCrs) -> BaseGeometry:
    """A WGS84 geometry in ``crs`` with that CRS's axis order."""
    g = reproject_geometry(geometry, "wgs84", crs.geo_name) if crs.geo_name != "wgs84" else geometry
    return shapely.transform(g, _swap_xy) if crs.swap else g


def geojson_geometries(geometries: Sequence[BaseGeometry | None], crs: OgcCrs) -> list[dict[str, Any] | None]:
    """GeoJSON geometry objects of WGS84 geometries in ``crs`` (axis order included), converted
    and written as one array by GEOS: a page of 1,000 polygons costs a few ms instead of the
    ~150 ms of one ``mapping()`` each. None and empty geometries give None."""
    arr = np.empty(len(geometries), dtype=object)
    arr[:] = [None if g is None or g.is_empty else g for g in geometries]
    if crs.geo_name != "wgs84":
        arr = shapely.transform(arr, lambda x, y: from_wgs84(x, y, crs.geo_name), interleaved=False)
    if crs.swap:
        arr = shapely.transform(arr, _swap_xy)
    return [None if t is None else orjson.loads(t) for t in shapely.to_geojson(arr)]


def bbox_wgs84(value: str | None, bbox_crs: str | None) -> BaseGeometry | None:
    """The ``bbox`` parameter (4 or 6 numbers, in ``bbox-crs`` axis order) as a WGS84 polygon."""
    if value is None or value == "":
        if bbox_crs:
            raise InvalidParameter("bbox-crs 需与 bbox 一同使用", "bbox-crs needs bbox", field="bbox-crs")
        return None
    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        nums = []
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or not all(np.isfinite(nums)):
        raise InvalidParameter(
            "bbox 应为 4 个数：minx,miny,maxx,maxy",
            "bbox must be 4 numbers: minx,miny,maxx,maxy",
            field="bbox",
        )
    crs = parse_ogc_crs(bbox_crs, "bbox-crs")
    x1, y1, x2, y2 = nums
    if crs.swap:
        x1, y1, x2, y2 = y1, x1, y2, x2
    if crs.geo_name == "wgs84" or crs.geo_name == "cgcs2000":
        if not (-180 <= x1 <= 180 and -180 <= x2 <= 180 and -90 <= y1 <= 90 and -90 <= y2 <= 90):
            raise InvalidParameter(
                "bbox 超出经纬度范围（检查 bbox-crs 与坐标轴顺序）",
                "bbox outside longitude/latitude range (check bbox-crs and axis order)",
                field="bbox",
            )
        return box(min(x1, x2), y1, max(x1, x2), y2) if y1 <= y2 else box(x1, y2, x2, y1)
    outside = InvalidParameter(
        "bbox 超出该坐标系的有效范围（检查 bbox-crs 与坐标轴顺序）",
        "bbox outside the valid range of its CRS (check bbox-crs and axis order)",
        field="bbox",
    )
    if max(abs(v) for v in (x1, y1, x2, y2)) > 1e8:  # metres: far beyond any projected CRS here
        raise outside
    xs = np.linspace(min(x1, x2), max(x1, x2), 17)
    ys = np.linspace(min(y1, y2), max(y1, y2), 17)
    ex = np.concatenate([xs, xs, np.full(17, xs[0]), np.full(17, xs[-1])])
    ey = np.concatenate([np.full(17, ys[0]), np.full(17, ys[-1]), ys, ys])
    lon, lat = to_wgs84(ex, ey, crs.geo_name)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise outside
    w, so, e, n = float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))
    if not (-180 <= w <= e <= 180 and -90 <= so <= n <= 90):
        raise outside
    return box(w, so, e, n)


# -- small parsers -------------------------------------------------------------------------------


def _int(params: Mapping[str, str], name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise InvalidParameter(
            f"{name} 应为 {lo}–{hi} 的整数", f"{name} must be an integer from {lo} to {hi}", field=name
        )
    return value


def _instant(text: str, name: str = "datetime") -> datetime:
    try:
        t = text.strip()
        parsed: datetime | date = (
            date.fromisoformat(t) if len(t) == 10 else datetime.fromisoformat(t.replace("Z", "+00:00"))
        )
        return as_instant(parsed)
    except ValueError:
        raise InvalidParameter(
            f"{name} 不是 RFC 3339 时间：{text[:40]}",
            f"{name} is not an RFC 3339 time: {text[:40]!r}",
            field=name,
        ) from None


def parse_interval(text: str | None) -> tuple[datetime | None, datetime | None] | None:
    """``datetime``: an instant ``t`` (→ (t, t)) or an interval ``a/b`` with ``..`` or empty for open."""
    if text is None or text == "":
        return None
    if "/" not in text:
        t = _instant(text)
        return t, t
    a, _, b = text.partition("/")
    start = None if a in ("", "..") else _instant(a)
    end = None if b in ("", "..") else _instant(b)
    if start and end and start > end:
        raise InvalidParameter(
            "datetime 区间起点晚于终点", "datetime interval starts after it ends", field="datetime"
        )
    return start, end


def _check_params(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidParameter(
            f"不支持的查询参数：{', '.join(unknown)[:100]}",
            f"unknown query parameter(s): {', '.join(unknown)[:100]}",
            field=unknown[0][:64],
        )
    if params.get("f") not in (None, "", "json", "geojson"):
        raise InvalidParameter("f 只支持 json", "f must be json", field="f")


# -- collections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionId:
    community: str
    kind: str

    @property
    def text(self) -> str:
        return f"{self.community}-{self.kind}"


def parse_collection_id(text: str) -> CollectionId:
    code, _, kind = text[:64].rpartition("-")
    if not code or kind not in KINDS:
        raise NotFound(f"要素集合不存在：{text[:64]}", f"no collection {text[:64]}", field="collectionId")
    return CollectionId(code, kind)


def _gate(service: Service, user: User | None, kind: str | None = None) -> None:
    """Who may read: incidents need a caller; everything needs one unless ``ogc_public``."""
    if user is not None:
        return
    if kind == "incidents":
        raise Unauthorized("事件集合需要登录（Authorization: Bearer 令牌）", "incidents need a bearer token")
    if not service.settings.ogc_public:
        raise Unauthorized("需要登录", "authentication required")


def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def landing(service: Service, user: User | None, base: str) -> dict[str, Any]:
    """The landing page (``/ogc``): links to the API definition, conformance and collections."""
    _gate(service, user)
    root = f"{base}/ogc"
    return {
        "title": "weiwang 微网实格 OGC API – Features",
        "description": (
            "网格图层（微网格、一般网格、总网格）、治理要素、党组织与事件（需登录）"
            "的 OGC API – Features 接口。"
        ),
        "links": [
            _link(root, "self", "application/json", "本页 this document"),
            _link(
                f"{root}/api",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
                "API 定义 the API definition",
            ),
            _link(f"{base}/docs", "service-doc", "text/html", "API 文档 the API documentation"),
            _link(f"{root}/conformance", "conformance", "application/json", "符合性 conformance classes"),
            _link(f"{root}/collections", "data", "application/json", "要素集合 feature collections"),
        ],
    }


def conformance(service: Service, user: User | None) -> dict[str, Any]:
    _gate(service, user)
    return {"conformsTo": list(CONFORMANCE)}


def _published_communities(service: Service) -> list[str]:
    try:
        return sorted(service.layers.current().versions)
    except NotFound:
        return []


def _collection_meta(
    service: Service, cid: CollectionId, base: str, view: LayerView | None, name: str
) -> dict[str, Any]:
    root = f"{base}/ogc/collections/{quote(cid.text)}"
    extent: dict[str, Any] = {}
    if view is not None and cid.community in view.hierarchy:
        x1, y1, x2, y2 = view.hierarchy.get(cid.community).geometry.bounds
        extent["spatial"] = {"bbox": [[x1, y1, x2, y2]], "crs": CRS84}
        v = view.versions.get(cid.community)
        if v is not None and cid.kind != "incidents":
            extent["temporal"] = {
                "interval": [[_iso(v.valid_from), _iso(v.valid_to)]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            }
    label = f"，{view.subset(cid.community).label}" if view and cid.kind != "incidents" else ""
    return {
        "id": cid.text,
        "title": f"{name}·{KINDS[cid.kind]}",
        "description": f"{name}（{cid.community}）的{KINDS[cid.kind]}{label}",
        "itemType": "feature",
        "extent": extent,
        "crs": CRS_LIST,
        "storageCrs": CRS84,
        "links": [
            _link(root, "self", "application/json", "本集合 this collection"),
            _link(f"{root}/items", "items", "application/geo+json", "要素 items"),
        ]
        + (
            [_link(f"{root}/queryables", QUERYABLES_REL, SCHEMA_JSON, "可查询属性 queryables")]
            if cid.kind in GRID_KINDS
            else []
        ),
    }


QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA_JSON = "application/schema+json"


def queryables_link(base: str, collection_id: str) -> str | None:
    """The ``Link`` header a grid collection's items carry to its queryables (Part 3
    /req/queryables/queryables-link B), None for other collections."""
    cid = parse_collection_id(collection_id)
    if cid.kind not in GRID_KINDS:
        return None
    href = f"{base}/ogc/collections/{quote(cid.text)}/queryables"
    return f'<{href}>; rel="{QUERYABLES_REL}"; type="{SCHEMA_JSON}"'


def queryables(service: Service, user: User | None, base: str, collection_id: str) -> dict[str, Any]:
    """``/collections/{id}/queryables`` of a grid collection (Part 3 Queryables): the properties the
    items take as query parameters (``code``, ``level``, ``parent``, equality), as JSON Schema;
    404 for the other collections, which publish none."""
    cid = parse_collection_id(collection_id)
    _gate(service, user, cid.kind)
    _known(service, cid.community)
    if cid.kind not in GRID_KINDS:
        raise NotFound(
            f"{cid.text} 没有可查询属性", f"{cid.text} publishes no queryables", field="collectionId"
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/ogc/collections/{quote(cid.text)}/queryables",
        "type": "object",
        "title": f"{KINDS[cid.kind]}可查询属性 queryables",
        "properties": {
            "code": {"type": "string", "title": "网格编码 grid code"},
            "level": {
                "type": "string",
                "title": "层级 level",
                "enum": [k.value for k in Level],
            },
            "parent": {"type": "string", "title": "上级网格编码 parent grid code (parent_code)"},
        },
        "additionalProperties": False,
    }


def _iso(v: datetime | None) -> str | None:
    return v.astimezone(UTC).isoformat().replace("+00:00", "Z") if v else None


def collections(service: Service, user: User | None, base: str) -> dict[str, Any]:
    """Every collection of every community with a published version (incidents only for a caller)."""
    _gate(service, user)
    out = []
    codes = _published_communities(service)
    view = service.layers.current() if codes else None
    for code in codes:
        name = view.hierarchy.get(code).name if view and code in view.hierarchy else code
        for kind in KINDS:
            if kind == "incidents" and user is None:
                continue
            out.append(_collection_meta(service, CollectionId(code, kind), base, view, name))
    return {
        "links": [_link(f"{base}/ogc/collections", "self", "application/json", "要素集合 collections")],
        "collections": out,
        "crs": CRS_LIST,
    }


def collection(service: Service, user: User | None, base: str, collection_id: str) -> dict[str, Any]:
    """One collection's metadata; 404 for an unknown community or kind."""
    cid = parse_collection_id(collection_id)
    _gate(service, user, cid.kind)
    _known(service, cid.community)
    try:
        view = service.layers.current(cid.community)
    except NotFound:
        view = None
    name = (
        view.hierarchy.get(cid.community).name if view and cid.community in view.hierarchy else cid.community
    )
    return _collection_meta(service, cid, base, view, name)


def _known(service: Service, code: str) -> None:
    """NotFound unless the community has a grid version (in any state)."""
    if not service.layers.versions(code):
        raise NotFound(f"社区不存在：{code}", f"no community {code}", field="collectionId")


# -- items ---------------------------------------------------------------------------------------


@dataclass
class Features:
    """A feature answer: the GeoJSON body and the CRS its coordinates are in (``Content-Crs``)."""

    body: dict[str, Any]
    crs: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_crs(self) -> str:
        return f"<{self.crs}>"


def view_for(
    service: Service, user: User | None, community: str, params: Mapping[str, str]
) -> LayerView | None:
    """The version asked for: ``version=N``, else the one in force at an instant ``datetime``, else
    the published one. None when no version was in force then (an empty answer, not an error)."""
    _known(service, community)
    number = _int(params, "version", None, 1, 1_000_000)
    when = params.get("datetime")
    if number is not None and when:
        raise InvalidParameter(
            "version 与 datetime 不能同时使用", "use version or datetime, not both", field="datetime"
        )
    if number is not None:
        if service.layers.find(community, number).state not in (PUBLISHED, RETIRED) and user is None:
            raise Unauthorized("草稿版本需要登录", "a draft version needs a bearer token")
        return service.layers.version(community, number)  # a draft as stored now (store.inforce)
    if when:
        interval = parse_interval(when)
        assert interval is not None
        if interval[0] != interval[1] or interval[0] is None:
            raise InvalidParameter(
                "网格集合的 datetime 只接受一个时刻（取当时生效的版本）",
                "datetime of a grid collection must be one instant (the version in force then)",
                field="datetime",
            )
        t = interval[0]
        chosen = next((v for v in service.layers.versions(community) if in_force(v, t)), None)
        if chosen is None:
            return None
        return _frozen_view(service, chosen, lambda: service.layers.at(community, t))
    published = next((v for v in service.layers.versions(community) if v.state == PUBLISHED), None)
    if published is None:
        return service.layers.current(community)  # raises NotFound saying so
    return _frozen_view(service, published, lambda: service.layers.current(community))


def _frozen_view(service: Service, version: Version, build: Callable[[], LayerView]) -> LayerView:
    """A one-community view of a version in force, kept per version id: such a version never
    changes, and cutting it out of the combined view costs ~35 ms per 5,000 grids per request."""
    return service.cached(("ogc-view", version.id), build, float("inf"))


def _grid_rows(service: Service, view: LayerView, level: str) -> tuple[list[Grid], np.ndarray]:
    """The view's grids of one level ordered by code, with their geometries as an array (cached for
    versions in force, whose grids never change)."""

    def build() -> tuple[list[Grid], np.ndarray]:
        grids = sorted(view.hierarchy.level(Level(level)), key=lambda g: g.code)
        return grids, np.array([g.geometry for g in grids], dtype=object)

    frozen = all(v.state in (PUBLISHED, RETIRED) for v in view.versions.values())
    if not frozen:
        return build()
    key = ("ogc-grids", view.version_ids, level)
    return service.cached(key, build, float("inf"))


def grid_properties(g: Grid) -> dict[str, Any]:
    """A grid's attributes (:meth:`geo.hierarchy.Grid.properties`) with its level in Chinese."""
    props = g.properties()
    head = {k: props.pop(k) for k in ("code", "name", "level")}
    return head | {"level_zh": g.level.zh} | props


def incident_properties(shown: Mapping[str, Any]) -> dict[str, Any]:
    """An incident as :func:`api.ops.incidents.present` shows it, flattened for tables and GIS
    (phones stay as masked as the caller sees them)."""
    grid = shown.get("grid") or {}
    assignee = shown.get("assignee") or {}
    resident = shown.get("resident") or {}
    return {
        "id": shown["id"],
        "category": shown["category"],
        "state": shown["state"],
        "urgent": shown["urgent"],
        "overdue": shown["overdue"],
        "description": shown["description"],
        "address": shown["address"],
        "community_code": grid.get("community_code"),
        "community_name": grid.get("community_name"),
        "general_code": grid.get("general_code"),
        "general_name": grid.get("general_name"),
        "micro_code": grid.get("micro_code"),
        "micro_name": grid.get("micro_name"),
        "assigned_grid_code": shown.get("assigned_grid_code"),
        "assignee_id": assignee.get("person_id"),
        "assignee_name": assignee.get("name"),
        "assignee_role": assignee.get("role"),
        "assignee_phone": assignee.get("phone"),
        "resident_name": resident.get("name"),
        "resident_phone": resident.get("phone"),
        "reported_at": shown["reported_at"],
        "assigned_at": shown["assigned_at"],
        "deadline": shown["deadline"],
        "closed_at": shown["closed_at"],
        "updated_at": shown["updated_at"],
        "lon": shown["lon"],
        "lat": shown["lat"],
        "layer_version_id": grid.get("version_id"),
    }


@dataclass
class _Matched:
    """Everything that matched the filters, ordered, with how to turn one into a feature."""

    items: Sequence[Any]
    feature: Callable[[Sequence[Any]], list[dict[str, Any]]]
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set when the database already cut the page (``items`` is the page, this the match count).
    total: int | None = None


def _feature(fid: str, geometry: BaseGeometry | None, props: dict[str, Any], crs: OgcCrs) -> dict[str, Any]:
    return _features_of([(fid, geometry, props)], crs)[0]


def _features_of(
    rows: Sequence[tuple[str, BaseGeometry | None, dict[str, Any]]], crs: OgcCrs
) -> list[dict[str, Any]]:
    """GeoJSON features of (id, WGS84 geometry, properties) in ``crs`` (geometries in one batch)."""
    geoms = geojson_geometries([g for _, g, _ in rows], crs)
    return [
        {"type": "Feature", "id": fid, "geometry": geom, "properties": props}
        for (fid, _, props), geom in zip(rows, geoms, strict=True)
    ]


def _match_grids(
    service: Service,
    cid: CollectionId,
    view: LayerView | None,
    params: Mapping[str, str],
    area: Any,
    crs: OgcCrs,
) -> _Matched:
    if view is None:
        return _Matched([], lambda _rows: [])
    grids, geoms = _grid_rows(service, view, cid.kind)
    keep = np.ones(len(grids), dtype=bool)
    if area is not None and len(grids):
        keep &= shapely.intersects(geoms, area)
    code, level, parent = params.get("code"), params.get("level"), params.get("parent")
    if code or level or parent:
        keep &= np.fromiter(
            (
                (not code or g.code == code)
                and (not level or g.level.value == level)
                and (not parent or g.parent_code == parent)
                for g in grids
            ),
            dtype=bool,
            count=len(grids),
        )
    chosen = [g for g, k in zip(grids, keep, strict=True) if k] if not keep.all() else grids

    def features(rows: Sequence[Grid]) -> list[dict[str, Any]]:
        return _features_of([(g.code, g.geometry, grid_properties(g)) for g in rows], crs)

    return _Matched(chosen, features, {"version": view.source(cid.community)})


def _match_elements(
    view: LayerView | None, cid: CollectionId, params: Mapping[str, str], area: Any, crs: OgcCrs
) -> _Matched:
    if view is None:
        return _Matched([], lambda _rows: [])
    code, parent = params.get("code"), params.get("parent")
    rows = sorted(
        (
            e
            for e in view.elements
            if (e.community_code in (None, cid.community))
            and (not code or e.id == code)
            and (not parent or e.micro_code == parent)
            and (area is None or e.geometry.intersects(area))
        ),
        key=lambda e: e.id,
    )

    def features(page: Sequence[Any]) -> list[dict[str, Any]]:
        return _features_of(
            [
                (
                    e.id,
                    e.geometry,
                    {
                        "id": e.id,
                        "type": e.type,
                        "name": e.name,
                        "households": e.households,
                        "community_code": e.community_code,
                        "micro_code": e.micro_code,
                    },
                )
                for e in page
            ],
            crs,
        )

    return _Matched(rows, features, {"version": view.source(cid.community)})


def _match_party(
    service: Service,
    view: LayerView | None,
    cid: CollectionId,
    params: Mapping[str, str],
    area: Any,
    crs: OgcCrs,
) -> _Matched:
    """Party organisations, each drawn as the union of the grids it covers in the chosen version."""
    from store.people import party_orgs_of

    if view is None:
        return _Matched([], lambda _rows: [])
    with db.read(service.engine) as conn:
        orgs = party_orgs_of(conn, cid.community)
    h = view.hierarchy
    code, parent = params.get("code"), params.get("parent")
    rows = []
    for o in orgs:
        if (code and o["code"] != code) or (parent and o.get("parent_code") != parent):
            continue
        parts = [h.get(c).geometry for c in o["grid_codes"] if c in h]
        geom = shapely.union_all(parts) if parts else None
        if area is not None and (geom is None or not geom.intersects(area)):
            continue
        rows.append((o, geom))

    def features(page: Sequence[Any]) -> list[dict[str, Any]]:
        return _features_of(
            [
                (
                    o["code"],
                    geom,
                    {
                        "code": o["code"],
                        "name": o["name"],
                        "type": o.get("type"),
                        "community_code": o.get("community_code"),
                        "parent_code": o.get("parent_code"),
                        "element_id": o.get("element_id"),
                        "grid_codes": ",".join(o["grid_codes"]),
                    },
                )
                for o, geom in page
            ],
            crs,
        )

    return _Matched(rows, features, {"version": view.source(cid.community)})


def _match_incidents(
    service: Service,
    user: User,
    cid: CollectionId,
    params: Mapping[str, str],
    area: Any,
    crs: OgcCrs,
    page: tuple[int, int] | None = None,
) -> _Matched:
    """The community's incidents ``user`` may see (the API's one visibility rule), newest first.
    Without datetime, bbox, code or parent the database counts and cuts the page (``page``:
    offset, limit); otherwise the visible rows are filtered here."""
    scope = scope_of(service, user)
    states = parse_states(params.get("state") or None)
    categories = parse_categories(params.get("category") or None)
    code, parent = params.get("code"), params.get("parent")

    def features(shown: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return incident_features(present_rows(service, user, list(shown)), crs)

    if page is not None and not (params.get("datetime") or area is not None or code or parent):
        offset, limit = page
        with db.read(service.engine) as conn:
            total = count_incidents(
                conn, community_code=cid.community, states=states, categories=categories, visible=scope
            )
            cut = list_incidents(
                conn,
                community_code=cid.community,
                states=states,
                categories=categories,
                visible=scope,
                limit=limit,
                offset=offset,
            )
        return _Matched(cut, features, total=total)
    rows = visible_rows(
        service, scope, community_code=cid.community, states=states, categories=categories, limit=10_000_000
    )
    rows = filter_incident_rows(rows, parse_interval(params.get("datetime")), area)
    if code or parent:
        rows = [
            r
            for r in rows
            if (not code or r["id"] == code)
            and (
                not parent
                or parent in (r.get("micro_code"), r.get("general_code"), r.get("assigned_grid_code"))
            )
        ]
    return _Matched(rows, features)


def incident_feature(shown: Mapping[str, Any], crs: OgcCrs) -> dict[str, Any]:
    return incident_features([shown], crs)[0]


def incident_features(shown: Sequence[Mapping[str, Any]], crs: OgcCrs) -> list[dict[str, Any]]:
    """Incidents as :func:`api.ops.incidents.present` shows them, as point features in ``crs``."""
    return _features_of(
        [
            (
                s["id"],
                shapely.Point(s["lon"], s["lat"]) if s.get("lon") is not None else None,
                incident_properties(s),
            )
            for s in shown
        ],
        crs,
    )


def filter_incident_rows(
    rows: list[dict[str, Any]], period: tuple[datetime | None, datetime | None] | None, area: Any = None
) -> list[dict[str, Any]]:
    """Incidents reported within ``period`` (inclusive bounds, None open) and lying in ``area``."""
    if period is not None:
        start, end = period
        rows = [
            r
            for r in rows
            if (start is None or as_instant(r["reported_at"]) >= start)
            and (end is None or as_instant(r["reported_at"]) <= end)
        ]
    if area is not None:
        x1, y1, x2, y2 = area.bounds
        rows = [r for r in rows if r.get("lon") is not None and x1 <= r["lon"] <= x2 and y1 <= r["lat"] <= y2]
    return rows


def items(
    service: Service, user: User | None, base: str, collection_id: str, params: Mapping[str, str]
) -> Features:
    """``/collections/{id}/items``: filtered (bbox, datetime, code/level/parent), paged
    (limit/offset with next/prev links), in the requested CRS."""
    cid = parse_collection_id(collection_id)
    _gate(service, user, cid.kind)
    _check_params(params, INCIDENT_PARAMS if cid.kind == "incidents" else ITEM_PARAMS)
    limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int(params, "offset", 0, 0, 10_000_000)
    assert limit is not None and offset is not None
    crs = parse_ogc_crs(params.get("crs"))
    area = bbox_wgs84(params.get("bbox"), params.get("bbox-crs"))
    matched = _match(service, user, cid, params, area, crs, (offset, limit))
    if matched.total is None:
        number_matched, page = len(matched.items), matched.items[offset : offset + limit]
    else:
        number_matched, page = matched.total, matched.items
    root = f"{base}/ogc/collections/{quote(cid.text)}"
    here = f"{root}/items"

    def at(off: int) -> str:
        q = {k: v for k, v in params.items() if k != "offset"} | {"limit": str(limit)}
        if off:
            q["offset"] = str(off)
        return f"{here}?{urlencode(q)}"

    links = [
        _link(at(offset), "self", "application/geo+json", "本页 this page"),
        _link(root, "collection", "application/json", "所属集合 the collection"),
    ]
    if offset + limit < number_matched:
        links.append(_link(at(offset + limit), "next", "application/geo+json", "下一页 next page"))
    if offset > 0:
        links.append(
            _link(at(max(0, offset - limit)), "prev", "application/geo+json", "上一页 previous page")
        )
    body = {
        "type": "FeatureCollection",
        "features": matched.feature(page),
        "numberMatched": number_matched,
        "numberReturned": len(page),
        "timeStamp": _iso(service.clock()),
        "links": links,
        **matched.extra,
    }
    link = queryables_link(base, collection_id)
    return Features(body, crs.uri, {"Link": link} if link else {})


def _match(
    service: Service,
    user: User | None,
    cid: CollectionId,
    params: Mapping[str, str],
    area: Any,
    crs: OgcCrs,
    page: tuple[int, int] | None = None,
) -> _Matched:
    if cid.kind == "incidents":
        assert user is not None
        _known(service, cid.community)
        return _match_incidents(service, user, cid, params, area, crs, page)
    view = view_for(service, user, cid.community, params)
    if cid.kind in GRID_KINDS:
        return _match_grids(service, cid, view, params, area, crs)
    if cid.kind == "elements":
        return _match_elements(view, cid, params, area, crs)
    return _match_party(service, view, cid, params, area, crs)


def item(
    service: Service,
    user: User | None,
    base: str,
    collection_id: str,
    feature_id: str,
    params: Mapping[str, str],
) -> Features:
    """``/collections/{id}/items/{fid}``: one feature (404 if absent or not visible to the caller)."""
    cid = parse_collection_id(collection_id)
    _gate(service, user, cid.kind)
    _check_params(params, ONE_ITEM_PARAMS)
    crs = parse_ogc_crs(params.get("crs"))
    fid = feature_id[:64]
    feature: dict[str, Any] | None = None
    if cid.kind == "incidents":
        assert user is not None
        with db.read(service.engine) as conn:
            row = get_incident_or_none(conn, fid, scope_of(service, user))
        if row is not None and row["community_code"] == cid.community:
            feature = incident_feature(present_rows(service, user, [row])[0], crs)
    else:
        if params.get("datetime") and "/" in params["datetime"]:
            raise InvalidParameter(
                "datetime 只接受一个时刻", "datetime must be one instant", field="datetime"
            )
        matched = _match(service, user, cid, {**params, "code": fid}, None, crs)
        if matched.items:
            feature = matched.feature(matched.items[:1])[0]
            feature.update(matched.extra)
    if feature is None:
        raise NotFound(f"要素不存在：{fid}", f"no feature {fid} in {cid.text}", field="featureId")
    root = f"{base}/ogc/collections/{quote(cid.text)}"
    feature["links"] = [
        _link(f"{root}/items/{quote(fid)}", "self", "application/geo+json", "本要素 this feature"),
        _link(root, "collection", "application/json", "所属集合 the collection"),
    ]
    return Features(feature, crs.uri)


# -- the API definition (oas30) ------------------------------------------------------------------

OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"

#: The OGC API parameters as Part 1 defines them (the routes declare them as text so that the
#: operations can answer 400; the definition tells clients their real types and bounds).
_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "offset": {"type": "integer", "minimum": 0, "default": 0},
    "version": {"type": "integer", "minimum": 1},
    "bbox": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
}


def _to_30(node: Any) -> Any:
    """A JSON Schema 2020-12 fragment (OpenAPI 3.1) as OpenAPI 3.0: ``anyOf [X, null]`` →
    X + ``nullable``, ``examples`` → ``example``."""
    if isinstance(node, list):
        return [_to_30(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_30(v) for k, v in node.items() if k != "examples"}
    if isinstance(node.get("examples"), list) and node["examples"]:
        out["example"] = _to_30(node["examples"][0])
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [a for a in any_of if a != {"type": "null"}]
        del out["anyOf"]
        out = ({**rest[0], **out} if len(rest) == 1 else {**out, "anyOf": rest}) | {"nullable": True}
    return out


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def openapi30(spec: Mapping[str, Any], prefix: str = "/ogc") -> dict[str, Any]:
    """The OGC API part of the service's OpenAPI document (3.1) as an OpenAPI 3.0 definition:
    only the ``prefix`` paths, the components they use, and the OGC parameters typed as Part 1
    defines them (/req/oas30)."""
    paths = {
        k: _to_30(v) for k, v in spec.get("paths", {}).items() if k == prefix or k.startswith(prefix + "/")
    }
    for item in paths.values():
        for op in item.values():
            for param in op.get("parameters", []):
                if param.get("in") == "query" and param["name"] in _PARAM_SCHEMAS:
                    param["schema"] = {
                        **_PARAM_SCHEMAS[param["name"]],
                        "description": param.get("description", ""),
                    }
                    if param["name"] == "bbox":
                        param["style"], param["explode"] = "form", False
    schemas = spec.get("components", {}).get("schemas", {})
    wanted: set[str] = set()
    todo = _refs(paths)
    while todo:
        name = todo.pop()
        if name in wanted or name not in schemas:
            continue
        wanted.add(name)
        todo |= _refs(schemas[name])
    info = dict(spec.get("info", {}))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{info.get('title', 'weiwang')} — OGC API – Features",
            "version": info.get("version", "0"),
            "description": "OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS).",
        },
        "paths": paths,
        "components": {"schemas": {k: _to_30(schemas[k]) for k in sorted(wanted)}},
    }


def api_definition(service: Service, user: User | None, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``/ogc/api``: :func:`openapi30` of the service's document, behind the same gate as every page."""
    _gate(service, user)
    return openapi30(spec)
