"""A folium map that draws with no outside request, and the configurable basemaps.

Offline by default: :class:`OfflineMap` replaces folium's CDN links (Leaflet, jQuery, Bootstrap,
FontAwesome) by the app's own copy of Leaflet 1.9.3 from the PyPI package ``xstatic-leaflet``
(``xstatic.pkg.leaflet.BASE_DIR``, served at ``{static_base}/leaflet/``) and has no tile layer.
No folium plugin or ``folium.Icon`` may be added to it (each brings CDN links again);
:func:`external_urls` lists every ``http(s)://`` URL left in a page so tests can prove it.

Basemaps (``basemap=``; the ``WEIWANG_BASEMAP`` setting):

``none`` (default)
    No tiles: grids on a plain background. No request leaves the server's address.
``osm``
    OpenStreetMap standard tiles (``tile.openstreetmap.org``), WGS84 / Web Mercator: our WGS84
    overlays line up. Mind the OSM tile usage policy (light use, attribution).
``tianditu``
    天地图 vector map + Chinese annotation (``vec_w`` + ``cva_w``, Web Mercator) with the key from
    ``WEIWANG_TIANDITU_KEY`` (``tk=``). Tianditu is CGCS2000, within centimetres of WGS84 here, so
    the overlays line up unshifted. Without a key the page falls back to ``none``.
``amap``
    高德 (Amap/Gaode) road tiles. They are in GCJ-02, about 370 m off WGS84 near 兴隆街道, so the
    page shifts *our overlays* into GCJ-02 instead (server side for grids and findings with
    ``geo.crs.from_wgs84(..., "gcj02")``, in the browser for incidents); clicks are sent back with
    ``crs: "gcj02"`` and the API converts them to WGS84 exactly (iterated inverse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import folium
from xstatic.pkg import leaflet as xstatic_leaflet

#: The folder holding leaflet.js, leaflet.css and images/ (served at ``{static_base}/leaflet``).
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)
#: Our own JS/CSS (served at ``{static_base}/weiwang``).
STATIC_DIR = Path(__file__).resolve().parent / "static"

BASEMAPS: tuple[str, ...] = ("none", "osm", "tianditu", "amap")


@dataclass(frozen=True)
class Basemap:
    """Tile layers of a basemap and the CRS our overlays must be drawn in to line up with them."""

    name: str
    label_zh: str
    overlay_crs: str  # "wgs84" or "gcj02"
    tiles: tuple[dict[str, Any], ...] = ()

    @property
    def hosts(self) -> tuple[str, ...]:
        """URL prefixes (up to the path) of the tile servers: the only outside URLs a page may hold."""
        return tuple(t["tiles"].split("/{", 1)[0].split("/", 3)[2] for t in self.tiles)


def basemap(name: str, *, tianditu_key: str = "") -> Basemap:
    """The basemap called ``name`` (one of :data:`BASEMAPS`); unknown names and a Tianditu basemap
    without key give ``none`` (a page must still draw, offline)."""
    if name == "osm":
        return Basemap(
            "osm",
            "OpenStreetMap",
            "wgs84",
            (
                {
                    "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attr": "© OpenStreetMap 贡献者",
                    "max_zoom": 19,
                    "name": "OpenStreetMap",
                },
            ),
        )
    if name == "tianditu" and tianditu_key:
        tk = quote(tianditu_key, safe="")

        def layer(kind: str, label: str) -> dict[str, Any]:
            url = (
                f"https://t{{s}}.tianditu.gov.cn/{kind}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                f"&LAYER={kind}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={tk}"
            )
            return {"tiles": url, "attr": "天地图", "subdomains": "01234567", "max_zoom": 18, "name": label}

        tiles = (layer("vec", "天地图矢量"), layer("cva", "天地图注记"))
        return Basemap("tianditu", "天地图", "wgs84", tiles)
    if name == "amap":
        return Basemap(
            "amap",
            "高德地图",
            "gcj02",
            (
                {
                    "tiles": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                    "&style=8&x={x}&y={y}&z={z}",
                    "attr": "高德地图",
                    "subdomains": "1234",
                    "max_zoom": 18,
                    "name": "高德地图",
                },
            ),
        )
    return Basemap("none", "无底图", "wgs84")


class OfflineMap(folium.Map):
    """``folium.Map`` loading Leaflet (and nothing else) from ``{static_base}/leaflet/``, no tiles.

    The asset lists are set per instance, so other folium maps in the process keep their defaults.
    """

    def __init__(self, *args: Any, static_base: str = "/static", base: Basemap | None = None, **kwargs: Any):
        kwargs["tiles"] = None
        super().__init__(*args, **kwargs)
        root = static_base.rstrip("/")
        self.default_js = [("leaflet", f"{root}/leaflet/leaflet.js")]
        self.default_css = [("leaflet_css", f"{root}/leaflet/leaflet.css")]
        for spec in base.tiles if base else ():
            folium.TileLayer(
                tiles=spec["tiles"],
                attr=spec["attr"],
                name=spec["name"],
                max_zoom=spec.get("max_zoom", 18),
                subdomains=spec.get("subdomains", "abc"),
                overlay=False,
                control=False,
            ).add_to(self)


_URL = re.compile(r"https?://[^\s\"'<>)\\]+", re.IGNORECASE)


def external_urls(page: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Every ``http(s)://`` URL in ``page`` whose host is not in ``allowed`` (tile hosts), sorted."""
    out = set()
    for m in _URL.finditer(page):
        url = m.group(0)
        host = url.split("/", 3)[2] if url.count("/") >= 2 else ""
        if host not in allowed:
            out.add(url)
    return sorted(out)
