"""The three web maps of a community (zh-CN, offline): dispatcher, coverage check, assignment.

Each function takes data as arguments (never the database, never HTTP) and returns one HTML page:

- :func:`dispatch_page` — 事件调度: micro-grids outlined with their codes, general grids coloured
  with a legend, the community outline; incidents loaded by ``dispatch.js`` from the API
  (``GET {api_base}/incidents``), click → form → ``POST {api_base}/incidents``; filters; 督办 list.
- :func:`coverage_page` — 覆盖核查: the :class:`geo.validate.Finding` list drawn, one legend entry
  per kind, the list beside the map (click to zoom). Drafts and published versions alike.
- :func:`assignment_page` — 交办态势: open incidents per micro-grid, 按期结案率 per general grid,
  workload per handler.

How a page is made: an :class:`~layers.offline.OfflineMap` (Leaflet from ``{static_base}/leaflet``,
no tiles unless a basemap is configured), the side panel rendered here with every user string
``html.escape``-d, the data in one ``<script type="application/json" id="ww-data">`` block (``<``,
``>`` and ``&`` written as ``\\u003c`` … so no string can close the tag), and our scripts from
``{static_base}/weiwang/`` drawing the layers with DOM ``textContent`` (never ``innerHTML`` with user
text). Coordinates are rounded to 6 decimals (≈ 0.1 m). With the ``amap`` basemap every overlay is
shifted to GCJ-02 here (see :mod:`layers.offline`).
"""

from __future__ import annotations

import functools
import html
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import shapely
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from jinja2 import Template
from shapely.geometry import LineString, Point, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from geo.crs import from_local_metric, from_wgs84, to_local_metric
from geo.hierarchy import Grid, Hierarchy, Level
from geo.party import PartyArea, party_types
from geo.roles import Post, Role, mask_phone
from geo.validate import FINDING_CODES, Finding
from layers.header import user_bar
from layers.offline import Basemap, OfflineMap
from layers.offline import basemap as make_basemap
from layers.palette import general_colors, translucent
from layers.partystyle import PARTY_LEGEND_TITLE, party_web_style
from layers.webstyles import (
    CATEGORY_SHAPES,
    COMMUNITY_COLOR,
    ONTIME_BINS,
    ONTIME_NONE_COLOR,
    OPEN_BINS,
    STATE_COLORS,
    finding_color,
    js_style,
    ontime_color,
    open_color,
)

#: Finding kinds the coverage legend always lists (the issue's six), even when none was found.
MAIN_FINDINGS: tuple[tuple[str, ...], ...] = (
    ("gap",),
    ("overlap",),
    ("not_inside_parent", "missing_parent", "wrong_parent_level"),
    ("element_outside",),
    ("unstaffed",),
    ("households_out_of_band",),
)
_NESTING_ZH = "嵌套错误"
COORD_DECIMALS = 6
#: On a tiled page (more micro-grids than ``map_tiles_above``), a finding kind with more findings
#: than this is listed without geometry: its count and the first this many codes, each zooming to
#: its grid (a 12,500-grid community's 无人在岗 polygons made an 11 MB page).
FINDINGS_LISTED = 50
#: Scripts of a page drawing its grids from vector tiles (after common.js, before the page's own).
TILE_SCRIPTS = ("vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js", "tiles.js")


# ------------------------------------------------------------------------------------------
# Data prepared for the page
# ------------------------------------------------------------------------------------------


def _shift(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """The geometry in the overlay CRS (``wgs84`` unchanged, ``gcj02`` shifted), rounded."""
    if crs == "gcj02":
        geom = shapely.transform(geom, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], "gcj02")))
    return shapely.transform(geom, lambda xy: np.round(xy, COORD_DECIMALS))


def _geojson(geom: BaseGeometry | None, crs: str) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    return mapping(_shift(geom, crs))


def _largest(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type == "MultiPolygon":
        return max(geom.geoms, key=lambda g: g.area)
    return geom


def _segment(poly: BaseGeometry, p: Point, dx: float, dy: float) -> LineString | None:
    """The piece of the straight line through ``p`` in direction (dx, dy) inside ``poly`` that holds ``p``."""
    minx, miny, maxx, maxy = poly.bounds
    reach = (maxx - minx) + (maxy - miny) + 1.0
    line = LineString([(p.x - dx * reach, p.y - dy * reach), (p.x + dx * reach, p.y + dy * reach)])
    cut = poly.intersection(line)
    parts = [g for g in getattr(cut, "geoms", [cut]) if g.distance(p) < 1e-6 and g.length > 0]
    return max(parts, key=lambda g: g.length) if parts else None


def _chord(poly: BaseGeometry, p: Point, dx: float, dy: float) -> float:
    """Room (m) for a label centred on ``p`` along direction (dx, dy): twice the shorter of the two
    half-chords from ``p``, so a centred label never crosses the boundary."""
    seg = _segment(poly, p, dx, dy)
    if seg is None:
        return 0.0
    (x0, y0), (x1, y1) = seg.coords[0], seg.coords[-1]
    return 2.0 * min(math.hypot(x0 - p.x, y0 - p.y), math.hypot(x1 - p.x, y1 - p.y))


def _centre(poly: BaseGeometry, p: Point) -> Point:
    """Move ``p`` to the middle of its horizontal, then its vertical chord (if still inside)."""
    for dx, dy in ((1.0, 0.0), (0.0, 1.0)):
        seg = _segment(poly, p, dx, dy)
        if seg is not None:
            mid = seg.interpolate(0.5, normalized=True)
            if poly.contains(mid):
                p = Point(mid.x, mid.y)
    return p


def label_fit(geom: BaseGeometry) -> tuple[tuple[float, float], float, float]:
    """Where a grid's label goes and how much room it has: ``((lon, lat), width_m, height_m)``.

    The point is the pole of inaccessibility of the largest part (``polylabel``, 1 m tolerance) moved
    to the middle of its chords; the room is twice the shorter half-chord across and up, in EPSG:4544
    metres, so a label centred there stays inside. The page shows the full
    code when it fits in that room at the current zoom, the short code (``003-007``) when only that
    fits, nothing otherwise.
    """
    poly = _largest(to_local_metric(geom))
    if poly.is_empty or poly.geom_type != "Polygon":
        c = geom.representative_point() if not geom.is_empty else Point(0, 0)
        return (c.x, c.y), 0.0, 0.0
    p = _centre(poly, polylabel(poly, tolerance=1.0))
    w, h = _chord(poly, p, 1.0, 0.0), _chord(poly, p, 0.0, 1.0)
    ll = from_local_metric(p)
    return (ll.x, ll.y), round(w, 1), round(h, 1)


def _staff(posts: Sequence[Post], mask_phones: bool) -> dict[tuple[str, Role], list[list[str]]]:
    """(grid code, role) → [[name, phone shown], …] of the given posts (the caller passes the
    posts in force, :func:`dispatch.routing.posts_on`), by person id."""
    out: dict[tuple[str, Role], list[list[str]]] = {}
    for p in sorted(posts, key=lambda p: p.person_id):
        phone = (mask_phone(p.phone) if mask_phones else p.phone) or ""
        out.setdefault((p.grid_code, p.role), []).append([p.name, phone])
    return out


def short_code(g: Grid) -> str:
    """The last two 3-digit sequences of a micro-grid code (``003-007``), else the code itself."""
    c = g.code
    if g.level is Level.MICRO and len(c) == 18 and c.isdigit():
        return f"{c[12:15]}-{c[15:18]}"
    return c


@functools.lru_cache(maxsize=1 << 12)  # ~3 KB a grid (83 grids: 285 KB): ≤ ~13 MB
def _grid_shape(g: Grid, crs: str) -> tuple[Any, Any]:
    """What :func:`grid_features` derives from a grid's geometry alone: its GeoJSON geometry in
    ``crs`` and, for a micro-grid, its label ``([lon, lat], fw, fh)`` (None otherwise).

    Cached by grid value (a :class:`~geo.hierarchy.Grid` is frozen and hashes its geometry; an
    edited grid is another value): the label fit (polylabel and chords in EPSG:4544) was most of a
    page's server time, ~50 ms of CPU for 83 grids, and ~170 ms more per pyproj transformer the
    first time a worker thread used one. The geometry dict is shared: callers must not change it.
    """
    geom = _geojson(g.geometry, crs)
    if geom is None or g.level is not Level.MICRO:
        return geom, None
    (lon, lat), fw, fh = label_fit(g.geometry)
    if crs == "gcj02":
        lon, lat = (float(v) for v in from_wgs84(lon, lat, "gcj02"))
    return geom, ((round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)), fw, fh)


def grid_features(
    h: Hierarchy,
    community_code: str,
    *,
    crs: str = "wgs84",
    posts: Sequence[Post] = (),
    mask_phones: bool = True,
    micro: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The community's grids as one GeoJSON FeatureCollection plus its general grids' legend rows.

    Feature properties: ``code``, ``name``, ``level``, ``kind``, ``households``, ``color`` (of the
    general grid, by :func:`layers.palette.general_colors`: the printed sheet's colour), ``general``
    (a micro-grid's parent code); micro-grids add ``short`` (short code),
    ``lab`` ([lon, lat] of the label), ``fw``/``fh`` (label room in metres), ``heads``/``workers``
    ([[name, phone], …] of the 微网格长/微网格员 in ``posts``, which the caller limits to the posts in
    force; phones masked when ``mask_phones``).
    ``micro`` False leaves the micro-grids out (a tiled page draws them from ``/tiles``).
    Raises :class:`geo.errors.NotFound` for an unknown community.

    Geometries and label fits are computed once per grid (:func:`_grid_shape`); the properties
    are new dicts on every call (pages add their own figures to them).
    """
    sub = h.subset(community_code)
    community = sub.get(community_code)
    staff = _staff(posts, mask_phones)
    generals = sorted(sub.children(community.code), key=lambda g: g.code)
    color_of = general_colors(h, community.code)
    legend = [
        {
            "code": g.code,
            "name": g.name,
            "kind": g.kind or "",
            "color": color_of.get(g.code, COMMUNITY_COLOR),
            "micro": len(sub.children(g.code)),
        }
        for g in generals
    ]
    features: list[dict[str, Any]] = []
    for g in sorted(sub.grids, key=lambda g: (g.level.depth, g.code)):
        if not micro and g.level is Level.MICRO:
            continue
        geom, label = _grid_shape(g, crs)
        if geom is None:
            continue
        props: dict[str, Any] = {
            "code": g.code,
            "name": g.name,
            "level": g.level.value,
            "kind": g.kind or "",
            "households": g.households,
        }
        if g.level is Level.GENERAL:
            props["color"] = color_of.get(g.code, COMMUNITY_COLOR)
        elif g.level is Level.MICRO:
            lab, fw, fh = label
            props.update(
                general=g.parent_code,
                color=color_of.get(g.parent_code or "", "#888888"),
                short=short_code(g),
                lab=list(lab),
                fw=fw,
                fh=fh,
                heads=staff.get((g.code, Role.MICRO_HEAD), []),
                workers=staff.get((g.code, Role.MICRO_WORKER), []),
            )
        else:
            props["color"] = COMMUNITY_COLOR
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": features}, legend


def embed_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``< > &`` escaped as ``\\u00XX``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ------------------------------------------------------------------------------------------
# Page assembly
# ------------------------------------------------------------------------------------------


class _Start(MacroElement):
    """Calls ``{fn}(map)`` after every other layer of the map has been created."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this.fn }}({{ this._parent.get_name() }});{% endmacro %}"
    )

    def __init__(self, fn: str) -> None:
        super().__init__()
        self._name = "WwStart"
        self.fn = fn


#: Stands for the panel and data block while folium renders the page (:func:`_page`).
_PANEL_MARK = "<!--ww-panel-and-data-->"


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _page(
    *,
    title: str,
    community: Grid,
    panel: str,
    data: dict[str, Any],
    script: str,
    start: str,
    static_base: str,
    base: Basemap,
    user: Mapping[str, Any] | None = None,
    notices: bool = False,
    css: str | None = None,
) -> str:
    """One page: map + panel + data block + our scripts; returns the HTML text. ``user``
    (``username``, ``name``, ``role``): the logged-in caller, shown with 退出登录 at the top of the
    panel by the shared :func:`layers.header.user_bar`; None for an offline snapshot. ``css``: one
    more stylesheet of ours (e.g. ``workspace.css``), linked last in the head."""
    root = static_base.rstrip("/")
    c = _shift(community.geometry.centroid, base.overlay_crs)
    m = OfflineMap(
        location=[c.y, c.x],
        zoom_start=15,
        static_base=static_base,
        base=base,
        maxZoom=20,
        zoomSnap=0.5,
    )
    fig = m.get_root()
    fig.title = _e(title)
    fig.header.add_child(Element('<meta name="referrer" content="no-referrer" />'), name="ww_referrer")
    fig.header.add_child(CssLink(f"{root}/weiwang/weiwang.css"), name="ww_css")
    fig.header.add_child(JavascriptLink(f"{root}/weiwang/common.js"), name="ww_common")
    fig.header.add_child(JavascriptLink(f"{root}/weiwang/{script}"), name="ww_page")
    data = {**data, "title": title, "static": root, "crs": base.overlay_crs, "basemap": base.name}
    # The panel and data go in after folium has rendered, in place of a marker: branca compiles an
    # Element's text as a Jinja template (~4 ms per page for the ~90 KB of data, and "{{ … }}" in a
    # grid's name would have been evaluated).
    fig.html.add_child(Element(_PANEL_MARK), name="ww_panel")
    m.add_child(_Start(start))
    page = fig.render().replace(
        _PANEL_MARK,
        f'<aside id="ww-panel" class="ww-panel">{user_bar(user, notices=notices)}{panel}</aside>\n'
        f'<script type="application/json" id="ww-data">{embed_json(data)}</script>',
        1,
    )
    if data.get("tiles"):  # grids from /tiles (layers/static/tiles.js), not embedded
        page = with_tile_scripts(page, root)
    if css:
        page = page.replace("</head>", f'<link rel="stylesheet" href="{_e(root)}/weiwang/{css}">\n</head>', 1)
    return page.replace("<html>", '<html lang="zh-CN">', 1)


def with_tile_scripts(page: str, root: str) -> str:
    """Load :data:`TILE_SCRIPTS` right after Leaflet (folium writes Leaflet's tag after the page's
    own scripts, and VectorGrid extends ``L`` when it loads)."""
    tag = f'<script src="{root}/leaflet/leaflet.js"></script>'
    if tag not in page:
        raise ValueError("Leaflet is not linked in the page")
    extra = "".join(f'\n<script src="{root}/weiwang/{js}"></script>' for js in TILE_SCRIPTS)
    return page.replace(tag, tag + extra, 1)


def _swatch(color: str, cls: str = "ww-swatch") -> str:
    return f'<span class="{cls}" style="background:{_e(color)}"></span>'


def _general_legend(rows: Sequence[Mapping[str, Any]], community: Grid) -> str:
    items = "".join(
        f'<li data-code="{_e(r["code"])}">{_swatch(translucent(r["color"]))}'
        f'<span class="ww-name">{_e(r["name"])}</span> '
        f'<span class="ww-muted">{_e(r["micro"])} 个微网格</span></li>'
        for r in rows
    )
    return (
        '<section class="ww-legend" id="ww-legend-grids"><h2>网格图例</h2><ul>'
        f'<li>{_swatch(COMMUNITY_COLOR, "ww-line")}<span class="ww-name">{_e(community.name)}</span>'
        ' <span class="ww-muted">社区边界</span></li>'
        f"{items}"
        '<li><span class="ww-line ww-thin"></span>微网格（标注微网格编码）</li></ul></section>'
    )


def _community(h: Hierarchy, community_code: str) -> Grid:
    return h.subset(community_code).get(community_code)


def dispatch_page(
    h: Hierarchy,
    community_code: str,
    *,
    posts: Sequence[Post],
    mask_phones: bool,
    api_base: str = "/api/v1",
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    incidents: Sequence[dict] | None = None,
    login_url: str = "/maps/login",
    can_report: bool = True,
    user: Mapping[str, Any] | None = None,
    tiles: Mapping[str, Any] | None = None,
) -> str:
    """The dispatcher's page (事件调度) for one community. ``can_report`` False (viewers, planners):
    no report form and no "click to report" hint.

    ``incidents`` None (the default): ``dispatch.js`` loads them from
    ``GET {api_base}/incidents?community=CODE&limit=5000`` with the bearer token from
    ``localStorage["weiwang_token"]``; a list (incident JSON as the API returns it) is embedded
    instead, for an offline snapshot. Phones of 微网格长/微网格员 are masked when ``mask_phones``.
    """
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    fc, generals = grid_features(
        h, community_code, crs=base.overlay_crs, posts=posts, mask_phones=mask_phones, micro=tiles is None
    )
    states = "".join(
        f'<li><label><input type="checkbox" class="ww-f-state" value="{_e(s)}" checked>'
        f"{_swatch(c, 'ww-dot')}{_e(s)}</label></li>"
        for s, c in STATE_COLORS.items()
    )
    cats = "".join(
        f'<li><label><input type="checkbox" class="ww-f-cat" value="{_e(k)}" checked>'
        f'<span class="ww-mk ww-shape-{_e(v)}"></span>{_e(k)}</label></li>'
        for k, v in CATEGORY_SHAPES.items()
    )
    title = f"{community.name} · 事件调度"
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        + (
            '<p class="ww-hint">点击地图任意位置上报事件；将鼠标移到微网格上查看网格长和网格员。</p>'
            if can_report
            else '<p class="ww-hint">将鼠标移到微网格上查看网格长和网格员。</p>'
        )
        + '<div id="ww-msg" class="ww-msg" role="status" aria-live="polite"></div>'
        f"{_general_legend(generals, community)}"
        '<section class="ww-filters"><h2>筛选</h2>'
        f'<div class="ww-cols"><div><h3>事件状态</h3><ul id="ww-states">{states}</ul></div>'
        f'<div><h3>事件类别</h3><ul id="ww-cats">{cats}</ul></div></div>'
        '<p class="ww-muted">显示 <span id="ww-count">0</span> / <span id="ww-total">0</span> 件事件</p>'
        "</section>"
        '<section class="ww-supervision"><h2>督办清单</h2>'
        '<ol id="ww-supervision" class="ww-list"><li class="ww-muted">加载中…</li></ol></section>'
    )
    data = {
        "page": "dispatch",
        "community": {"code": community.code, "name": community.name},
        "api": api_base.rstrip("/"),
        "login": login_url,
        "maskPhones": bool(mask_phones),
        "canReport": bool(can_report),
        "style": js_style(),
        "categories": list(CATEGORY_SHAPES),
        "states": list(STATE_COLORS),
        "grids": fc,
        "incidents": list(incidents) if incidents is not None else None,
        "tiles": dict(tiles) if tiles else None,
    }
    return _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="dispatch.js",
        start="wwDispatch",
        static_base=static_base,
        base=base,
        user=user,
    )


def _finding_kind(code: str) -> tuple[str, str]:
    """(legend key, zh title) of a finding code; the three nesting codes share one entry."""
    for group in MAIN_FINDINGS:
        if code in group and len(group) > 1:
            return group[0], _NESTING_ZH
    return code, FINDING_CODES.get(code, ("", code, code))[1]


def party_collection(party: Sequence[PartyArea], crs: str = "wgs84") -> dict[str, Any]:
    """Party organisations as a GeoJSON FeatureCollection for the page: ``code``, ``name``,
    ``type``, ``kind``, ``parent_code``, ``grids`` (how many it names) and the kind's ``color``,
    ``weight``, ``dash``. Organisations with no area in the version are left out."""
    feats = []
    for a in party:
        geom = _geojson(a.geometry, crs)
        if geom is None:
            continue
        st = party_web_style(a.kind)
        props = {
            "code": a.code,
            "name": a.name,
            "type": a.type,
            "kind": a.kind,
            "parent_code": a.parent_code,
            "grids": len(a.grid_codes),
            "color": st["color"],
            "weight": st["weight"],
            "dash": st["dash"],
        }
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _party_legend(party: Sequence[PartyArea]) -> str:
    """The party layer's legend: one toggle per type (with its count), then each organisation."""
    if not party:
        return ""
    rows = "".join(
        f'<li><label><input type="checkbox" class="ww-f-party" value="{_e(t)}" checked>'
        '<svg class="ww-party-key" width="24" height="10" aria-hidden="true">'
        '<line x1="0" y1="5" x2="24" y2="5" '
        f'stroke="{_e(party_web_style(k)["color"])}" stroke-width="{_e(party_web_style(k)["weight"])}" '
        f'stroke-dasharray="{_e(party_web_style(k)["dash"])}"/></svg>'
        f'{_e(t)} <span class="ww-count">{n}</span></label></li>'
        for t, k, n in party_types(party)
    )
    orgs = "".join(
        f'<li data-party="{_e(a.code)}" data-type="{_e(a.type)}"><span class="ww-name">{_e(a.name)}</span> '
        f'<span class="ww-muted">{_e(a.type)} · {len(a.grid_codes)} 个网格</span></li>'
        for a in party
    )
    return (
        f'<section class="ww-legend" id="ww-legend-party"><h2>{_e(PARTY_LEGEND_TITLE)}</h2>'
        '<p class="ww-hint">虚线为各党组织覆盖的网格范围；勾选以显示或隐藏。</p>'
        f"<ul>{rows}</ul><details><summary>党组织名单（{len(party)} 个）</summary>"
        f'<ol id="ww-party-list" class="ww-list">{orgs}</ol></details></section>'
    )


def _finding_group(
    h: Hierarchy, title: str, key: str, found: Sequence[Finding], *, listed: int, crs: str
) -> str:
    """One list item for the many findings of one kind on a tiled page: title, severity, count,
    the first ``listed`` codes (grids, else elements) as items carrying their box
    (``data-bbox="west,south,east,north"`` in the overlay CRS: a click zooms there, no geometry
    embedded) and how many more there are."""
    codes = []
    for f in found[:listed]:
        where = "、".join(f.grids + f.elements) or f.code
        geom = f.geometry
        if (geom is None or geom.is_empty) and f.grids and f.grids[0] in h:
            geom = h.get(f.grids[0]).geometry
        bbox = ""
        if geom is not None and not geom.is_empty:
            bbox = ",".join(f"{v:.{COORD_DECIMALS}f}" for v in _shift(geom, crs).bounds)
        codes.append(
            f'<li class="ww-finding-code ww-mono" data-code="{_e(f.grids[0] if f.grids else "")}"'
            f' data-bbox="{bbox}" tabindex="0">{_e(where)}</li>'
        )
    more = len(found) - len(codes)
    sev = found[0].severity
    return (
        f'<li class="ww-finding-group ww-sev-{_e(sev)}" data-kind="{_e(key)}" data-count="{len(found)}">'
        f"{_swatch(finding_color(key))}<b>{_e(title)}</b> "
        f'<span class="ww-badge">{"错误" if sev == "error" else "警告"}</span> '
        f'<span class="ww-count">{len(found)}</span> 项'
        '<div class="ww-muted">数量较多，地图上不逐一绘出；点击编码定位。</div>'
        f'<ul class="ww-codes">{"".join(codes)}</ul>'
        + (f'<div class="ww-muted ww-more">以及另外 {more} 项（and {more} more）</div>' if more else "")
        + "</li>"
    )


def coverage_page(
    h: Hierarchy,
    community_code: str,
    findings: Sequence[Finding],
    *,
    version_label: str,
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    user: Mapping[str, Any] | None = None,
    party: Sequence[PartyArea] = (),
    tiles: Mapping[str, Any] | None = None,
    api_base: str = "/api/v1",
    listed: int = FINDINGS_LISTED,
) -> str:
    """The coverage check (覆盖核查) of one version of a community: findings drawn and listed.

    ``version_label`` is shown in the title as given (e.g. ``第3版（草稿）``). Each finding with a
    geometry is drawn in its kind's colour and can be zoomed to from the list; the six kinds of
    :data:`MAIN_FINDINGS` always have a legend entry (count 0 when clean). ``party``: the party
    organisations' areas (两网融合, :func:`geo.party.party_areas`), drawn as a layer of their own
    with a legend row per type that toggles it (:func:`party_collection`).

    ``tiles`` (the micro-grids come from ``/tiles``): a kind with more than ``listed`` findings is
    not drawn; it is listed as one group (:func:`_finding_group`): its count and its first
    ``listed`` codes, each zooming to its grid. Kinds with fewer (gaps, overlaps) are drawn as
    usual. ``api_base``: where a click on a tiled micro-grid asks for its card.
    """
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    fc, generals = grid_features(h, community_code, crs=base.overlay_crs, micro=tiles is None)
    counts: dict[str, int] = {}
    titles: dict[str, str] = {}
    for key, zh in (_finding_kind(g[0]) for g in MAIN_FINDINGS):
        counts[key], titles[key] = 0, zh
    per_kind = Counter(_finding_kind(f.code)[0] for f in findings)
    grouped: dict[str, list[Finding]] = {k: [] for k, n in per_kind.items() if tiles and n > listed}
    feats: list[dict[str, Any]] = []
    rows: list[str] = []
    for i, f in enumerate(findings):
        key, zh = _finding_kind(f.code)
        counts[key] = counts.get(key, 0) + 1
        titles.setdefault(key, zh)
        if key in grouped:
            grouped[key].append(f)
            continue
        color = finding_color(key)
        geom = _geojson(f.geometry, base.overlay_crs)
        if geom is not None:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": geom,
                    "properties": {
                        "i": i,
                        "kind": key,
                        "code": f.code,
                        "title": zh,
                        "severity": f.severity,
                        "message": f.message_zh,
                        "grids": list(f.grids),
                        "elements": list(f.elements),
                        "area": None if f.area_m2 is None else round(f.area_m2, 1),
                        "color": color,
                    },
                }
            )
        sev = "错误" if f.severity == "error" else "警告"
        where = "、".join(f.grids + f.elements)
        rows.append(
            f'<li class="ww-finding ww-sev-{_e(f.severity)}" data-i="{i}" data-kind="{_e(key)}"'
            f'{" data-geom" if geom is not None else ""} tabindex="0">'
            f'{_swatch(color)}<b>{_e(zh)}</b> <span class="ww-badge">{sev}</span>'
            f'<div class="ww-msgtext">{_e(f.message_zh)}</div>'
            f'<div class="ww-muted">{_e(where)}</div></li>'
        )
    rows += [
        _finding_group(h, titles[k], k, fs, listed=listed, crs=base.overlay_crs) for k, fs in grouped.items()
    ]
    legend = "".join(
        f'<li class="{"ww-zero" if counts[k] == 0 else ""}"><label>'
        f'<input type="checkbox" class="ww-f-kind" value="{_e(k)}" checked>'
        f'{_swatch(finding_color(k))}{_e(titles[k])} <span class="ww-count">{counts[k]}</span></label></li>'
        for k in counts
    )
    title = f"{community.name} · 覆盖核查 · {version_label}"
    n_err = sum(1 for f in findings if f.severity == "error")
    summary = (
        f"共 {len(findings)} 项问题（错误 {n_err} 项，警告 {len(findings) - n_err} 项）"
        if findings
        else "未发现问题：横向到边、纵向到底。"
    )
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        f'<p class="ww-summary" id="ww-summary">{_e(summary)}</p>'
        '<div id="ww-msg" class="ww-msg" role="status"></div>'
        f'<section class="ww-legend" id="ww-legend-findings"><h2>问题类型</h2><ul>{legend}</ul></section>'
        f"{_general_legend(generals, community)}"
        f"{_party_legend(party)}"
        '<section><h2>问题清单</h2><p class="ww-hint">点击条目定位到地图。</p>'
        f'<ol id="ww-findings" class="ww-list">{"".join(rows) or "<li class=ww-muted>无</li>"}</ol></section>'
    )
    data = {
        "page": "coverage",
        "community": {"code": community.code, "name": community.name},
        "api": api_base.rstrip("/"),
        "version": version_label,
        "style": js_style(),
        "grids": fc,
        "findings": {"type": "FeatureCollection", "features": feats},
        "party": party_collection(party, base.overlay_crs),
        "tiles": dict(tiles) if tiles else None,
    }
    return _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="coverage.js",
        start="wwCoverage",
        static_base=static_base,
        base=base,
        user=user,
    )


def _open_bin_labels() -> list[tuple[str, str]]:
    """Legend text of each open-incident class: ``0 件``, ``1–2 件`` … ``10 件以上``."""
    out = []
    for i, (lo, c) in enumerate(OPEN_BINS):
        if i == len(OPEN_BINS) - 1:
            out.append((f"{lo} 件以上", c))
        else:
            hi = OPEN_BINS[i + 1][0] - 1
            out.append((f"{lo} 件" if hi == lo else f"{lo}–{hi} 件", c))
    return out


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def assignment_page(
    h: Hierarchy,
    community_code: str,
    *,
    open_by_micro: Mapping[str, int],
    workload: Sequence[dict],
    ontime_by_general: Mapping[str, float | None],
    total_open: int | None = None,
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    user: Mapping[str, Any] | None = None,
    tiles: Mapping[str, Any] | None = None,
    api_base: str = "/api/v1",
) -> str:
    """The assignment picture (交办态势) of one community.

    ``open_by_micro``: micro-grid code → open incidents (missing = 0). ``ontime_by_general``:
    general grid code → 按期结案率 in [0, 1] or None (nothing due). ``workload``: one dict per
    handler with ``name``, ``role``, ``grid_code``, ``open``, ``overdue`` (and optional
    ``person_id``, ``grid_name``), listed in the order given. ``total_open``: every open incident
    of the community (default: the sum of ``open_by_micro``); the caller makes ``workload`` add
    up to it, so the panel's total and its table agree. ``api_base``: where a click on a tiled
    micro-grid asks for its card.
    """
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    fc, generals = grid_features(h, community_code, crs=base.overlay_crs, micro=tiles is None)
    if tiles:  # micro-grids come from /tiles: their figures travel beside them, by code
        tiles = {
            **tiles,
            "extra": {c: {"open": int(n), "openColor": open_color(int(n))} for c, n in open_by_micro.items()},
            "extraDefault": {"open": 0, "openColor": open_color(0)},
        }
    names = {f["properties"]["code"]: f["properties"]["name"] for f in fc["features"]}
    for f in fc["features"]:
        p = f["properties"]
        if p["level"] == "micro":
            n = int(open_by_micro.get(p["code"], 0))
            p["open"], p["openColor"] = n, open_color(n)
        elif p["level"] == "general":
            rate = ontime_by_general.get(p["code"])
            p["ontime"] = None if rate is None else round(float(rate), 4)
            p["ontimeText"], p["ontimeColor"] = _pct(rate), ontime_color(rate)
    open_legend = "".join(f"<li>{_swatch(c)}{_e(text)}</li>" for text, c in _open_bin_labels())
    ontime_legend = (
        "".join(f"<li>{_swatch(c)}≥ {lo * 100:.0f}%</li>" for lo, c in reversed(ONTIME_BINS))
        + f"<li>{_swatch(ONTIME_NONE_COLOR)}无应结案件</li>"
    )
    gen_rows = "".join(
        f'<tr data-grid="{_e(g["code"])}" tabindex="0">'
        f"<td>{_swatch(ontime_color(ontime_by_general.get(g['code'])))}"
        f'{_e(g["name"])}</td><td class="ww-num">{_pct(ontime_by_general.get(g["code"]))}</td></tr>'
        for g in generals
    )
    work_rows = "".join(
        f'<tr data-grid="{_e(w.get("grid_code") or "")}" tabindex="0"><td>{_e(w.get("name"))}</td>'
        f"<td>{_e(w.get('role'))}</td>"
        f"<td>{_e(w.get('grid_name') or names.get(w.get('grid_code') or '', w.get('grid_code') or ''))}</td>"
        f'<td class="ww-num">{_e(w.get("open", 0))}</td>'
        f'<td class="ww-num">{_e(w.get("overdue", 0))}</td></tr>'
        for w in workload
    )
    if total_open is None:
        total_open = sum(int(v) for v in open_by_micro.values())
    title = f"{community.name} · 交办态势"
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        f'<p class="ww-summary">未结事件共 {total_open} 件。</p>'
        "<section><h2>专题</h2>"
        '<label><input type="radio" name="ww-theme" value="open" checked> 各微网格未结事件数</label><br>'
        '<label><input type="radio" name="ww-theme" value="ontime"> 各一般网格按期结案率</label></section>'
        '<section class="ww-legend" id="ww-legend-open"><h2>未结事件（件）</h2>'
        f"<ul>{open_legend}</ul></section>"
        '<section class="ww-legend ww-hidden" id="ww-legend-ontime"><h2>按期结案率</h2>'
        f"<ul>{ontime_legend}</ul>"
        '<p class="ww-muted">按期结案率 = 按期结案数 ÷（应结案数 − 缓办数），目标 ≥ 70%。</p></section>'
        '<section><h2>一般网格按期结案率</h2><table class="ww-table" id="ww-ontime">'
        f"<thead><tr><th>网格</th><th>按期结案率</th></tr></thead><tbody>{gen_rows}</tbody></table></section>"
        '<section><h2>处置人工作量</h2><table class="ww-table" id="ww-workload"><thead><tr><th>处置人</th>'
        "<th>角色</th><th>网格</th><th>未结</th><th>超期</th></tr></thead>"
        f"<tbody>{work_rows or '<tr><td colspan=5 class=ww-muted>暂无</td></tr>'}</tbody></table></section>"
    )
    data = {
        "page": "assignment",
        "community": {"code": community.code, "name": community.name},
        "api": api_base.rstrip("/"),
        "style": js_style(),
        "grids": fc,
        "tiles": dict(tiles) if tiles else None,
    }
    return _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="assignment.js",
        start="wwAssignment",
        static_base=static_base,
        base=base,
        user=user,
    )


def login_page(*, api_base: str = "/api/v1", static_base: str = "/static", next_url: str = "") -> str:
    """The small zh-CN login form of the map pages: ``login.js`` posts to
    ``{api_base}/auth/login``, keeps the token in ``localStorage["weiwang_token"]`` and in the
    ``weiwang_token`` cookie (SameSite=Strict), then goes to ``next_url`` (same-site paths only)."""
    root = static_base.rstrip("/")
    cfg = embed_json({"api": api_base.rstrip("/"), "next": next_url})
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        "<title>登录 · 微网实格</title>\n"
        f'<link rel="stylesheet" href="{_e(root)}/weiwang/weiwang.css">\n'
        f'<script src="{_e(root)}/weiwang/login.js" defer></script>\n</head>\n<body>\n'
        '<form class="ww-login" id="ww-login">\n<h1 class="ww-title">微网实格 · 登录</h1>\n'
        '<label for="ww-username">用户名</label>\n'
        '<input id="ww-username" name="username" autocomplete="username" required>\n'
        '<label for="ww-password">密码</label>\n'
        '<input id="ww-password" name="password" type="password" autocomplete="current-password" required>\n'
        '<button class="ww-btn" type="submit">登录</button>\n'
        '<div id="ww-msg" class="ww-msg" role="status"></div>\n</form>\n'
        f'<script type="application/json" id="ww-data">{cfg}</script>\n</body>\n</html>\n'
    )


def index_page(
    communities: Sequence[Mapping[str, Any]],
    *,
    static_base: str = "/static",
    user: Mapping[str, Any] | None = None,
) -> str:
    """The list of communities with links to their maps and printable sheets (``/maps/``).

    Each item: ``code``, ``name``, ``general`` and ``micro`` counts, ``general_kind`` (一般网格 or
    专属网格) and ``version`` (the published version's number)."""
    root = static_base.rstrip("/")
    rows = []
    for c in communities:
        code = quote(str(c["code"]), safe="")
        links = (
            f'<a href="/maps/incidents/{code}">事件办理</a>'
            f'<a href="/maps/dispatch/{code}">事件调度</a>'
            f'<a href="/maps/coverage/{code}">覆盖核查</a>'
            f'<a href="/maps/assignment/{code}">交办态势</a>'
            f'<a href="/maps/stats/{code}">考核看板</a>'
            f'<a href="/maps/print/{code}.pdf?paper=A3">分布图 A3 PDF</a>'
            f'<a href="/maps/print/{code}.pdf?paper=A3&amp;all_pages=true">分网格多页 PDF</a>'
        )
        rows.append(
            f'<tr><td>{_e(c["name"])}<br><span class="ww-muted">{_e(c["code"])}</span></td>'
            f"<td>{_e(c['general'])} 个{_e(c.get('general_kind') or '一般网格')}，"
            f"{_e(c['micro'])} 个微网格</td>"
            f"<td>第{_e(c.get('version'))}版</td><td>{links}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="4" class="ww-muted">尚无已发布的网格</td></tr>'
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n<title>网格地图 · 微网实格</title>\n'
        f'<link rel="stylesheet" href="{_e(root)}/weiwang/weiwang.css">\n</head>\n<body>\n'
        f'<main class="ww-index">\n{user_bar(user)}\n<h1 class="ww-title">微网实格 · 网格地图</h1>\n'
        '<p class="ww-hint">选择社区（村）查看事件调度地图、覆盖核查、交办态势，或打印微网格分布图。'
        ' <a href="/maps/city">全市网格总览</a> <a href="/docs">接口文档</a></p>\n'
        "<table><thead><tr><th>社区（村）</th><th>网格</th><th>版本</th><th>地图</th></tr></thead>\n"
        f"<tbody>{body}</tbody></table>\n</main>\n</body>\n</html>\n"
    )
