"""The planner's page (规划编辑): a draft's grids to pick, cut, merge and re-draw, its findings, balance
table, party coverage and the impact of publishing it.

Drawn like the other web maps (:func:`layers.webmap._page`: offline Leaflet, no CDN) plus the
Leaflet editing plugin leaflet-geoman (npm ``@geoman-io/leaflet-geoman-free``, MIT, vendored in
``layers/static/vendor/leaflet-geoman``; ``scripts/vendor-npm.sh`` re-fetches it). The page script
``plan.js`` calls the draft API (``/api/v1/communities/{code}/drafts/{n}/…``) and, after each
operation, fetches the draft's state (:func:`api.ops.plan.state`, the same dict embedded here as
``state``) and redraws in place, so findings, balance, party coverage and impact shown are always
the server's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geo.hierarchy import Hierarchy, Level
from layers.offline import basemap as make_basemap
from layers.palette import general_colors
from layers.webmap import _community, _e, _geojson, _page
from layers.webstyles import COMMUNITY_COLOR, js_style

#: The vendored leaflet-geoman files, relative to the static base's ``weiwang/`` folder.
GEOMAN_JS = "vendor/leaflet-geoman/leaflet-geoman.min.js"
GEOMAN_CSS = "vendor/leaflet-geoman/leaflet-geoman.css"


def plan_features(h: Hierarchy, community_code: str, *, crs: str = "wgs84") -> dict[str, Any]:
    """The community's grids as the planner's page draws them: a GeoJSON FeatureCollection
    (``code``, ``name``, ``level``, ``kind``, ``households``, ``color`` of the general grid as on the
    printed sheet, ``general``), coordinates in the overlay CRS rounded like the other maps. No
    label placement (the page draws no labels), so it stays cheap enough to send after each
    operation."""
    sub = h.subset(community_code)
    color_of = general_colors(h, community_code)
    features = []
    for g in sorted(sub.grids, key=lambda g: (g.level.depth, g.code)):
        geom = _geojson(g.geometry, crs)
        if geom is None:
            continue
        key = g.parent_code if g.level is Level.MICRO else g.code
        props = {
            "code": g.code,
            "name": g.name,
            "level": g.level.value,
            "kind": g.kind or "",
            "households": g.households,
            "color": COMMUNITY_COLOR if g.level is Level.COMMUNITY else color_of.get(key or "", "#888888"),
            "general": g.parent_code if g.level is Level.MICRO else None,
        }
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _empty_state(h: Hierarchy, community_code: str, crs: str) -> dict[str, Any]:
    micro = [g for g in h.subset(community_code).grids if g.level is Level.MICRO]
    return {
        "grids": plan_features(h, community_code, crs=crs),
        "findings": [],
        "errors": 0,
        "warnings": 0,
        "total": 0,
        "balance": {
            "band": [30, 100],
            "micro_grids": len(micro),
            "in_band": 0,
            "counts": {"below": 0, "above": 0, "ok": 0, "unknown": len(micro)},
            "rows": [],
        },
        "party": {"groups": [], "uncovered": [], "overlap": [], "micro_grids": len(micro)},
        "operations": [],
    }


def _with_geoman(page: str, root: str) -> str:
    """Load leaflet-geoman right after Leaflet (folium writes Leaflet's tag after the page's own
    scripts; ``wwPlan`` runs at the end of the body, once both are loaded)."""
    tag = f'<script src="{root}/leaflet/leaflet.js"></script>'
    if tag not in page:
        raise ValueError("Leaflet is not linked in the page")
    extra = (
        f'\n<script src="{root}/weiwang/{GEOMAN_JS}"></script>'
        f'\n<link rel="stylesheet" href="{root}/weiwang/{GEOMAN_CSS}"/>'
    )
    return page.replace(tag, tag + extra, 1)


def plan_page(
    h: Hierarchy,
    community_code: str,
    *,
    number: int | None,
    drafts: Sequence[Mapping[str, Any]],
    state: Mapping[str, Any] | None = None,
    published: int | None = None,
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    user: Mapping[str, Any] | None = None,
) -> str:
    """The page of draft ``number`` (None: no draft yet — the page offers to start one).

    ``state`` is :func:`api.ops.plan.state` of that draft (grids, findings, balance, party,
    operations; None: the grids of ``h`` with nothing found yet); ``published`` the number of the
    version in force (the diff map's ``from``); ``user``: the logged-in caller, shown by the shared
    header."""
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    if state is None:
        state = _empty_state(h, community_code, base.overlay_crs)
    label = f"第{number}版（草稿）" if number is not None else "现行版本"
    title = f"{community.name} · 规划编辑 · {label}"
    links = "".join(
        f"<li{' class=ww-active' if int(d['number']) == number else ''}>"
        f'<a href="?version={int(d["number"])}">第{int(d["number"])}版 草稿</a>'
        f' <span class="ww-muted">{_e(d.get("author") or "")} '
        f"{_e((d.get('created_at') or '')[:16])}</span></li>"
        for d in drafts
    )
    diff_href = f"/maps/plan/{_e(community.code)}/diff" + (f"?to={int(number)}" if number is not None else "")
    lo, hi = (state.get("balance") or {}).get("band", (30, 100))
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        '<div id="ww-msg" class="ww-msg" role="status"></div>'
        f'<section><h2>草稿</h2><ul id="ww-drafts">{links or "<li class=ww-muted>无</li>"}</ul>'
        '<button type="button" id="ww-new">由现行版本新建草稿</button> '
        f'<a id="ww-diff-link" href="{diff_href}">版本对比地图</a></section>'
        '<section id="ww-tools"><h2>操作</h2><p class="ww-hint">点击微网格选中（最多两个）。'
        "分割：选中一个，点“分割”，在地图上画线穿过它，再点一次最后一点结束。"
        "合并：选中两个相邻的。移动边界：选中两个相邻的，拖动紫色的共用边界后点“应用新边界”。</p>"
        '<p>已选：<span id="ww-selected">—</span></p>'
        '<button type="button" id="ww-split">分割</button> <button type="button" id="ww-merge">合并</button> '
        '<button type="button" id="ww-boundary">移动边界</button> '
        '<button type="button" id="ww-undo">撤销</button>'
        '<p id="ww-boundary-tools" hidden><button type="button" id="ww-boundary-apply">应用新边界</button> '
        '<button type="button" id="ww-boundary-cancel">取消</button></p></section>'
        '<section><h2>发布影响</h2><p id="ww-impact" class="ww-muted">—</p><div id="ww-impact-lists"></div>'
        '<div id="ww-override" hidden><p class="ww-hint">'
        "草稿仍有错误（阻断发布）。如确需发布，请勾选并写明理由：</p>"
        '<label><input type="checkbox" id="ww-override-on"> 强制发布</label><br>'
        '<textarea id="ww-override-reason" rows="2" maxlength="500" placeholder="理由（必填）">'
        "</textarea></div>"
        '<button type="button" id="ww-publish">发布</button></section>'
        '<section><h2>检查</h2><p id="ww-summary">—</p><ol id="ww-findings" class="ww-list"></ol></section>'
        f'<section id="ww-balance"><h2>户数均衡（{int(lo)}–{int(hi)} 户）</h2>'
        '<p id="ww-balance-summary">—</p><details><summary>各微网格户数</summary>'
        '<table class="ww-table"><thead><tr><th>编码</th><th>名称</th><th>户数</th><th>状态</th></tr></thead>'
        '<tbody id="ww-balance-rows"></tbody></table></details></section>'
        '<section id="ww-party"><h2>党组织覆盖（两网融合）</h2><p id="ww-party-summary">—</p>'
        '<table class="ww-table"><thead><tr><th>党小组</th><th>微网格</th></tr></thead>'
        '<tbody id="ww-party-rows"></tbody></table></section>'
        '<section><h2>操作记录</h2><ol id="ww-ops"></ol></section>'
    )
    data = {
        "page": "plan",
        "api": "/api/v1",
        "community": {"code": community.code, "name": community.name},
        "draft": number,
        "published": published,
        "style": js_style(),
        "state": dict(state),
    }
    page = _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="plan.js",
        start="wwPlan",
        static_base=static_base,
        base=base,
        user=user,
    )
    return _with_geoman(page, static_base.rstrip("/"))
