"""The city overview map (``/maps/city``): every community's grids drawn from vector tiles.

Takes data as arguments, like :mod:`layers.webmap`: the communities (code, name, counts, version),
the tile options the page's scripts read (see ``layers/static/tiles.js``) and the caller. The grids
are never embedded — a city of 50,000 micro-grids would be tens of megabytes — so the page is a few
kilobytes whatever the city's size, and the browser fetches only the tiles in view: communities
from zoom 8, general grids from 10, micro-grids from 13 (:data:`api.ops.tiles.ZOOMS`). Clicking a
grid shows its code, name and the people holding its posts (``GET /api/v1/grids/{code}``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from branca.element import CssLink, Element, JavascriptLink, MacroElement
from jinja2 import Template

from layers.header import user_bar
from layers.offline import Basemap, OfflineMap
from layers.webmap import embed_json, with_tile_scripts
from layers.webstyles import js_style


class _Start(MacroElement):
    """Calls ``wwCity(map)`` once the map exists."""

    _template = Template(
        "{% macro script(this, kwargs) %}wwCity({{ this._parent.get_name() }});{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "WwCityStart"


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def city_page(
    communities: Sequence[Mapping[str, Any]],
    *,
    tiles: Mapping[str, Any],
    base: Basemap,
    api_base: str = "/api/v1",
    static_base: str = "/static",
    user: Mapping[str, Any] | None = None,
) -> str:
    """The city overview page. ``communities``: ``code``, ``name``, ``general``, ``micro``,
    ``version`` each; ``tiles``: ``url``, ``zooms``, ``bounds`` ([[south, west], [north, east]]) and
    optionally ``colors`` (general grid code → colour)."""
    root = static_base.rstrip("/")
    (s, w), (n, e) = tiles["bounds"]
    m = OfflineMap(
        location=[(s + n) / 2, (w + e) / 2], zoom_start=12, static_base=static_base, base=base, maxZoom=20
    )
    fig = m.get_root()
    title = "全市网格总览"
    fig.title = title
    fig.header.add_child(Element('<meta name="referrer" content="no-referrer" />'), name="ww_referrer")
    fig.header.add_child(CssLink(f"{root}/weiwang/weiwang.css"), name="ww_css")
    fig.header.add_child(JavascriptLink(f"{root}/weiwang/common.js"), name="ww_common")
    fig.header.add_child(JavascriptLink(f"{root}/weiwang/city.js"), name="ww_page")
    micro = sum(int(c.get("micro") or 0) for c in communities)
    rows = "".join(
        f'<li data-code="{_e(c["code"])}"><a href="/maps/dispatch/{quote(str(c["code"]), safe="")}">'
        f'{_e(c["name"])}</a> <span class="ww-muted">{_e(c.get("micro"))} 个微网格 · '
        f"第{_e(c.get('version'))}版</span></li>"
        for c in communities
    )
    zooms = tiles["zooms"]
    panel = (
        f'<h1 class="ww-title">{title}</h1>'
        f'<p class="ww-hint">{len(communities)} 个社区（村），共 {micro} 个微网格。'
        f"缩放至 {zooms['general'][0]} 级显示一般网格，{zooms['micro'][0]} 级显示微网格；"
        "点击网格查看编码与网格员。</p>"
        '<div id="ww-msg" class="ww-msg" role="status" aria-live="polite"></div>'
        f'<section class="ww-legend"><h2>社区（村）</h2><ul id="ww-communities">{rows}</ul></section>'
    )
    data = {
        "page": "city",
        "title": title,
        "api": api_base.rstrip("/"),
        "static": root,
        "crs": base.overlay_crs,
        "basemap": base.name,
        "style": js_style(),
        "tiles": dict(tiles),
    }
    fig.html.add_child(
        Element(
            f'<aside id="ww-panel" class="ww-panel">{user_bar(user)}{panel}</aside>\n'
            f'<script type="application/json" id="ww-data">{embed_json(data)}</script>'
        ),
        name="ww_panel",
    )
    m.add_child(_Start())
    return with_tile_scripts(fig.render(), root).replace("<html>", '<html lang="zh-CN">', 1)
