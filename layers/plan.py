"""The planner's page (规划编辑): a draft's grids to pick and cut, its findings, balance and impact.

Drawn like the other web maps (:func:`layers.webmap._page`: offline Leaflet, no CDN); the page
script ``plan.js`` calls the draft API (``/api/v1/communities/{code}/drafts/{n}/…``) and reloads
after each operation, so findings, balance and impact shown are always the server's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geo.hierarchy import Hierarchy
from layers.offline import basemap as make_basemap
from layers.webmap import _community, _e, _page, grid_features
from layers.webstyles import js_style


def plan_page(
    h: Hierarchy,
    community_code: str,
    *,
    number: int | None,
    drafts: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
    balance: Mapping[str, Any] | None,
    operations: Sequence[Mapping[str, Any]] = (),
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    user: Mapping[str, Any] | None = None,
) -> str:
    """The page of draft ``number`` (None: no draft yet — the page offers to start one); ``user``:
    the logged-in caller, shown by the shared header."""
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    fc, _ = grid_features(h, community_code, crs=base.overlay_crs)
    label = f"第{number}版（草稿）" if number is not None else "现行版本"
    title = f"{community.name} · 规划编辑 · {label}"
    links = "".join(
        f'<li><a href="?version={int(d["number"])}">第{int(d["number"])}版 草稿</a></li>' for d in drafts
    )
    rows = "".join(
        f'<li class="ww-finding ww-sev-{_e(f.get("severity"))}"><b>{_e(f.get("code"))}</b> '
        f"{_e(f.get('message_zh'))}</li>"
        for f in findings[:200]
    )
    n_err = sum(1 for f in findings if f.get("severity") == "error")
    bal = ""
    if balance is not None:
        out = [*balance.get("below", []), *balance.get("above", [])]
        lo, hi = balance.get("band", (30, 100))
        bal = (
            f'<section id="ww-balance"><h2>户数均衡</h2><p>{int(balance.get("in_band", 0))} / '
            f"{int(balance.get('micro_grids', 0))} 个微网格在 {int(lo)}–{int(hi)} 户之间</p><ul>"
            + "".join(f"<li>{_e(g['code'])} {_e(g['name'])}：{_e(g['households'])} 户</li>" for g in out)
            + "</ul></section>"
        )
    ops = "".join(
        f"<li>{_e(o.get('summary_zh'))}{'（已撤销）' if o.get('undone_at') else ''}</li>" for o in operations
    )
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        '<div id="ww-msg" class="ww-msg" role="status"></div>'
        f'<section><h2>草稿</h2><ul id="ww-drafts">{links or "<li class=ww-muted>无</li>"}</ul>'
        '<button type="button" id="ww-new">由现行版本新建草稿</button></section>'
        '<section id="ww-tools"><h2>操作</h2><p class="ww-hint">点击微网格选中（最多两个）。分割：选中一个，'
        "点“分割”，再在地图上点两点画分割线。</p>"
        '<p>已选：<span id="ww-selected">—</span></p>'
        '<button type="button" id="ww-split">分割</button> <button type="button" id="ww-merge">合并</button> '
        '<button type="button" id="ww-undo">撤销</button> <button type="button" id="ww-publish">发布</button>'
        "</section>"
        f'<section><h2>检查</h2><p id="ww-summary">错误 {n_err} 项，警告 {len(findings) - n_err} 项</p>'
        f'<ol id="ww-findings" class="ww-list">{rows}</ol></section>'
        f"{bal}"
        '<section><h2>发布影响</h2><p id="ww-impact" class="ww-muted">—</p></section>'
        f'<section><h2>操作记录</h2><ol id="ww-ops">{ops}</ol></section>'
    )
    data = {
        "page": "plan",
        "api": "/api/v1",
        "community": {"code": community.code, "name": community.name},
        "draft": number,
        "style": js_style(),
        "grids": fc,
    }
    return _page(
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
