"""The before/after map of two versions of a community (版本对比): both versions drawn, the grids
that were added, removed or changed highlighted, a legend and the list of changes.

Drawn like the other web maps (:func:`layers.webmap._page`: offline Leaflet, no CDN, data in the
``ww-data`` block, every name escaped); the page script ``plandiff.js`` only draws. ``changes`` are
:meth:`geo.diff.GridChange.to_dict` rows (``code``, ``change``, ``level``, ``name``, areas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geo.hierarchy import Hierarchy
from layers.offline import basemap as make_basemap
from layers.webmap import _community, _e, _page, _swatch, grid_features
from layers.webstyles import js_style

#: Colour and zh label of each kind of change (and of the grids that did not change).
CHANGE_STYLE: dict[str, tuple[str, str]] = {
    "added": ("#1a9641", "新增"),
    "removed": ("#d7191c", "删除"),
    "changed": ("#f28e2b", "变更"),
    "same": ("#bdbdbd", "未变"),
}
_LEVEL_ZH = {"community": "社区", "general": "一般网格", "micro": "微网格"}


def _short(code: str) -> str:
    """``001-012`` for an 18-digit micro-grid code (the full code is the cell's title)."""
    return f"{code[12:15]}-{code[15:18]}" if len(code) == 18 and code.isdigit() else code


def _level(c: Mapping[str, Any]) -> str:
    """``（一般网格）`` after the name of a grid that is not a micro-grid."""
    lv = str(c.get("level"))
    return "" if lv == "micro" else f"（{_e(_LEVEL_ZH.get(lv, lv))}）"


def _m2(v: object) -> str:
    return "—" if v is None else f"{float(v):,.0f}"  # type: ignore[arg-type]


def diff_page(
    before: Hierarchy,
    after: Hierarchy,
    community_code: str,
    changes: Sequence[Mapping[str, Any]],
    *,
    before_label: str,
    after_label: str,
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    user: Mapping[str, Any] | None = None,
) -> str:
    """The diff map from ``before`` (e.g. the published version) to ``after`` (e.g. a draft);
    ``user``: the logged-in caller, shown by the shared header."""
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(after, community_code)
    fc_before, _ = grid_features(before, community_code, crs=base.overlay_crs)
    fc_after, _ = grid_features(after, community_code, crs=base.overlay_crs)
    kind_of = {str(c["code"]): str(c["change"]) for c in changes}
    counts = {k: sum(1 for c in changes if c["change"] == k) for k in ("added", "removed", "changed")}
    n_micro = sum(1 for f in fc_after["features"] if f["properties"]["level"] == "micro")
    counts["same"] = n_micro - sum(
        1 for c in changes if c["level"] == "micro" and c["change"] in ("added", "changed")
    )
    title = f"{community.name} · 版本对比 · {before_label} → {after_label}"
    legend = "".join(
        f'<li data-change="{k}">{_swatch(color)}{_e(zh)} <span class="ww-count">{counts[k]}</span></li>'
        for k, (color, zh) in CHANGE_STYLE.items()
    )
    rows = "".join(
        f'<tr data-grid="{_e(c["code"])}" data-change="{_e(c["change"])}" tabindex="0">'
        f'<td style="white-space:nowrap">{_swatch(CHANGE_STYLE.get(str(c["change"]), ("#888", ""))[0])}'
        f"{_e(CHANGE_STYLE.get(str(c['change']), ('', c['change']))[1])}</td>"
        f'<td class="ww-mono" style="white-space:nowrap" title="{_e(c["code"])}">'
        f"{_e(_short(str(c['code'])))}</td>"
        f"<td>{_e(c['name'])}{_level(c)}</td>"
        f'<td class="ww-num">{_m2(c.get("area_before_m2"))} → {_m2(c.get("area_after_m2"))}</td></tr>'
        for c in changes
    )
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        '<div id="ww-msg" class="ww-msg" role="status"></div>'
        f'<p id="ww-diff-summary">新增 {counts["added"]} 个、删除 {counts["removed"]} 个、'
        f"变更 {counts['changed']} 个网格</p>"
        f'<section class="ww-legend" id="ww-legend-diff"><h2>图例</h2><ul>{legend}'
        '<li><span class="ww-line" style="border-top:2px dashed #333"></span>'
        f"{_e(before_label)}边界（虚线）</li></ul>"
        '<p><label><input type="checkbox" id="ww-show-before" checked> 显示前版本</label> '
        '<label><input type="checkbox" id="ww-show-after" checked> 显示后版本</label></p></section>'
        '<section><h2>变化清单</h2><p class="ww-hint">点击一行定位到地图。面积单位：平方米。</p>'
        '<table class="ww-table" id="ww-changes"><thead><tr><th>变化</th><th>编码</th><th>名称</th>'
        "<th>面积（前 → 后）</th></tr></thead>"
        f"<tbody>{rows or '<tr><td colspan=4 class=ww-muted>两个版本相同</td></tr>'}</tbody>"
        "</table></section>"
    )
    data = {
        "page": "plandiff",
        "community": {"code": community.code, "name": community.name},
        "style": js_style(),
        "grids": fc_after,
        "before": fc_before,
        "changes": kind_of,
        "colors": {k: v[0] for k, v in CHANGE_STYLE.items()},
        "labels": {"before": before_label, "after": after_label},
    }
    return _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="plandiff.js",
        start="wwPlanDiff",
        static_base=static_base,
        base=base,
        user=user,
    )
