"""The incident workspace pages (zh-CN, offline): the dispatchers' queue and the grid workers' phone page.

Like :mod:`layers.webmap`, each function takes plain data and returns one HTML page; every user
string is escaped here or reaches the DOM through ``textContent`` in the page scripts, the data sits
in one ``<script type="application/json" id="ww-data">`` block, and assets come from this origin.

- :func:`queue_page` — 事件办理: the list of a community's incidents (filters, sort, coloured time
  left) beside the map, and the detail panel with the history and one button per action the user
  may take (``queue.js``).
- :func:`mobile_page` — 网格员手机页 ``/m/``: 我的待办, the detail with 开始处置 / 反馈, 上报 from
  the phone's position, notices (``mobile.js``); no map, so nothing scrolls sideways at 390 px.

"Logged in as" and 退出登录 come from the shared :func:`layers.header.user_bar`, as on every page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from geo.hierarchy import Hierarchy
from geo.roles import Post
from layers.header import user_bar
from layers.offline import basemap as make_basemap
from layers.webmap import _community, _e, _page, embed_json, grid_features
from layers.webstyles import CATEGORY_SHAPES, STATE_COLORS, js_style

#: Action key → button label (exactly as the issue names them).
ACTION_LABELS: dict[str, str] = {
    "accept": "受理",
    "assign": "交办",
    "start": "开始处置",
    "feedback": "反馈",
    "verify_pass": "核查通过",
    "verify_fail": "核查不通过",
    "defer": "缓办",
    "resume": "恢复",
    "merge": "合并",
    "void": "作废",
    "reclassify": "改类",
    "supervise": "督办",
}


def _options(values: Sequence[str], placeholder: str) -> str:
    return f'<option value="">{_e(placeholder)}</option>' + "".join(
        f'<option value="{_e(v)}">{_e(v)}</option>' for v in values
    )


def queue_page(
    h: Hierarchy,
    community_code: str,
    *,
    user: Mapping[str, Any],
    people: Sequence[Post],
    can_report: bool,
    mask_phones: bool,
    api_base: str = "/api/v1",
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
    poll_ms: int = 1000,
) -> str:
    """The 事件办理 page of one community: list + map + detail panel.

    ``people``: the posts in force (the 交办 and 督办 forms offer them). ``user``: ``username``,
    ``role``, ``name``. ``can_report``: whether the report form is offered (a click on the map).
    """
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    fc, _generals = grid_features(
        h, community_code, crs=base.overlay_crs, posts=people, mask_phones=mask_phones
    )
    micro = sorted(
        (f["properties"]["code"], f["properties"]["name"])
        for f in fc["features"]
        if f["properties"]["level"] == "micro"
    )
    grid_opts = '<option value="">全部网格</option>' + "".join(
        f'<option value="{_e(c)}">{_e(n)}（{_e(c)}）</option>' for c, n in micro
    )
    title = f"{community.name} · 事件办理"
    hint = (
        '<p class="ww-hint">点击地图任意位置上报事件；点击列表或地图上的事件查看详情和办理。</p>'
        if can_report
        else '<p class="ww-hint">点击列表或地图上的事件查看详情。</p>'
    )
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>{hint}'
        f'<p class="ww-muted"><a href="/maps/stats/{quote(community.code, safe="")}">考核看板</a> · '
        f'<a href="/maps/dispatch/{quote(community.code, safe="")}">事件调度地图</a></p>'
        '<div id="ww-msg" class="ww-msg" role="status" aria-live="polite"></div>'
        '<section class="ww-qfilters" id="ww-qfilters"><h2>筛选</h2>'
        f'<label>状态<select id="ww-q-state">{_options(list(STATE_COLORS), "全部状态")}</select></label>'
        f'<label>类别<select id="ww-q-cat">{_options(list(CATEGORY_SHAPES), "全部类别")}</select></label>'
        f'<label>网格<select id="ww-q-grid">{grid_opts}</select></label>'
        '<label>处置人<select id="ww-q-handler"><option value="">全部处置人</option></select></label>'
        '<label><input type="checkbox" id="ww-q-overdue"> 只看超期</label>'
        '<label>上报自<input type="date" id="ww-q-from"></label>'
        '<label>至<input type="date" id="ww-q-to"></label>'
        '<p class="ww-muted">显示 <span id="ww-q-count">0</span> / <span id="ww-q-total">0</span> 件</p>'
        "</section>"
        '<section><h2>事件列表</h2><div class="ww-qwrap">'
        '<table class="ww-table ww-queue" id="ww-queue"><thead><tr>'
        '<th data-sort="id">编号</th><th data-sort="category">类别</th><th data-sort="micro">微网格</th>'
        '<th data-sort="handler">处置人</th><th data-sort="state">状态</th>'
        '<th data-sort="deadline">时限</th></tr></thead><tbody></tbody></table></div></section>'
        '<section id="ww-detail" class="ww-detail"><h2>事件详情</h2>'
        '<p class="ww-muted">选择一件事件。</p></section>'
        '<section id="notices"><h2>通知</h2><ol id="ww-notices" class="ww-list"></ol></section>'
    )
    data = {
        "page": "queue",
        "community": {"code": community.code, "name": community.name},
        "api": api_base.rstrip("/"),
        "login": "/maps/login",
        "user": dict(user),
        "canReport": bool(can_report),
        "maskPhones": bool(mask_phones),
        "style": js_style(),
        "categories": list(CATEGORY_SHAPES),
        "states": list(STATE_COLORS),
        "actions": ACTION_LABELS,
        "people": [
            {"person_id": p.person_id, "name": p.name, "role": p.role.value, "grid_code": p.grid_code}
            for p in sorted(people, key=lambda p: (p.grid_code, p.role.value, p.person_id))
        ],
        "microNames": dict(micro),
        "pollMs": int(poll_ms),
        "grids": fc,
    }
    return _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="queue.js",
        start="wwQueue",
        static_base=static_base,
        base=base,
        user=user,
        notices=True,
        css="workspace.css",
    )


def mobile_page(
    *,
    user: Mapping[str, Any],
    can_report: bool,
    api_base: str = "/api/v1",
    static_base: str = "/static",
) -> str:
    """The grid worker's phone page ``/m/``: 我的待办 (overdue first), detail with 开始处置 / 反馈,
    上报 from the browser's geolocation (WGS84, a 定位 button), notices. No map and no
    "click anywhere" hint: a phone reports where it stands."""
    root = _e(static_base.rstrip("/"))
    cfg = embed_json(
        {
            "page": "mobile",
            "api": api_base.rstrip("/"),
            "login": "/maps/login",
            "user": dict(user),
            "canReport": bool(can_report),
            "categories": list(CATEGORY_SHAPES),
            "actions": ACTION_LABELS,
        }
    )
    report = (
        '<section id="ww-m-report" class="ww-m-tab ww-hidden"><h2>上报事件</h2>'
        '<form id="ww-m-form" class="ww-form">'
        '<label for="ww-m-category">事件类别</label>'
        f'<select id="ww-m-category" required>{_options(list(CATEGORY_SHAPES), "请选择")}</select>'
        '<label for="ww-m-description">事件描述</label>'
        '<textarea id="ww-m-description" rows="4" required '
        'placeholder="请描述事件情况"></textarea>'
        '<label for="ww-m-address">地址或地标（可选）</label>'
        '<input id="ww-m-address">'
        '<label><input type="checkbox" id="ww-m-urgent"> 紧急</label>'
        '<label for="ww-m-report-photos">现场照片（可选，最多 3 张，每张 ≤ 5 MB）</label>'
        '<input type="file" id="ww-m-report-photos" accept="image/jpeg,image/png,image/webp" multiple>'
        '<div class="ww-m-loc">'
        '<button type="button" class="ww-btn ww-btn-2" id="ww-m-locate">定位我的位置</button>'
        ' <span id="ww-m-pos" class="ww-muted">尚未定位</span></div>'
        '<div class="ww-form-row"><button type="submit" class="ww-btn" id="ww-m-submit">上报</button></div>'
        '<div class="ww-form-status" id="ww-m-status" role="status"></div></form></section>'
        if can_report
        else ""
    )
    tabs = (
        '<nav class="ww-m-tabs"><button type="button" data-tab="ww-m-todo" class="ww-on">我的待办</button>'
        + ('<button type="button" data-tab="ww-m-report">上报</button>' if can_report else "")
        + '<button type="button" data-tab="ww-m-notices">通知</button></nav>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n<title>我的待办 · 微网实格</title>\n'
        f'<link rel="stylesheet" href="{root}/weiwang/weiwang.css">\n'
        f'<link rel="stylesheet" href="{root}/weiwang/workspace.css">\n'
        f'<script src="{root}/weiwang/common.js" defer></script>\n'
        f'<script src="{root}/weiwang/mobile.js" defer></script>\n</head>\n<body class="ww-m">\n'
        f"{user_bar(user, notices=True)}\n{tabs}\n"
        '<div id="ww-msg" class="ww-msg" role="status" aria-live="polite"></div>\n'
        '<section id="ww-m-todo" class="ww-m-tab"><h2>我的待办</h2>'
        '<ol id="ww-m-list" class="ww-m-list"><li class="ww-muted">加载中…</li></ol></section>\n'
        '<section id="ww-m-detail" class="ww-m-tab ww-hidden"></section>\n'
        f"{report}\n"
        '<section id="ww-m-notices" class="ww-m-tab ww-hidden"><h2>通知</h2>'
        '<ol id="ww-notices" class="ww-list"></ol></section>\n'
        f'<script type="application/json" id="ww-data">{cfg}</script>\n</body>\n</html>\n'
    )


def logout_page(static_base: str = "/static") -> str:
    """Clears the token (localStorage and cookie) and goes to the login page."""
    root = _e(static_base.rstrip("/"))
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>退出登录</title>\n'
        f'<script src="{root}/weiwang/logout.js" defer></script>\n</head>\n<body>\n'
        '<p id="ww-msg">正在退出登录…</p>\n</body>\n</html>\n'
    )


def stats_page(
    h: Hierarchy,
    community_code: str,
    *,
    user: Mapping[str, Any],
    people: Sequence[Post],
    start: str,
    end: str,
    api_base: str = "/api/v1",
    static_base: str = "/static",
    basemap: str = "none",
    tianditu_key: str = "",
) -> str:
    """The leaders' dashboard (考核看板) of one community: 结案率, 按期结案率, 返工, median handling time
    and 督办次数 per general grid, micro-grid and handler over a chosen period, a choropleth of one
    indicator per micro-grid and a weekly trend. Every figure comes from ``GET {api_base}/stats``
    (``stats.js``), so the page and the API cannot disagree. ``start``/``end``: ISO dates ``[start, end)``.
    """
    base = make_basemap(basemap, tianditu_key=tianditu_key)
    community = _community(h, community_code)
    fc, _generals = grid_features(h, community_code, crs=base.overlay_crs)
    names = {f["properties"]["code"]: f["properties"]["name"] for f in fc["features"]}
    title = f"{community.name} · 考核看板"
    indicators = (
        ("close_rate", "结案率"),
        ("on_time_rate", "按期结案率"),
        ("rework", "返工"),
        ("median_handling_hours", "办理时长中位数（小时）"),
        ("supervised", "督办次数"),
    )
    choices = "".join(f'<option value="{_e(k)}">{_e(v)}</option>' for k, v in indicators)
    table = (
        "<thead><tr><th>名称</th><th>应结案</th><th>结案率</th><th>按期结案率</th><th>返工</th>"
        "<th>时长中位数</th><th>督办</th></tr></thead><tbody></tbody>"
    )
    panel = (
        f'<h1 class="ww-title">{_e(title)}</h1>'
        f'<p class="ww-muted"><a href="/maps/incidents/{quote(community.code, safe="")}">事件办理</a></p>'
        '<div id="ww-msg" class="ww-msg" role="status" aria-live="polite"></div>'
        '<section class="ww-qfilters"><h2>统计期</h2>'
        f'<label>自<input type="date" id="ww-s-from" value="{_e(start)}"></label>'
        f'<label>至（不含）<input type="date" id="ww-s-to" value="{_e(end)}"></label>'
        '<button type="button" class="ww-btn" id="ww-s-apply">统计</button>'
        '<p class="ww-muted">结案率 = 结案数 ÷（应结案数 − 缓办数）；'
        "按期结案率 = 按期结案数 ÷（应结案数 − 缓办数）；"
        "按期结案的事件在结案时即计入应结案数。</p></section>"
        '<section><h2>全社区</h2><div id="ww-s-total" class="ww-summary"></div></section>'
        f'<section><h2>专题图</h2><label>指标<select id="ww-s-theme">{choices}</select></label>'
        '<ul id="ww-s-legend" class="ww-s-legend"></ul></section>'
        '<section><h2>每周趋势</h2><div id="ww-s-trend" class="ww-s-trend"></div></section>'
        f'<section><h2>一般网格</h2><table class="ww-table" id="ww-s-general">{table}</table></section>'
        f'<section><h2>微网格</h2><table class="ww-table" id="ww-s-micro">{table}</table></section>'
        f'<section><h2>处置人</h2><table class="ww-table" id="ww-s-handler">{table}</table></section>'
    )
    data = {
        "page": "stats",
        "community": {"code": community.code, "name": community.name},
        "api": api_base.rstrip("/"),
        "login": "/maps/login",
        "user": dict(user),
        "style": js_style(),
        "names": names,
        "people": {p.person_id: p.name for p in people},
        "indicators": dict(indicators),
        "grids": fc,
    }
    return _page(
        title=title,
        community=community,
        panel=panel,
        data=data,
        script="stats.js",
        start="wwStats",
        static_base=static_base,
        base=base,
        user=user,
        css="workspace.css",
    )
